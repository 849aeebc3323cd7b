// Per-backend raw counts over a window: jobs (latest attempts) from the results table, and dispatch
// outcomes from the dispatch log joined with what each dispatch produced. Rates are derived in health.ts.
import type { HudDatabase } from "../clickhouse.js";
import { dispatchRows, FOR_REPO, INFRA_FAILURE, inWindow, latestAttempts, num, select, TEST_FAILURE, TIME_PARAM, windowParams, type Window } from "./sql.js";

export interface JobCounts {
  downstreamRepo: string;
  backendName: string;
  level: string;
  jobs: number;
  completed: number;
  succeeded: number;
  testFailures: number;
  infraFailures: number;
  timedOut: number;
  queue: { p50: number | null; p90: number | null; avg: number | null; samples: number };
  execution: { p50: number | null; p90: number | null; avg: number | null; samples: number };
  prs: number;
  lastRunAt: number | null;
}

export interface DispatchCounts {
  downstreamRepo: string;
  backendName: string;
  level: string;
  sent: number;
  failed: number;
  available: number;
  unavailable: number;
}

interface JobCountsRow {
  downstream_repo: string;
  backend_name: string;
  level: string;
  jobs: number | string;
  completed: number | string;
  succeeded: number | string;
  test_failures: number | string;
  infra_failures: number | string;
  timed_out: number | string;
  queue_p50: number | null;
  queue_p90: number | null;
  queue_avg: number | null;
  queue_samples: number | string;
  exec_p50: number | null;
  exec_p90: number | null;
  exec_avg: number | null;
  exec_samples: number | string;
  prs: number | string;
  last_run_ms: number | string | null;
}

/** Percentiles are exact (quantileExact: the value at rank ⌊q·n⌋ of the sorted samples). */
export async function jobCounts(db: HudDatabase, window: Window, downstreamRepo?: string): Promise<JobCounts[]> {
  const rows = await select<JobCountsRow>(
    db,
    `SELECT downstream_repo,
        argMax(backend_name, first_report_at) AS backend_name,
        argMax(level, first_report_at) AS level,
        count() AS jobs,
        countIf(status = 'completed') AS completed,
        countIf(conclusion = 'success') AS succeeded,
        countIf(${TEST_FAILURE}) AS test_failures,
        countIf(${INFRA_FAILURE}) AS infra_failures,
        countIf(conclusion = 'timed_out') AS timed_out,
        quantileExact(0.5)(queue_ms) AS queue_p50,
        quantileExact(0.9)(queue_ms) AS queue_p90,
        avg(queue_ms) AS queue_avg,
        count(queue_ms) AS queue_samples,
        quantileExactIf(0.5)(execution_ms, status = 'completed') AS exec_p50,
        quantileExactIf(0.9)(execution_ms, status = 'completed') AS exec_p90,
        avgIf(execution_ms, status = 'completed') AS exec_avg,
        countIf(execution_ms IS NOT NULL AND status = 'completed') AS exec_samples,
        uniqExactIf(pr_number, pr_number > 0) AS prs,
        toUnixTimestamp64Milli(max(first_report_at)) AS last_run_ms
      FROM (${latestAttempts(db.database, `${inWindow("first_report_at")} AND ${FOR_REPO}`)})
      GROUP BY downstream_repo
      ORDER BY downstream_repo`,
    { ...windowParams(window), repo: downstreamRepo?.toLowerCase() ?? "" },
  );
  return rows.map((row) => ({
    downstreamRepo: row.downstream_repo,
    backendName: row.backend_name,
    level: row.level,
    jobs: num(row.jobs),
    completed: num(row.completed),
    succeeded: num(row.succeeded),
    testFailures: num(row.test_failures),
    infraFailures: num(row.infra_failures),
    timedOut: num(row.timed_out),
    queue: { p50: num(row.queue_p50), p90: num(row.queue_p90), avg: roundOrNull(row.queue_avg), samples: num(row.queue_samples) },
    execution: { p50: num(row.exec_p50), p90: num(row.exec_p90), avg: roundOrNull(row.exec_avg), samples: num(row.exec_samples) },
    prs: num(row.prs),
    lastRunAt: num(row.last_run_ms),
  }));
}

interface DispatchCountsRow {
  downstream_repo: string;
  backend_name: string;
  level: string;
  sent: number | string;
  failed: number | string;
  available: number | string;
  unavailable: number | string;
}

