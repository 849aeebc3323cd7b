// Leadership among replicas on one PostgreSQL, by a session-level advisory lock held on a connection of
// its own: the replica whose connection holds the lock leads. If that process dies (kill -9, crash, lost
// network), PostgreSQL ends its session and releases the lock as soon as it notices the connection is
// gone, and the next replica to try takes it: failover within `retryMs` of that. The leader checks its
// connection every `retryMs`; on an error, or no answer within 10 s (LEADER_QUERY_TIMEOUT_MS), it stops
// leading at once and reconnects (at most one leader at a time, a moment with none).
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import pg from "pg";
import { unrefTimeout, type Schedule } from "../dispatch/outbox-worker.js";
import type { Leadership } from "./leadership.js";

/** The shortest wait for the leader's connection check (and connecting) before it counts as lost. */
const LEADER_QUERY_TIMEOUT_MS = 10_000;

export interface AdvisoryLockOptions {
  connectionString: string;
  /** Replicas of one deployment share it (the schema they use); another deployment in the database has its own lock. */
  scope: string;
  /** How often a follower tries the lock and the leader checks its connection. */
  retryMs: number;
  log: Pick<Logger, "info" | "warn">;
  /** Timers between tries (default: unref'd setTimeout; tests drive them with a simulated clock). */
  schedule?: Schedule;
}

/** The advisory lock's key: 64 bits of a hash of the scope, so deployments sharing a database never collide. */
export function leaderLockKey(scope: string): string {
  return createHash("sha256").update(`cross-repo-ci-relay:leader:${scope}`).digest().readBigInt64BE(0).toString();
}

export function advisoryLockLeadership(options: AdvisoryLockOptions): Leadership {
  const key = leaderLockKey(options.scope);
  let client: pg.Client | undefined;
  let leading = false;
  let stopped = false;
  let cancelTimer: (() => void) | undefined;
  const schedule = options.schedule ?? unrefTimeout;
  const listeners: Array<(leading: boolean) => void> = [];

  const setLeading = (next: boolean) => {
    if (next === leading) return;
    leading = next;
    options.log.info({ leading }, next ? "this replica now runs the background jobs" : "this replica no longer runs the background jobs");
    for (const listener of listeners) listener(next);
  };

  const drop = async () => {
    setLeading(false);
    const old = client;
    client = undefined;
    await old?.end().catch(() => undefined);
  };

  const tick = async () => {
    try {
      if (!client) {
        // Every query times out too, so a leader whose network went silent stops leading. Generously: while its
        // session lives no one else can take the lock, so a slow answer on a busy machine is no reason to
        // give leadership up (with a 1 s timeout, leaders flapped under load).
        const timeoutMs = Math.max(LEADER_QUERY_TIMEOUT_MS, options.retryMs * 3);
        const fresh = new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
        // A broken connection emits 'error'; without a listener it would crash the process.
        fresh.on("error", () => void drop());
        await fresh.connect();
        client = fresh;
      }
      if (leading) {
        await client.query("SELECT 1");
      } else {
        const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [key]);
        setLeading(rows[0]?.locked === true);
      }
    } catch (error) {
      if (leading) options.log.warn({ err: String(error) }, "lost the leader connection");
      await drop();
    }
  };

  const loop = async () => {
    await tick();
    if (!stopped) cancelTimer = schedule(() => void loop(), options.retryMs);
  };
  void loop();

  return {
    isLeader: () => leading && !stopped,
    onChange: (listener) => void listeners.push(listener),
    async stop() {
      stopped = true;
      cancelTimer?.();
      if (client && leading) await client.query("SELECT pg_advisory_unlock($1::bigint)", [key]).catch(() => undefined);
      await drop();
    },
  };
}
