// A sliding-window rate budget shared by every relay replica on one PostgreSQL: the per-installation
// GitHub write budget and the per-repo callback limit hold for the deployment, not per process (with N
// replicas, N in-process budgets would allow N times the configured rate). One round trip per acquire:
// the store's `rate_acquire` function (src/store/postgres/migrations.ts) takes a transaction-scoped
// advisory lock on (scope, key), so concurrent acquirers of one key take turns, counts the key's events
// in each window and records a free slot. Events that left the longest window are deleted as the key is
// next used, so the table holds at most about `limit` rows per active key and window.
import type pg from "pg";
import type { RateBudget, Window } from "./sliding-window.js";

/** Until when a key gets no slot at all (GitHub's Retry-After, seen by one replica, holds for all); rate_acquire reads it. */
const RATE_BLOCKS_TABLE = "rate_blocks";

export interface PostgresWindowOptions {
  /** A pool on the store's database and schema. */
  pool: pg.Pool;
  /** Which budget this is ("writes", "callbacks"): keys of different budgets never mix. */
  scope: string;
  windows: readonly Window[];
}

export function postgresWindowBudget<K extends string | number>(options: PostgresWindowOptions): Required<RateBudget<K>> {
  return {
    async block(key, until) {
      // A later block wins; an earlier one never shortens a longer wait.
      await options.pool.query(
        `INSERT INTO ${RATE_BLOCKS_TABLE} (scope, key, until) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO UPDATE SET until = greatest(${RATE_BLOCKS_TABLE}.until, excluded.until)`,
        [options.scope, String(key), until],
      );
    },
    async tryAcquire(key, now) {
      // One statement (autocommit): the store's rate_acquire function does the whole acquire under its lock.
      const { rows } = await options.pool.query<{ wait: string }>("SELECT rate_acquire($1, $2, $3, $4::bigint[], $5::int[]) AS wait", [
        options.scope,
        String(key),
        now,
        options.windows.map((window) => window.ms),
        options.windows.map((window) => window.limit),
      ]);
      return Number(rows[0]?.wait ?? 0);
    },
  };
}
