// Reads of individual rows: latest job attempts (as JobCells with their identity) and dispatch-log
// rows, for the grids and the PR view. Assembly happens in grid.ts and pr-view.ts (pure).
import type { TrunkJobResult } from "../../domain/trunk-baseline.js";
import type { HudDatabase } from "../clickhouse.js";
import type { PageRequest, RowKey } from "../grid.js";
import type { JobCell } from "../views.js";
import { CELL_COLUMNS, dispatchRows, isoTime, latestAttempts, num, select } from "./sql.js";

/** A latest job attempt with what identifies where it belongs. */
export interface JobRow {
  downstreamRepo: string;
  backendName: string;
  level: string;
  prNumber: number | null;
  headSha: string;
  deliveryId: string;
  eventType: string;
  /** Epoch ms of first_report_at, for ordering. */
  at: number;
  cell: JobCell;
}

export interface DispatchRow {
  deliveryId: string;
  downstreamRepo: string;
  backendName: string;
  level: string;
  eventType: string;
  prNumber: number | null;
  headSha: string;
  outcome: "pending" | "sent" | "skipped" | "failed" | "dead";
  reason: string;
  createdAt: number;
  title: string;
  author: string;
}

interface JobRowColumns {
  downstream_repo: string;
  backend_name: string;
  level: string;
  pr_number: number | string;
  head_sha: string;
  delivery_id: string;
  event_type: string;
  workflow_name: string;
  workflow_url: string;
  run_attempt: number | string;
  job_name: string;
  job_url: string | null;
  status: "in_progress" | "completed";
  conclusion: string | null;
  failure_kind: string | null;
  summary: string | null;
  queue_ms: number | null;
  execution_ms: number | null;
  first_report_at: string;
  first_report_ms: number | string;
  relay_started_at: string | null;
  tests_total: number | null;
  tests_passed: number | null;
  tests_failed: number | null;
  tests_skipped: number | null;
  failed_tests: string[];
  artifact_url: string | null;
  environment: Record<string, string>;
}

/** Which rows a history grid reads: conditions on the results table and on the dispatch log. */
export interface GridScope {
  jobs: string;
  dispatches: string;
}

interface RowKeyColumns {
  pr_number: number | string;
  head_sha: string;
  at_ms: number | string;
}

/**
 * The keys of a grid page's rows, at most `limit`: the rows (PR number, head sha) with a latest job
 * attempt or a dispatch not skipped in `scope`, each at its earliest time, ordered by (time, PR number,
 * sha) — newest first for the newest page and `before`, oldest first for `after` — starting past the
 * cursor. One aggregate over the scope (a window), read once per page; no offset.
 */
export async function gridRowKeys(db: HudDatabase, scope: GridScope, params: Record<string, unknown>, request: PageRequest, limit: number): Promise<RowKey[]> {
  const cursor = "before" in request ? request.before : "after" in request ? request.after : undefined;
  const past = cursor === undefined ? "" : `HAVING (at_ms, pr_number, head_sha) ${"after" in request ? ">" : "<"} ({cursorAt:Int64}, {cursorPr:UInt32}, {cursorSha:String})`;
  const order = "after" in request ? "ASC" : "DESC";
  const rows = await select<RowKeyColumns>(
    db,
    `SELECT pr_number, head_sha, min(at) AS at_ms
      FROM (
        SELECT pr_number, head_sha, toUnixTimestamp64Milli(created_at) AS at
        FROM (${dispatchRows(db.database, `(${scope.dispatches}) AND outcome != 'skipped'`, "pr_number, head_sha, created_at")})
        UNION ALL
        SELECT pr_number, head_sha, toUnixTimestamp64Milli(first_report_at) AS at
        FROM (${latestAttempts(db.database, scope.jobs, "pr_number, head_sha, first_report_at, delivery_id, downstream_repo, run_id, run_attempt, job_name")})
      )
      GROUP BY pr_number, head_sha
      ${past}
      ORDER BY at_ms ${order}, pr_number ${order}, head_sha ${order}
      LIMIT {limit:UInt32}`,
    { ...params, ...(cursor && { cursorAt: cursor.at, cursorPr: cursor.prNumber, cursorSha: cursor.headSha }), limit },
  );
  return rows.map((row) => ({ at: num(row.at_ms), prNumber: num(row.pr_number), headSha: row.head_sha }));
}

