// Callback body v1: what a downstream's `report-ci-result` action POSTs to /relay/callback. This schema is the
// downstream contract (published as docs/schemas/callback.v1.json); changing a field's meaning needs schema
// version 2. The body is untrusted: which PR and which sha a report is about come from the relay-signed ticket
// (or, for a self-report, from `nightly.upstream_sha`, which the relay checks upstream), never from other
// fields. Every field is bounded so a report always fits a check run (65,535 characters) and a HUD row: every
// string is made well-formed (no lone surrogates) and every number that ends in a ClickHouse column fits its type.
import { z } from "zod";
import { MAX_TICKET_LENGTH } from "../dispatch/ticket.js";
import { UINT32_MAX, uint32 } from "../hud/column-types.js";
import type { SchemaEntry } from "../validation/schema-entry.js";
import { wellFormed } from "../validation/well-formed.js";

export const CALLBACK_SCHEMA_VERSION = 1;

export const CALLBACK_STATUSES = ["in_progress", "completed"] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

/** The conclusions GitHub accepts for a completed check run. */
export const CHECK_CONCLUSIONS = [
  "success",
  "failure",
  "neutral",
  "cancelled",
  "skipped",
  "timed_out",
  "action_required",
] as const;
export type CheckConclusion = (typeof CHECK_CONCLUSIONS)[number];

/** `job`: a report about one job (the default). `run`: the run's final report, sent once by a last job. */
export const REPORT_SCOPES = ["job", "run"] as const;

export const FAILURE_KINDS = ["infra", "test", "upstream", "unknown"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export const MAX_WORKFLOW_NAME_LENGTH = 200;
export const MAX_JOB_NAME_LENGTH = 200;
/** Workflow and job URLs (GitHub's are < 150 characters). */
export const MAX_URL_LENGTH = 500;
/** Artifact links may be pre-signed object-store URLs, which run long. */
export const MAX_ARTIFACT_URL_LENGTH = 2048;
/** GitHub caps a check run's summary at 65,535 characters; the rest is kept for the relay's own framing. */
export const MAX_SUMMARY_LENGTH = 60_000;
export const MAX_FAILED_TESTS = 200;
export const MAX_FAILED_TEST_LENGTH = 500;
export const MAX_ENVIRONMENT_KEYS = 30;
export const MAX_ENVIRONMENT_KEY_LENGTH = 50;
export const MAX_ENVIRONMENT_VALUE_LENGTH = 200;
export const MAX_NIGHTLY_EVENT_LENGTH = 50;
/** At most this many problems are listed in a parse failure message; the rest are counted. */
export const MAX_REPORTED_PROBLEMS = 20;

const HTTP_URL = { protocol: /^https?$/, message: "must be an absolute http(s) URL" } as const;
const Timestamp = wellFormed(
  z.iso.datetime({
    offset: true,
    message: "must be an ISO-8601 timestamp with a time zone, such as 2026-01-31T12:00:00Z",
  }),
);
/** Test counts end in UInt32 columns of the HUD. */
const Count = uint32();
/** Every string field of the body: lone surrogates become U+FFFD (the HUD's ClickHouse refuses them). */
const textField = () => wellFormed(z.string());
// A schema-level message (as on z.url) would also replace the length message, so the cap names its own.
const urlField = (max: number) => wellFormed(z.url(HTTP_URL).max(max, { message: `too long (max ${max})` }));

const Workflow = z
  .strictObject({
    name: textField().min(1).max(MAX_WORKFLOW_NAME_LENGTH).describe("Name of the downstream workflow (github.workflow)."),
    run_id: z.int().positive().describe("The downstream workflow run's id (github.run_id)."),
    run_attempt: z
      .int()
      .positive()
      .max(UINT32_MAX)
      .describe("The run's attempt (github.run_attempt), starting at 1; a re-run reports a new attempt, which is a new job."),
    url: urlField(MAX_URL_LENGTH).describe("Web URL of the downstream workflow run."),
  })
  .describe("The downstream workflow run this report comes from.");

const Job = z
  .strictObject({
    name: textField()
      .min(1)
      .max(MAX_JOB_NAME_LENGTH)
      .describe(
        "Name of the job, shown in the check run `<prefix> / <backend> / <workflow> / <job>`. Must be distinct per matrix leg (include the matrix values, e.g. `test (npu, 2)`): reports with the same workflow run, attempt and job name are the same job.",
      ),
    url: urlField(MAX_URL_LENGTH).optional().describe("Web URL of the job's log; defaults to the workflow run's URL."),
  })
  .describe("The job within the workflow run this report is about.");

const Tests = z
  .strictObject({
    total: Count.describe("Number of tests collected."),
    passed: Count.describe("Tests that passed."),
    failed: Count.describe("Tests that failed."),
    skipped: Count.describe("Tests that were skipped or deselected."),
    errors: Count.optional().describe("Tests that errored (setup/teardown or collection errors), when counted apart from failed."),
  })
  .superRefine((tests, ctx) => {
    const counted = tests.passed + tests.failed + tests.skipped + (tests.errors ?? 0);
    if (counted > tests.total) {
      ctx.addIssue({
        code: "custom",
        message: `passed + failed + skipped${tests.errors === undefined ? "" : " + errors"} (${counted}) exceeds total (${tests.total})`,
      });
    }
  })
  .describe("Test counts. passed + failed + skipped (+ errors) must not exceed total.");

const EnvironmentKey = textField()
  .max(MAX_ENVIRONMENT_KEY_LENGTH, { message: `too long (max ${MAX_ENVIRONMENT_KEY_LENGTH})` })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
    message: "must start with a letter or digit and contain only letters, digits, '_', '.' and '-'",
  });

