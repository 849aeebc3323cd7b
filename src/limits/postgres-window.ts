// A sliding-window rate budget shared by every relay replica on one PostgreSQL: the per-installation
// GitHub write budget and the per-repo callback limit hold for the deployment, not per process (with N
// replicas, N in-process budgets would allow N times the configured rate). One short transaction per
// acquire: a transaction-scoped advisory lock on (scope, key) makes concurrent acquirers of one key
// take turns, the key's events inside the longest window are counted, and a free slot is recorded.
// Events that left the longest window are deleted as the key is next used, so the table holds at most
// about `limit` rows per active key and window.
import { createHash } from "node:crypto";
import type pg from "pg";
import { windowWait, type RateBudget, type Window } from "./sliding-window.js";

/** Where the events live: a table of the PostgreSQL store's schema (its migrations create it). */
export const RATE_EVENTS_TABLE = "rate_events";
/** Until when a key gets no slot at all (GitHub's Retry-After, seen by one replica, holds for all). */
export const RATE_BLOCKS_TABLE = "rate_blocks";

export interface PostgresWindowOptions {
  /** A pool on the store's database and schema. */
  pool: pg.Pool;
  /** Which budget this is ("writes", "callbacks"): keys of different budgets never mix. */
  scope: string;
  windows: readonly Window[];
}

export function postgresWindowBudget<K extends string | number>(options: PostgresWindowOptions): Required<RateBudget<K>> {
  const longest = Math.max(...options.windows.map((window) => window.ms));
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
      const name = String(key);
      const client = await options.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey(options.scope, name)]);
        const blocked = await client.query<{ until: string }>(`SELECT until FROM ${RATE_BLOCKS_TABLE} WHERE scope = $1 AND key = $2 AND until > $3`, [
          options.scope,
          name,
          now,
        ]);
        const until = blocked.rows[0] ? Number(blocked.rows[0].until) : undefined;
        if (until !== undefined) {
          await client.query("COMMIT");
          return until - now;
        }
        await client.query(`DELETE FROM ${RATE_EVENTS_TABLE} WHERE scope = $1 AND key = $2 AND at <= $3`, [options.scope, name, now - longest]);
        const { rows } = await client.query<{ at: string }>(
          `SELECT at FROM ${RATE_EVENTS_TABLE} WHERE scope = $1 AND key = $2 ORDER BY at`,
          [options.scope, name],
        );
        const wait = windowWait(options.windows, rows.map((row) => Number(row.at)), now);
        if (wait === 0) await client.query(`INSERT INTO ${RATE_EVENTS_TABLE} (scope, key, at) VALUES ($1, $2, $3)`, [options.scope, name, now]);
        await client.query("COMMIT");
        return wait;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

function lockKey(scope: string, key: string): string {
  return createHash("sha256").update(`cross-repo-ci-relay:budget:${scope}:${key}`).digest().readBigInt64BE(0).toString();
}