/** Latest attempts matching `where` (with `params`), newest first, at most `limit`. */
export async function jobRows(db: HudDatabase, where: string, params: Record<string, unknown>, limit: number): Promise<JobRow[]> {
  const rows = await select<JobRowColumns>(
    db,
    `SELECT *, toUnixTimestamp64Milli(first_report_at) AS first_report_ms
      FROM (${latestAttempts(db.database, where, CELL_COLUMNS)})
      ORDER BY first_report_at DESC, job_name
      LIMIT {limit:UInt32}`,
    { ...params, limit },
  );
  return rows.map((row) => ({
    downstreamRepo: row.downstream_repo,
    backendName: row.backend_name,
    level: row.level,
    prNumber: num(row.pr_number) || null,
    headSha: row.head_sha,
    deliveryId: row.delivery_id,
    eventType: row.event_type,
    at: num(row.first_report_ms),
    cell: {
      workflowName: row.workflow_name,
      jobName: row.job_name,
      status: row.status,
      conclusion: row.conclusion,
      failureKind: row.failure_kind,
      runAttempt: num(row.run_attempt),
      jobUrl: row.job_url,
      workflowUrl: row.workflow_url,
      queueMs: row.queue_ms,
      executionMs: row.execution_ms,
      tests:
        row.tests_total === null
          ? null
          : { total: row.tests_total, passed: row.tests_passed ?? 0, failed: row.tests_failed ?? 0, skipped: row.tests_skipped ?? 0 },
      failedTests: row.failed_tests,
      summary: row.summary,
      artifactUrl: row.artifact_url,
      environment: row.environment,
      startedAt: isoTime(row.relay_started_at),
      firstReportAt: isoTime(row.first_report_at),
    },
  }));
}

interface DispatchColumns {
  delivery_id: string;
  downstream_repo: string;
  backend_name: string;
  level: string;
  event_type: string;
  pr_number: number | string;
  head_sha: string;
  outcome: DispatchRow["outcome"];
  reason: string;
  created_ms: number | string;
  title: string;
  author: string;
}

/** Dispatch-log rows matching `where`, newest first, at most `limit`. */
export async function dispatchLogRows(db: HudDatabase, where: string, params: Record<string, unknown>, limit: number): Promise<DispatchRow[]> {
  const rows = await select<DispatchColumns>(
    db,
    `SELECT delivery_id, downstream_repo, backend_name, level, event_type, pr_number, head_sha, outcome, reason,
        toUnixTimestamp64Milli(created_at) AS created_ms, title, author
      FROM (${dispatchRows(db.database, where)})
      ORDER BY created_at DESC
      LIMIT {limit:UInt32}`,
    { ...params, limit },
  );
  return rows.map((row) => ({
    deliveryId: row.delivery_id,
    downstreamRepo: row.downstream_repo,
    backendName: row.backend_name,
    level: row.level,
    eventType: row.event_type,
    prNumber: num(row.pr_number) || null,
    headSha: row.head_sha,
    outcome: row.outcome,
    reason: row.reason,
    createdAt: num(row.created_ms),
    title: row.title,
    author: row.author,
  }));
}

/** The latest completed trunk result of one job of a backend. */
export interface TrunkRow {
  downstreamRepo: string;
  workflowName: string;
  jobName: string;
  result: TrunkJobResult;
}

interface TrunkColumns {
  downstream_repo: string;
  workflow_name: string;
  job_name: string;
  head_sha: string;
  conclusion: string;
  failed_tests: string[];
  job_url: string | null;
  workflow_url: string;
  commit_ms: number | string;
}

/**
 * The latest completed result of each (downstream repo, workflow, job) among the rows matching `where`
 * (latest attempts), at most `limit`. "Latest" is by the commit's first report on that backend, not by
 * the row's own: a re-run on an older commit, reported later, does not replace a newer commit's result.
 * The results table has no dispatch time, so the first report stands for it (dispatchedAt).
 */
export async function trunkRows(db: HudDatabase, where: string, params: Record<string, unknown>, limit: number): Promise<TrunkRow[]> {
  // The window function sees every attempt matching `where`, before LIMIT BY keeps the latest ones.
  const columns = `downstream_repo, workflow_name, job_name, head_sha, status, conclusion, failed_tests, job_url, workflow_url,
    delivery_id, run_id, run_attempt, first_report_at, min(first_report_at) OVER (PARTITION BY downstream_repo, head_sha) AS commit_at`;
  const rows = await select<TrunkColumns>(
    db,
    `SELECT downstream_repo, workflow_name, job_name, head_sha, conclusion, failed_tests, job_url, workflow_url,
        toUnixTimestamp64Milli(commit_at) AS commit_ms
      FROM (${latestAttempts(db.database, where, columns)})
      WHERE status = 'completed' AND conclusion IS NOT NULL
      ORDER BY commit_at DESC, first_report_at DESC
      LIMIT 1 BY downstream_repo, workflow_name, job_name
      LIMIT {limit:UInt32}`,
    { ...params, limit },
  );
  return rows.map((row) => ({
    downstreamRepo: row.downstream_repo,
    workflowName: row.workflow_name,
    jobName: row.job_name,
    result: {
      headSha: row.head_sha,
      conclusion: row.conclusion,
      failedTests: row.failed_tests,
      url: row.job_url || row.workflow_url || undefined,
      dispatchedAt: num(row.commit_ms),
    },
  }));
}
