// zod schemas for the leaves of allowlist.yml. parse.ts walks the YAML structure and validates each
// leaf with these, mapping issue paths back to YAML nodes. Messages name no key: parse.ts prefixes
// the key they belong to ("block_pr: must be true or false; found \"yes\"").
import { z } from "zod";
import { DISPLAY_ON_PR } from "./types.js";
import type { LevelRequirements } from "./types.js";

/** Backend names appear in labels (`ciflow/oot/<name>`) and check-run names. */
export const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,38}$/;

// A user login, optionally followed by /team-slug; the leading "@" is optional in the file.
const ONCALL_HANDLE = /^@?[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:\/[A-Za-z0-9._-]+)?$/;

/** A value as a message quotes it: strings in JSON quotes, lists and maps by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}

export const BackendNameSchema = z
  .string({ error: (iss) => `must be a string; found ${describeValue(iss.input)}` })
  .regex(BACKEND_NAME, {
    error: (iss) =>
      `${describeValue(iss.input)} is not a valid backend name: start with a letter or digit, then use only ` +
      "letters, digits, '.', '_' or '-', at most 39 characters (it becomes the label ciflow/oot/<name>)",
  });

/** One handle, `@` optional; an empty string stands for an empty comma-separated part and is dropped later. */
export const OncallHandleSchema = z
  .string({
    error: (iss) =>
      `oncall handles are strings; found ${describeValue(iss.input)}` +
      (typeof iss.input === "number" ? ` (quote it: "${iss.input}")` : ""),
  })
  .trim()
  .refine((handle) => handle === "" || ONCALL_HANDLE.test(handle), {
    error: (iss) =>
      `${describeValue(iss.input)} is not a GitHub handle; write a user (@alice) or a team (@org/team), separated by commas`,
  })
  .transform((handle) => handle.replace(/^@/, ""));

/** `"@alice, bob"` or `[alice, "@org/team"]` → `["alice", "org/team"]`. */
export const OncallsSchema = z
  .preprocess(
    (value) => (typeof value === "string" ? value.split(",") : value),
    z.array(OncallHandleSchema, {
      error: (iss) =>
        `must be a comma-separated string like "@alice, bob" or a list of handles; found ${describeValue(iss.input)}`,
    }),
  )
  .transform((handles) => [...new Set(handles.filter((handle) => handle !== ""))]);

function flag() {
  return z.boolean({ error: (iss) => `must be true or false; found ${describeValue(iss.input)}` });
}

/** Options of one repo entry: `owner/repo: {oncalls, name, <policy fields>}`. */
export const EntryOptionsSchema = z.strictObject({
  oncalls: OncallsSchema.optional(),
  name: BackendNameSchema.optional(),
  forward_event: flag().optional(),
  display_on_hud: flag().optional(),
  display_on_pr: z
    .enum(DISPLAY_ON_PR, {
      error: (iss) => `must be always, label_only or never; found ${describeValue(iss.input)}`,
    })
    .optional(),
  block_pr: flag().optional(),
  /** Accept the production relay's callback body from this repo (migration from it; docs/pytorch.md). */
  legacy_callbacks: flag().optional(),
});
export type EntryOptions = z.output<typeof EntryOptionsSchema>;

export const VersionSchema = z.literal(1, {
  error: (iss) => `must be 1 (the only allowlist format version); found ${describeValue(iss.input)}`,
});

/** A number-valued leaf: `convert` returns the value, or a message saying what is wrong. */
function numberLeaf(convert: (input: unknown) => number | string) {
  return z.unknown().transform((input, ctx) => {
    const result = convert(input);
    if (typeof result === "number") return result;
    ctx.addIssue({ code: "custom", message: result, input });
    return z.NEVER;
  });
}

const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/;
const RATE_RANGE = "must be between 0 and 1 (a fraction) or between 0% and 100%";

/** `0.9` or `"90%"` → 0.9. */
function toFraction(input: unknown): number | string {
  if (typeof input === "number") {
    if (input > 1 && input <= 100) return `${input} is more than 1; write ${input}% or ${input / 100}`;
    return input >= 0 && input <= 1 ? input : `${input} ${RATE_RANGE}`;
  }
  const percent = typeof input === "string" ? PERCENT.exec(input.trim()) : null;
  if (!percent) return `${describeValue(input)} is not a rate; write a fraction like 0.9 or a percent like "90%"`;
  const value = Number(percent[1]);
  return value <= 100 ? value / 100 : `${describeValue(input)} ${RATE_RANGE}`;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*([smhd])$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `"45s"`, `"30m"`, `"1.5h"`, `"2d"` → seconds. */
function toSeconds(input: unknown): number | string {
  if (typeof input === "number") return `${input} has no unit; give a unit, e.g. 30m (s, m, h or d)`;
  const match = typeof input === "string" ? DURATION.exec(input.trim()) : null;
  if (!match) return `${describeValue(input)} is not a duration; write a number and a unit: 45s, 30m, 1.5h or 2d`;
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? ""] ?? 0);
  return seconds > 0 ? seconds : `${describeValue(input)} must be more than zero`;
}

function toDays(input: unknown): number | string {
  return Number.isInteger(input) && (input as number) > 0
    ? (input as number)
    : `must be a whole number of days, 1 or more; found ${describeValue(input)}`;
}

export const RateSchema = numberLeaf(toFraction);
export const DurationSchema = numberLeaf(toSeconds);

/** How each requirement is written: the parser below, and formatThreshold (its inverse, for diffs). */
export const REQUIREMENT_KINDS = {
  min_infra_availability: "rate",
  min_test_pass_rate: "rate",
  min_success_rate: "rate",
  max_timeout_rate: "rate",
  max_queue_time_p50: "duration",
  max_queue_time_p90: "duration",
  max_run_time_p50: "duration",
  max_run_time_p90: "duration",
  max_pr_time_p90: "duration",
  min_signal_validity: "rate",
  window_days: "days",
} as const satisfies Record<keyof LevelRequirements, "rate" | "duration" | "days">;

/** A threshold as the allowlist would write it: 0.95 → "95%", 5400 → "1.5h", 7 days → "7". */
export function formatThreshold(key: keyof LevelRequirements, value: number): string {
  const round = (n: number) => String(Number(n.toFixed(2)));
  switch (REQUIREMENT_KINDS[key]) {
    case "rate":
      return `${round(value * 100)}%`;
    case "days":
      return String(value);
    case "duration":
      if (value % 86_400 === 0) return `${value / 86_400}d`;
      if (value >= 3600) return `${round(value / 3600)}h`;
      if (value >= 60) return `${round(value / 60)}m`;
      return `${round(value)}s`;
  }
}

/** Thresholds of one level; rates become fractions, durations seconds. */
export const LevelRequirementsSchema = z.strictObject({
  min_infra_availability: RateSchema.optional(),
  min_test_pass_rate: RateSchema.optional(),
  min_success_rate: RateSchema.optional(),
  max_timeout_rate: RateSchema.optional(),
  max_queue_time_p50: DurationSchema.optional(),
  max_queue_time_p90: DurationSchema.optional(),
  max_run_time_p50: DurationSchema.optional(),
  max_run_time_p90: DurationSchema.optional(),
  max_pr_time_p90: DurationSchema.optional(),
  min_signal_validity: RateSchema.optional(),
  window_days: numberLeaf(toDays).optional(),
}) satisfies z.ZodType<LevelRequirements>;
