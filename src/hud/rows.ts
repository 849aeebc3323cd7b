// The queued HUD rows (as the store keeps them: JSON, times in epoch ms) → the rows inserted into
// ClickHouse (JSONEachRow, times as DateTime64(3, 'UTC') text). The one parser of queued rows: a row
// that does not match is refused here, with the reason, and never sent. Whatever wrote the row (callbacks,
// webhooks' PR titles and authors), its strings leave here well-formed and its numbers fit their columns.
import { z } from "zod";
import { describeIssues } from "../validation/describe-issues.js";
import { wellFormed } from "../validation/well-formed.js";
import type { HudTarget } from "../store/store.js";
import { UINT32_MAX, uint32 } from "./column-types.js";

/** Epoch ms → `YYYY-MM-DD hh:mm:ss.sss`, which DateTime64(3, 'UTC') parses whatever the server's settings. */
export function clickHouseTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// ClickHouse parses four-digit years only ("+275760-09-13 …" is CANNOT_PARSE_DATETIME).
const MIN_TIME_MS = Date.parse("0000-01-01T00:00:00Z");
const MAX_TIME_MS = Date.parse("9999-12-31T23:59:59.999Z");
const EpochMs = z.int().nonnegative().max(MAX_TIME_MS);
const Time = EpochMs.transform(clickHouseTime);
const OptionalTime = Time.nullable().default(null);
/** Downstream-reported timestamps are ISO-8601 text (the callback schema checked them). */
const ReportedTime = z
  .string()
  .transform((text, ctx) => {
    const ms = Date.parse(text);
    if (!(ms >= MIN_TIME_MS && ms <= MAX_TIME_MS)) {
      ctx.addIssue({ code: "custom", message: "is not a timestamp between years 0000 and 9999" });
      return z.NEVER;
    }
    return clickHouseTime(ms);
  })
  .nullable()
  .default(null);
const Name = wellFormed(z.string()).min(1);
const AnyText = wellFormed(z.string());
const Text = AnyText.nullable().default(null);
const Count = uint32().nullable().default(null);

const ResultQueueRow = z.object({
  upstream_repo: Name,
  // Pushes and self-reports have no PR: 0 in ClickHouse, where sorting-key columns are not nullable.
  pr_number: uint32().nullable().transform((value) => value ?? 0),
  head_sha: Name,
  delivery_id: Name,
  downstream_repo: Name,
  backend_name: Name,
  level: Name,
  event_type: Name,
  workflow_name: AnyText,
  workflow_url: AnyText,
  run_id: z.int().positive(),
  run_attempt: uint32().positive(),
  job_name: Name,
  job_url: Text,
  status: z.enum(["in_progress", "completed"]),
  conclusion: Text,
  failure_kind: Text,
  summary: Text,
  queue_ms: Count,
  execution_ms: Count,
  first_report_at: Time,
  relay_started_at: OptionalTime,
  relay_completed_at: OptionalTime,
  reported_started_at: ReportedTime,
  reported_completed_at: ReportedTime,
  tests_total: Count,
  tests_passed: Count,
  tests_failed: Count,
  tests_skipped: Count,
  failed_tests: z.array(AnyText).default([]),
  artifact_url: Text,
  environment: z.record(AnyText, AnyText).default({}),
  version: EpochMs,
});

/**
 * A dispatch-log snapshot as the store queues it (DispatchLogEntry + hudVersion); optional fields are
 * absent, or null in snapshots the store's migration built in SQL.
 */
const DispatchQueueRow = z
  .object({
    deliveryId: Name,
    downstreamRepo: Name,
    upstreamRepo: Name,
    event: z.enum(["pull_request", "push"]),
    action: AnyText.nullish(),
    prNumber: uint32().nullish(),
    headSha: Name,
    backendName: Name,
    level: Name,
    outcome: z.enum(["pending", "sent", "skipped", "failed", "dead"]),
    reason: AnyText.nullish(),
    attempts: uint32(),
    createdAt: EpochMs,
    sentAt: EpochMs.nullish(),
    title: AnyText.nullish(),
    author: AnyText.nullish(),
    hudVersion: z.int().positive(),
  })
  .refine((entry) => entry.sentAt == null || entry.sentAt - entry.createdAt <= UINT32_MAX, {
    path: ["sentAt"],
    message: `is more than ${UINT32_MAX} ms after createdAt (send_ms is a UInt32)`,
  })
  .transform((entry) => ({
    delivery_id: entry.deliveryId,
    downstream_repo: entry.downstreamRepo.toLowerCase(),
    upstream_repo: entry.upstreamRepo.toLowerCase(),
    event_type: entry.event,
    action: entry.action ?? "",
    pr_number: entry.prNumber ?? 0,
    head_sha: entry.headSha,
    backend_name: entry.backendName,
    level: entry.level,
    outcome: entry.outcome,
    reason: entry.reason ?? "",
    attempts: entry.attempts,
    created_at: clickHouseTime(entry.createdAt),
    sent_at: entry.sentAt == null ? null : clickHouseTime(entry.sentAt),
    send_ms: entry.sentAt == null ? null : Math.max(0, entry.sentAt - entry.createdAt),
    title: entry.title ?? "",
    author: entry.author ?? "",
    version: entry.hudVersion,
  }));

export type InsertRow = Record<string, unknown>;

export type ParsedQueueRow = { ok: true; row: InsertRow } | { ok: false; error: string };

/** The queued rows the HUD writer drains: one per HUD table (the store's other targets have drainers of their own). */
export const HUD_TABLE_TARGETS = ["results", "dispatches"] as const satisfies readonly HudTarget[];
export type HudTableTarget = (typeof HUD_TABLE_TARGETS)[number];

const PARSERS: Record<HudTableTarget, z.ZodType<InsertRow, unknown>> = { results: ResultQueueRow, dispatches: DispatchQueueRow };

export function parseQueuedRow(target: HudTableTarget, row: unknown): ParsedQueueRow {
  const parsed = PARSERS[target].safeParse(row);
  if (parsed.success) return { ok: true, row: parsed.data };
  return { ok: false, error: describeIssues(parsed.error, "row") };
}