const Environment = z
  .record(EnvironmentKey, textField().max(MAX_ENVIRONMENT_VALUE_LENGTH))
  .refine((environment) => Object.keys(environment).length <= MAX_ENVIRONMENT_KEYS, {
    message: `too many entries (max ${MAX_ENVIRONMENT_KEYS})`,
  })
  .meta({ maxProperties: MAX_ENVIRONMENT_KEYS })
  .describe(
    `What the job ran on, e.g. {"sdk": "CANN 8.0", "device": "Ascend 910B", "driver": "24.1"}: at most ${MAX_ENVIRONMENT_KEYS} entries, keys of at most ${MAX_ENVIRONMENT_KEY_LENGTH} characters (letters, digits, '_', '.', '-'), values of at most ${MAX_ENVIRONMENT_VALUE_LENGTH}.`,
  );

const Nightly = z
  .strictObject({
    upstream_sha: textField()
      .regex(/^[0-9a-f]{40}$/, { message: "must be a 40-character lowercase hex commit sha" })
      .describe("The upstream commit that was tested; the relay checks that it exists in the upstream repository."),
    event: textField()
      .max(MAX_NIGHTLY_EVENT_LENGTH)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
        message: "must start with a letter or digit and contain only letters, digits, '_', '.' and '-'",
      })
      .describe('What started the run, e.g. "nightly", "periodic" or "push".'),
  })
  .describe(
    "Only for a self-report: a run the relay did not dispatch (nightly, periodic, …), sent without a ticket. Such reports must be completed and never create check runs.",
  );

const RunSummary = z
  .strictObject({
    jobs: Count.optional().describe("How many jobs the run had (all of them, including this one); the aggregate shows \"k of n jobs done\" with it."),
  })
  .describe("Only with scope run: what the run had.");

const BodyFields = z.strictObject({
  schema_version: z.literal(CALLBACK_SCHEMA_VERSION).describe("Version of this callback schema."),
  ticket: textField()
    .min(1)
    .max(MAX_TICKET_LENGTH)
    .optional()
    .describe(
      "The ticket from the dispatch payload, unchanged. Required when reporting on a dispatched run; absent for a self-report (then nightly is required).",
    ),
  status: z.enum(CALLBACK_STATUSES).describe("in_progress when the job starts (optional but gives queue time), completed when it ends."),
  conclusion: z
    .enum(CHECK_CONCLUSIONS)
    .optional()
    .describe("The job's result, one of GitHub's check-run conclusions. Required when status is completed; absent while in_progress."),
  workflow: Workflow,
  job: Job,
  summary: textField()
    .max(MAX_SUMMARY_LENGTH)
    .optional()
    .describe(`Markdown shown in the job's check run, at most ${MAX_SUMMARY_LENGTH} characters.`),
  failure_kind: z
    .enum(FAILURE_KINDS)
    .optional()
    .describe(
      "Why a job did not succeed: infra (runner, device or network unavailable), test (the change broke tests), upstream (upstream is broken regardless of the change), unknown. Infrastructure availability and test breakage are tracked apart.",
    ),
  tests: Tests.optional(),
  failed_tests: z
    .array(textField().min(1).max(MAX_FAILED_TEST_LENGTH))
    .max(MAX_FAILED_TESTS)
    .optional()
    .describe(
      `Names of failed tests (e.g. test/test_ops.py::TestOps::test_add), at most ${MAX_FAILED_TESTS} of at most ${MAX_FAILED_TEST_LENGTH} characters; send the first ${MAX_FAILED_TESTS} when more failed.`,
    ),
  artifact_url: urlField(MAX_ARTIFACT_URL_LENGTH)
    .optional()
    .describe("Web URL of the job's artifacts (logs, reports)."),
  environment: Environment.optional(),
  started_at: Timestamp.optional().describe(
    "When the job started, by the downstream's clock. Informational: the relay measures queue and execution time with its own clock.",
  ),
  completed_at: Timestamp.optional().describe(
    "When the job ended, by the downstream's clock. Informational: the relay measures queue and execution time with its own clock.",
  ),
  nightly: Nightly.optional(),
  scope: z
    .enum(REPORT_SCOPES)
    .optional()
    .describe(
      "job (default): this report is about one job. run: the run's final report, sent by a last job that `needs:` every other job and runs `if: always()`; status completed, the run's overall conclusion, and optionally run.jobs. The backend's aggregate check concludes only once the run is over (this report, or GitHub's own workflow_run event), so a job that finishes first never turns it green early.",
    ),
  run: RunSummary.optional(),
});

