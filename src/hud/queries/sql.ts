// Shared pieces of the HUD's read queries. Parameters always travel as ClickHouse query parameters
// ({name:Type}); only the database name (a validated identifier) and table names are spliced in.
import type { HudDatabase } from "../clickhouse.js";
import { DISPATCHES_TABLE, RESULTS_TABLE } from "../migrations.js";
import { clickHouseTime } from "../rows.js";

export interface Window {
  from: number;
  to: number;
}

/** Runs a read and returns its rows (JSONEachRow). */
export async function select<T>(db: HudDatabase, query: string, params: Record<string, unknown>): Promise<T[]> {
  const result = await db.client.query({ query, query_params: params, format: "JSONEachRow" });
  return result.json<T>();
}

export function windowParams(window: Window): { from: string; to: string } {
  return { from: clickHouseTime(window.from), to: clickHouseTime(window.to) };
}

export const TIME_PARAM = "DateTime64(3, 'UTC')";

/** `column` within the window's {from} and {to} parameters (see windowParams). */
export const inWindow = (column: string): string => `${column} >= {from:${TIME_PARAM}} AND ${column} < {to:${TIME_PARAM}}`;
/** Every backend when the {repo} parameter is empty, else the one named. */
export const FOR_REPO = "(empty({repo:String}) OR downstream_repo = {repo:String})";

/** Infra failure: the job could not run properly (timed out, or the downstream blamed runner/device/network). */
export const INFRA_FAILURE = "(conclusion = 'timed_out' OR (status = 'completed' AND failure_kind = 'infra'))";
/** Test failure: a failure not blamed on infrastructure (test, upstream, unknown or unmarked). */
export const TEST_FAILURE = "(conclusion = 'failure' AND ifNull(failure_kind, '') != 'infra')";

/**
 * The latest attempt of every job matching `where` (columns of the results table, read with FINAL so
 * each attempt is its newest version). A re-run's attempt replaces the earlier one; a job is
 * (delivery, downstream repo, run, job name).
 */
export function latestAttempts(db: string, where: string, columns = "*"): string {
  return `SELECT ${columns} FROM ${db}.${RESULTS_TABLE} FINAL
    WHERE ${where}
    ORDER BY run_attempt DESC
    LIMIT 1 BY delivery_id, downstream_repo, run_id, job_name`;
}

export function dispatchRows(db: string, where: string, columns = "*"): string {
  // A closing notice (action closed) asks a backend for no CI run: it is neither a dispatch a backend can
  // be waiting on nor one it can fail to serve, so no HUD figure counts it.
  return `SELECT ${columns} FROM ${db}.${DISPATCHES_TABLE} FINAL WHERE (${where}) AND action != 'closed'`;
}

/** Row columns that become a JobCell (see cells.ts). */
export const CELL_COLUMNS = `downstream_repo, backend_name, level, upstream_repo, pr_number, head_sha, delivery_id, event_type,
  workflow_name, workflow_url, run_id, run_attempt, job_name, job_url, status, conclusion, failure_kind, summary,
  queue_ms, execution_ms, first_report_at, relay_started_at, tests_total, tests_passed, tests_failed, tests_skipped,
  failed_tests, artifact_url, environment`;

/** ClickHouse `YYYY-MM-DD hh:mm:ss.sss` (UTC) → ISO-8601. */
export function isoTime(text: string): string;
export function isoTime(text: string | null): string | null;
export function isoTime(text: string | null): string | null {
  return text === null ? null : `${text.replace(" ", "T")}Z`;
}

/** 64-bit integers arrive as strings from a server (JSON quoting) and as numbers from chDB. */
export function num(value: number | string): number;
export function num(value: number | string | null): number | null;
export function num(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