/**
 * Infrastructure availability per backend. A sent dispatch is *available* when it produced jobs that
 * all completed without an infra failure, *unavailable* when the backend never reported (the sweeper's
 * `never_reported`) or any job timed out or failed for infrastructure; dispatches still running or
 * still inside the start timeout count as neither. Results are matched to the dispatch by delivery id.
 */
export async function dispatchCounts(db: HudDatabase, window: Window, downstreamRepo?: string): Promise<DispatchCounts[]> {
  const rows = await select<DispatchCountsRow>(
    db,
    `WITH produced AS (
        SELECT delivery_id, downstream_repo, count() AS jobs, countIf(status = 'in_progress') AS running, countIf(${INFRA_FAILURE}) AS infra
        FROM (${latestAttempts(db.database, `first_report_at >= {from:${TIME_PARAM}} AND ${FOR_REPO}`)})
        GROUP BY delivery_id, downstream_repo
      )
      SELECT d.downstream_repo AS downstream_repo,
        argMax(d.backend_name, d.created_at) AS backend_name,
        argMax(d.level, d.created_at) AS level,
        countIf(d.outcome = 'sent') AS sent,
        countIf(d.outcome IN ('failed', 'dead')) AS failed,
        countIf(d.outcome = 'sent' AND p.jobs > 0 AND p.running = 0 AND p.infra = 0) AS available,
        countIf(d.outcome = 'sent' AND ((p.jobs = 0 AND d.reason = 'never_reported') OR p.infra > 0)) AS unavailable
      FROM (${dispatchRows(db.database, `${inWindow("created_at")} AND ${FOR_REPO}`)}) AS d
      LEFT JOIN produced AS p ON p.delivery_id = d.delivery_id AND p.downstream_repo = d.downstream_repo
      GROUP BY d.downstream_repo
      ORDER BY d.downstream_repo`,
    { ...windowParams(window), repo: downstreamRepo?.toLowerCase() ?? "" },
  );
  return rows.map((row) => ({
    downstreamRepo: row.downstream_repo,
    backendName: row.backend_name,
    level: row.level,
    sent: num(row.sent),
    failed: num(row.failed),
    available: num(row.available),
    unavailable: num(row.unavailable),
  }));
}

export interface PrTimes {
  downstreamRepo: string;
  prTime: { p50: number | null; p90: number | null; avg: number | null; samples: number };
}

interface PrTimesRow {
  downstream_repo: string;
  p50: number | string | null;
  p90: number | string | null;
  avg: number | null;
  samples: number | string;
}

/**
 * Per backend: from each PR dispatch sent in the window to the completion of its last job (latest
 * attempts), over the dispatches whose jobs all completed — the RFC's "complete within 3 h per PR".
 * A dispatch still running, or one that produced no job, has no time yet (availability counts those).
 */
export async function prTimes(db: HudDatabase, window: Window, downstreamRepo?: string): Promise<PrTimes[]> {
  const rows = await select<PrTimesRow>(
    db,
    `WITH produced AS (
        SELECT delivery_id, downstream_repo, count() AS jobs, countIf(status = 'in_progress') AS running,
          max(toUnixTimestamp64Milli(relay_completed_at)) AS done_ms
        FROM (${latestAttempts(db.database, `first_report_at >= {from:${TIME_PARAM}} AND ${FOR_REPO}`)})
        GROUP BY delivery_id, downstream_repo
      ),
      timed AS (
        SELECT d.downstream_repo AS downstream_repo, p.done_ms - toUnixTimestamp64Milli(d.created_at) AS ms
        FROM (${dispatchRows(db.database, `${inWindow("created_at")} AND ${FOR_REPO} AND event_type = 'pull_request' AND outcome = 'sent'`)}) AS d
        INNER JOIN produced AS p ON p.delivery_id = d.delivery_id AND p.downstream_repo = d.downstream_repo
        WHERE p.jobs > 0 AND p.running = 0 AND p.done_ms IS NOT NULL
      )
      SELECT downstream_repo, quantileExact(0.5)(ms) AS p50, quantileExact(0.9)(ms) AS p90, avg(ms) AS avg, count() AS samples
      FROM timed
      GROUP BY downstream_repo
      ORDER BY downstream_repo`,
    { ...windowParams(window), repo: downstreamRepo?.toLowerCase() ?? "" },
  );
  return rows.map((row) => ({
    downstreamRepo: row.downstream_repo,
    prTime: { p50: num(row.p50), p90: num(row.p90), avg: roundOrNull(row.avg), samples: num(row.samples) },
  }));
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}