// The cross-field rules below cannot be expressed by zod's JSON Schema export; this states them in JSON Schema
// so that a downstream validating against docs/schemas/callback.v1.json sees them too.
const CROSS_FIELD_JSON_SCHEMA = {
  allOf: [
    {
      if: { properties: { status: { const: "completed" } }, required: ["status"] },
      then: { required: ["conclusion"] },
      else: { not: { required: ["conclusion"] } },
    },
    { oneOf: [{ required: ["ticket"] }, { required: ["nightly"] }] },
    { if: { required: ["nightly"] }, then: { properties: { status: { const: "completed" } } } },
    {
      if: { properties: { scope: { const: "run" } }, required: ["scope"] },
      then: { properties: { status: { const: "completed" } }, not: { required: ["nightly"] } },
      else: { not: { required: ["run"] } },
    },
  ],
};

/**
 * Callback body v1. Besides each field's own rules: conclusion is required exactly when status is completed;
 * exactly one of ticket (a dispatched run) and nightly (a self-report) is present; a self-report is completed;
 * a run-level report (scope run) is completed and carries a ticket; `run` comes only with scope run.
 */
export const CallbackBodyV1 = BodyFields.meta(CROSS_FIELD_JSON_SCHEMA).superRefine(checkCrossFields, {
  // Run even when some unrelated field has the wrong type, so one answer lists every problem.
  when: (payload) => isRecord(payload.value),
});

export type CallbackBody = z.infer<typeof CallbackBodyV1>;

/**
 * The same body bound to its dispatch by other means than a ticket (the production relay's callback:
 * src/callback/legacy.ts): neither ticket nor nightly, every other rule alike.
 */
const TicketlessBodyV1 = BodyFields.superRefine((value, ctx) => checkCrossFields(value, ctx, true), {
  when: (payload) => isRecord(payload.value),
});

/** Publishes the schema as docs/schemas/callback.v1.json (listed in SCHEMAS, src/schemas/export.ts). */
export const CALLBACK_SCHEMA_ENTRY: SchemaEntry = {
  file: "callback.v1.json",
  schema: CallbackBodyV1,
  title: "Cross-repo CI relay callback body v1",
  description:
    "Body of the POST a downstream workflow (the report-ci-result action) sends to the relay's /relay/callback to report a job's status and result.",
};

// Reads the fields defensively: with `when` above, other fields may hold anything.
function checkCrossFields(value: z.infer<typeof BodyFields>, ctx: z.RefinementCtx, ticketless = false): void {
  const body = value as Record<string, unknown>;
  const status = body.status;
  if (status === "completed" && body.conclusion === undefined) {
    ctx.addIssue({ code: "custom", path: ["conclusion"], message: "required when status is completed" });
  }
  if (status === "in_progress" && body.conclusion !== undefined) {
    ctx.addIssue({ code: "custom", path: ["conclusion"], message: "must be absent while status is in_progress" });
  }
  const hasTicket = body.ticket !== undefined;
  const hasNightly = body.nightly !== undefined;
  if (ticketless) {
    if (hasTicket || hasNightly) ctx.addIssue({ code: "custom", path: [], message: "a report bound without a ticket carries neither ticket nor nightly" });
  } else if (hasTicket === hasNightly) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: `exactly one of ticket and nightly must be present (ticket for a dispatched run, nightly for a self-report without a dispatch); got ${hasTicket ? "both" : "neither"}`,
    });
  }
  if (hasNightly && status === "in_progress") {
    ctx.addIssue({ code: "custom", path: ["status"], message: "must be completed for a nightly self-report" });
  }
  if (body.scope === "run") {
    if (status === "in_progress") ctx.addIssue({ code: "custom", path: ["status"], message: "must be completed for a run-level report (scope run)" });
    if (hasNightly) ctx.addIssue({ code: "custom", path: ["scope"], message: "a nightly self-report is about jobs; scope run is for a dispatched run" });
  } else if (body.run !== undefined) {
    ctx.addIssue({ code: "custom", path: ["run"], message: "only with scope run" });
  }
}

