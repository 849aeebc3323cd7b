// Retention for the PostgreSQL store: one bounded DELETE per table (docs/dispatch.md, "Storage and
// retention"), the same rules as SQLite's (src/store/sqlite/tables.ts). `cutoff`: settled before it is
// past retention; `exportedBefore`: a row last changed before the oldest HUD row still queued is in
// ClickHouse. A head settles when it is superseded or its PR closes; its rows go first and its heads row
// last (while it exists, the head's facts are whole). Push heads and self-reports, which have no head row,
// go by age. Dispatch-log rows go before their jobs and deliveries (foreign key).
//
// Rows are picked by a subquery with LIMIT and deleted by ctid (`ctid = ANY(ARRAY(…))` is a TID scan).
// Freed space is reused by PostgreSQL after (auto)vacuum: nothing like SQLite's incremental_vacuum here.
import type { PrunedRows, RetentionPolicy } from "../store.js";
import { REDELIVERY_WINDOW_MS } from "../store.js";
import type { Sql } from "./transaction.js";

type Table = keyof PrunedRows;

interface Bounds {
  cutoff: number;
  exportedBefore: number;
  deliveriesBefore: number;
  limit: number;
}

/** A statement per table and the bounds it takes, as its $1, $2, … */
const STATEMENTS: Record<Table, { sql: string; params: (keyof Bounds)[] }> = {
  // Settled tasks of any kind: a check run's GitHub id lives in check_runs, not in its task.
  outbox: {
    sql: "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM outbox WHERE status <> 'pending' AND finished_at < $1 LIMIT $2))",
    params: ["cutoff", "limit"],
  },
  dispatch_log: {
    sql: `DELETE FROM dispatch_log WHERE ctid = ANY(ARRAY(
            SELECT d.ctid FROM heads h JOIN dispatch_log d ON d.head_sha = h.head_sha AND lower(d.upstream_repo) = h.upstream_repo_key
            WHERE h.state <> 'open' AND h.state_changed_at < $1 AND d.outcome <> 'pending' AND d.hud_version < $2
            UNION ALL
            SELECT ctid FROM dispatch_log WHERE event = 'push' AND created_at < $1 AND outcome <> 'pending' AND hud_version < $2
            LIMIT $3))`,
    params: ["cutoff", "exportedBefore", "limit"],
  },
  // A push's jobs only once its dispatch-log row is gone: the sweeper would take a sent dispatch
  // without jobs for one that never reported.
  jobs: {
    sql: `DELETE FROM jobs WHERE ctid = ANY(ARRAY(
            SELECT j.ctid FROM heads h JOIN jobs j ON j.upstream_repo_key = h.upstream_repo_key AND j.head_sha = h.head_sha
            WHERE h.state <> 'open' AND h.state_changed_at < $1 AND j.status = 'completed' AND j.updated_at < $2
            UNION ALL
            SELECT j.ctid FROM jobs j WHERE j.pr_number IS NULL AND j.updated_at < $1 AND j.status = 'completed'
              AND j.updated_at < $2
              AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.delivery_id = j.delivery_id AND d.downstream_repo_key = j.downstream_repo_key)
            LIMIT $3))`,
    params: ["cutoff", "exportedBefore", "limit"],
  },
  job_latest: { sql: ofSettledHead("job_latest"), params: ["cutoff", "limit"] },
  // Not while a write of it is still queued: the worker needs its id to update it.
  check_runs: {
    sql: ofSettledHead("check_runs", "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key = t.key AND o.status = 'pending')"),
    params: ["cutoff", "limit"],
  },
  backend_heads: { sql: ofSettledHead("backend_heads"), params: ["cutoff", "limit"] },
  tracked_runs: {
    sql: "DELETE FROM tracked_runs WHERE ctid = ANY(ARRAY(SELECT ctid FROM tracked_runs WHERE tracked_at < $1 LIMIT $2))",
    params: ["cutoff", "limit"],
  },
  trunk_results: {
    sql: "DELETE FROM trunk_results WHERE ctid = ANY(ARRAY(SELECT ctid FROM trunk_results WHERE updated_at < $1 LIMIT $2))",
    params: ["cutoff", "limit"],
  },
  heads: {
    sql: `DELETE FROM heads WHERE ctid = ANY(ARRAY(SELECT h.ctid FROM heads h WHERE h.state <> 'open' AND h.state_changed_at < $1
            AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.head_sha = h.head_sha AND lower(d.upstream_repo) = h.upstream_repo_key)
            AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.upstream_repo_key = h.upstream_repo_key AND j.head_sha = h.head_sha)
            AND NOT EXISTS (SELECT 1 FROM job_latest l WHERE l.upstream_repo_key = h.upstream_repo_key AND l.head_sha = h.head_sha)
            AND NOT EXISTS (SELECT 1 FROM check_runs c WHERE c.upstream_repo_key = h.upstream_repo_key AND c.head_sha = h.head_sha)
            AND NOT EXISTS (SELECT 1 FROM backend_heads b WHERE b.upstream_repo_key = h.upstream_repo_key AND b.head_sha = h.head_sha)
          LIMIT $2))`,
    params: ["cutoff", "limit"],
  },
  deliveries: {
    sql: `DELETE FROM deliveries WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE accepted_at < $1
            AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.delivery_id = deliveries.id) LIMIT $2))`,
    params: ["deliveriesBefore", "limit"],
  },
};

/** The rows of `table` (aliased t) of heads settled before $1, at most $2. */
function ofSettledHead(table: string, extra = ""): string {
  return `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT t.ctid FROM heads h JOIN ${table} t
            ON t.upstream_repo_key = h.upstream_repo_key AND t.head_sha = h.head_sha
          WHERE h.state <> 'open' AND h.state_changed_at < $1 ${extra} LIMIT $2))`;
}

/** In dependency order. */
const TABLES: readonly Table[] = ["outbox", "dispatch_log", "jobs", "job_latest", "check_runs", "backend_heads", "tracked_runs", "trunk_results", "heads", "deliveries"];

/**
 * Prunes every table, each through `step`: on the store, a transaction of its own (short ones, so webhooks
 * and callbacks interleave); inside a caller's transaction, that transaction.
 */
export async function prune(step: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>, now: number, policy: RetentionPolicy): Promise<PrunedRows> {
  const exportedBefore = await step(async (sql) => {
    const row = await sql.row<{ at: number }>(
      "SELECT coalesce((SELECT created_at FROM hud_rows WHERE rejected_at IS NULL ORDER BY id LIMIT 1), $1::bigint) AS at",
      [now],
    );
    return row!.at;
  });
  const bounds: Bounds = { cutoff: now - policy.retentionMs, exportedBefore, deliveriesBefore: now - REDELIVERY_WINDOW_MS, limit: policy.maxRowsPerTable };
  const pruned = {} as PrunedRows;
  for (const table of TABLES) {
    const { sql: text, params } = STATEMENTS[table];
    pruned[table] = await step((sql) => sql.run(text, params.map((name) => bounds[name])));
  }
  return pruned;
}
