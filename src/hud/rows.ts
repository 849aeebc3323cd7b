// The queued HUD rows (as the store keeps them: JSON, times in epoch ms) → the rows inserted into
// ClickHouse (JSONEachRow, times as DateTime64(3, 'UTC') text). The one parser of queued rows: a row
// that does not match is refused here, with the reason, and never sent.
import { z } from "zod";
import { describeIssues } from "../schemas/describe-issues.js";
import type { HudTarget } from "../store/store.js";

/** Epoch ms → `YYYY-MM-DD hh:mm:ss.sss`, which DateTime64(3, 'UTC') parses whatever the server's settings. */
export function clickHouseTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

const EpochMs = z.int().nonnegative();
const Time = EpochMs.transform(clickHouseTime);
const OptionalTime = Time.nullable().default(null);
/** Downstream-reported timestamps are ISO-8601 text (the callback schema checked them). */
const ReportedTime = z
  .string()
  .transform((text, ctx) => {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: "is not a timestamp" });
      return z.NEVER;
    }
    return clickHouseTime(ms);
  })
  .nullable()
  .default(null);
const Count = z.int().nonnegative().nullable().default(null);
const Text = z.string().nullable().default(null);

const ResultQueueRow = z.object({
  upstream_repo: z.string().min(1),
  // Pushes and self-reports have no PR: 0 in ClickHouse, where sorting-key columns are not nullable.
  pr_number: z.int().nonnegative().nullable().transform((value) => value ?? 0),
  head_sha: z.string().min(1),
  delivery_id: z.string().min(1),
  downstream_repo: z.string().min(1),
  backend_name: z.string().min(1),
  level: z.string().min(1),
  event_type: z.string().min(1),
  workflow_name: z.string(),
  workflow_url: z.string(),
  run_id: z.int().positive(),
  run_attempt: z.int().positive(),
  job_name: z.string().min(1),
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
  failed_tests: z.array(z.string()).default([]),
  artifact_url: Text,
  environment: z.record(z.string(), z.string()).default({}),
  version: EpochMs,
});

/**
 * A dispatch-log snapshot as the store queues it (DispatchLogEntry + hudVersion); optional fields are
 * absent, or null in snapshots the store's migration built in SQL.
 */
const DispatchQueueRow = z
  .object({
    deliveryId: z.string().min(1),
    downstreamRepo: z.string().min(1),
    upstreamRepo: z.string().min(1),
    event: z.enum(["pull_request", "push"]),
    action: z.string().nullish(),
    prNumber: z.int().nonnegative().nullish(),
    headSha: z.string().min(1),
    backendName: z.string().min(1),
    level: z.string().min(1),
    outcome: z.enum(["pending", "sent", "skipped", "failed", "dead"]),
    reason: z.string().nullish(),
    attempts: z.int().nonnegative(),
    createdAt: EpochMs,
    sentAt: EpochMs.nullish(),
    title: z.string().nullish(),
    author: z.string().nullish(),
    hudVersion: z.int().positive(),
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

const PARSERS: Record<HudTarget, z.ZodType<InsertRow, unknown>> = { results: ResultQueueRow, dispatches: DispatchQueueRow };

export function parseQueuedRow(target: HudTarget, row: unknown): ParsedQueueRow {
  const parsed = PARSERS[target].safeParse(row);
  if (parsed.success) return { ok: true, row: parsed.data };
  return { ok: false, error: describeIssues(parsed.error, "row") };
}