export type CallbackParseResult =
  | { ok: true; body: CallbackBody }
  | {
      ok: false;
      /** Every problem as `path: message`, joined with "; " (at most MAX_REPORTED_PROBLEMS, then a count). */
      message: string;
      problems: string[];
    };

/** Validates an untrusted, already JSON-decoded body. Never throws; never echoes the body's values. */
export function parseCallbackBody(json: unknown, options: { ticketless?: boolean } = {}): CallbackParseResult {
  if (json === undefined) return invalid(["(body): expected an object, got nothing"]);
  let issues: readonly z.core.$ZodIssue[];
  try {
    const result = (options.ticketless ? TicketlessBodyV1 : CallbackBodyV1).safeParse(json, { error: issueMessage });
    if (result.success) return { ok: true, body: result.data };
    issues = result.error.issues;
  } catch {
    // Defensive: zod does not throw on JSON values, but a 400 beats a 500 if it ever does.
    return invalid(["(body): could not be validated"]);
  }
  return invalid(issues.flatMap(describeIssue));
}

function invalid(all: string[]): CallbackParseResult {
  const problems = all.length > 0 ? all : ["(body): invalid"];
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
  const more = problems.length - shown.length;
  const message = shown.join("; ") + (more > 0 ? `; … and ${more} more problem${more === 1 ? "" : "s"}` : "");
  return { ok: false, message, problems };
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.slice(0, MAX_REPORTED_PROBLEMS);
    const lines = keys.map((key) => `${formatPath([...issue.path, key])}: unknown field (not in callback schema v${CALLBACK_SCHEMA_VERSION})`);
    const more = issue.keys.length - keys.length;
    if (more > 0) lines.push(`${formatPath(issue.path)}: ${more} more unknown fields`);
    return lines;
  }
  if (issue.code === "invalid_key") {
    const reasons = issue.issues.map((inner) => inner.message).join(", ");
    return [`${formatPath(issue.path)}: invalid key: ${reasons}`];
  }
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

// Wording for zod's built-in issues (schema-level messages such as the URL one take precedence). Never
// includes the input's value, only its kind.
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "required";
      return `expected ${article(issue.expected === "int" ? "integer" : issue.expected)}, got ${kindOf(issue.input)}`;
    case "too_big":
      return tooBig(issue.origin, issue.maximum, issue.inclusive ?? true);
    case "too_small":
      return tooSmall(issue.origin, issue.minimum, issue.inclusive ?? true);
    case "invalid_value":
      if (issue.input === undefined) return "required";
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    default:
      return undefined;
  }
}

function tooBig(origin: string, maximum: number | bigint, inclusive: boolean): string {
  const max = inclusive ? maximum : `less than ${maximum}`;
  if (origin === "string") return `too long (max ${max})`;
  if (origin === "array" || origin === "set") return `too many items (max ${max})`;
  return inclusive ? `must be at most ${maximum}` : `must be less than ${maximum}`;
}

function tooSmall(origin: string, minimum: number | bigint, inclusive: boolean): string {
  if (origin === "string") return inclusive && Number(minimum) === 1 ? "must not be empty" : `too short (min ${minimum})`;
  if (origin === "array" || origin === "set") return `too few items (min ${minimum})`;
  if (!inclusive && Number(minimum) === 0) return "must be positive";
  return inclusive ? `must be at least ${minimum}` : `must be greater than ${minimum}`;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a fractional number";
  return article(typeof value);
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
const MAX_KEY_IN_MESSAGE = 40;

// `workflow.run_id`, `failed_tests[3]`, `environment."odd key…"`; keys from the body are cut short.
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(body)";
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      text += `[${segment}]`;
      continue;
    }
    let key = String(segment);
    if (key.length > MAX_KEY_IN_MESSAGE) key = `${key.slice(0, MAX_KEY_IN_MESSAGE)}…`;
    const shown = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
    text += text === "" ? shown : `.${shown}`;
  }
  return text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
