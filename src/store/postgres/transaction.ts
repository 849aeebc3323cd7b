// Transactions of the PostgreSQL store. Every unit of work (a `Store.transaction` work, or one store call
// made outside one) runs on one pooled client inside BEGIN … COMMIT at SERIALIZABLE isolation: the state
// core reads, decides and writes, relying on transactions that behave as if run one after another (as
// SQLite's are). PostgreSQL enforces that by failing one of two conflicting transactions (SQLSTATE 40001,
// or 40P01 for a deadlock); the unit is then rolled back and run again from the start, with a fresh `Sql`.
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";

/** What the tables' code queries through: one transaction's client, refused once its work settled. */
export interface Sql {
  /** Every row of the result. */
  rows<R>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** The first row of the result, if any. */
  row<R>(text: string, values?: readonly unknown[]): Promise<R | undefined>;
  /** Runs a statement; resolves with the number of rows it affected. */
  run(text: string, values?: readonly unknown[]): Promise<number>;
}

/**
 * Runs of a unit after which it runs alone. A long unit (a webhook's fan-out to dozens of backends) under
 * a steady stream of short ones that write what it read (the outbox recording sent tasks) can fail on
 * every run: the benchmark's first webhook failed all its runs for 15 s. Every unit first locks the
 * empty `transaction_gate` table in SHARE MODE, which units share; the escalated run locks it in
 * EXCLUSIVE MODE, so it waits for the units in course, keeps new ones waiting and cannot meet another
 * unit's conflict. LOCK TABLE takes no snapshot (a SELECT of an advisory lock would: the wait would then
 * happen inside an already-stale snapshot), so the exclusive run reads what the others committed.
 */
const RUNS_BEFORE_RUNNING_ALONE = 3;
const GATE_SHARED = "LOCK TABLE transaction_gate IN SHARE MODE";
const GATE_ALONE = "LOCK TABLE transaction_gate IN EXCLUSIVE MODE";

/** Serialization failure and deadlock: the transaction did nothing, and running it again may succeed. */
const RETRYABLE = new Set(["40001", "40P01"]);

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(sqlState(error) ?? "");
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// Statements are prepared once per connection under a name derived from their text (the same text always
// gets the same name, whichever client runs it): the hot paths run a few dozen statements over and over.
const statementNames = new Map<string, string>();

function statement(text: string, values: readonly unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `relay_${statementNames.size}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values.map(withoutNul) };
}

/**
 * PostgreSQL text and jsonb refuse U+0000, which SQLite and the HUD accept: a report or payload carrying
 * one must not fail its transaction (a 500 and a retry that fails the same way). It becomes U+FFFD, as a
 * raw character and as the `\u0000` escape JSON.stringify writes (not when that backslash is itself escaped).
 */
function withoutNul(value: unknown): unknown {
  if (typeof value !== "string" || (!value.includes("\u0000") && !value.includes("\\u0000"))) return value;
  return value.replaceAll("\u0000", "\uFFFD").replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");
}

/** One transaction's queries on its client; ended (refused) when its work settles. */
class Session implements Sql {
  readonly #client: pg.PoolClient;
  #open = true;
  /** The first error PostgreSQL answered in this transaction: after it the transaction is aborted. */
  failure: { error: unknown } | undefined;

  constructor(client: pg.PoolClient) {
    this.#client = client;
  }

  end(): void {
    this.#open = false;
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<pg.QueryResult<R>> {
    if (!this.#open) throw new Error("transaction finished: its tx cannot be used after its work settled");
    try {
      return await this.#client.query<R>(statement(text, values));
    } catch (error) {
      this.failure ??= { error };
      throw error;
    }
  }

  async rows<R>(text: string, values: readonly unknown[] = []): Promise<R[]> {
    return (await this.#query<R & pg.QueryResultRow>(text, values)).rows;
  }

  async row<R>(text: string, values: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.#query<R & pg.QueryResultRow>(text, values)).rows[0];
  }

  async run(text: string, values: readonly unknown[] = []): Promise<number> {
    return (await this.#query(text, values)).rowCount ?? 0;
  }
}

/**
 * SERIALIZABLE for a unit of work (`store.transaction`: the state core reads, decides and writes). READ
 * COMMITTED for one store method called on its own: each is a single statement or an update guarded by
 * its own conditions (versions, leases, `FOR UPDATE SKIP LOCKED`), correct at that level, and it then
 * takes no part in serializable conflict detection. Otherwise the outbox's and the HUD writer's scans of
 * their queues would conflict with every webhook and callback that adds to them.
 */
export type Isolation = "SERIALIZABLE" | "READ COMMITTED";

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown; retry: boolean };

export interface TransactionOptions {
  /**
   * How long a unit is run again after serialization failures, from its first start (default 15 s). A
   * count of attempts is not enough: on nearly empty tables (a fresh deployment) PostgreSQL's predicate
   * locks cover whole index pages, so a burst of webhooks on three replicas failed twenty quick attempts
   * and answered GitHub 500.
   */
  retryForMs?: number;
}

export class Transactions {
  readonly #pool: pg.Pool;
  readonly #retryForMs: number;

  constructor(pool: pg.Pool, options: TransactionOptions = {}) {
    this.#pool = pool;
    this.#retryForMs = options.retryForMs ?? 15_000;
  }

  /**
   * Runs `work` in a SERIALIZABLE transaction and resolves with its result once committed. Rejects with
   * `work`'s own error (rolled back), or with the error that kept the transaction from committing; a
   * serialization failure or deadlock runs `work` again first, for up to retryForMs.
   */
  async run<T>(work: (sql: Sql) => Promise<T> | T, isolation: Isolation = "SERIALIZABLE"): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      const gate = isolation !== "SERIALIZABLE" ? undefined : attempt > RUNS_BEFORE_RUNNING_ALONE ? GATE_ALONE : GATE_SHARED;
      const outcome = await this.#once(work, isolation, gate);
      if (outcome.ok) return outcome.value;
      if (!outcome.retry || Date.now() - started >= this.#retryForMs) throw outcome.error;
      // Jittered and growing a little, so the transactions that collided do not collide again in step.
      await sleep(Math.random() * Math.min(250, 2 ** attempt));
    }
  }

  async #once<T>(work: (sql: Sql) => Promise<T> | T, isolation: Isolation, gate: string | undefined): Promise<Outcome<T>> {
    const client = await this.#pool.connect();
    const session = new Session(client);
    // A client whose BEGIN, COMMIT or ROLLBACK failed without an answer from the server is in an unknown
    // state: it is closed rather than handed to the next transaction.
    let broken: Error | undefined;
    try {
      // One round trip: the simple query protocol runs both statements.
      await client.query(gate === undefined ? `BEGIN ISOLATION LEVEL ${isolation}` : `BEGIN ISOLATION LEVEL ${isolation}; ${gate}`);
      let result: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        result = { ok: true, value: await work(session) };
      } catch (error) {
        result = { ok: false, error };
      } finally {
        session.end();
      }
      // The work may have caught a query's error and carried on; the transaction is aborted all the same
      // (COMMIT would quietly roll it back), so that error decides.
      const failure = session.failure;
      if (result.ok && failure === undefined) {
        // A serialization failure can surface here too. And a query the work left running that failed
        // meanwhile leaves the transaction aborted: COMMIT then answers ROLLBACK, without an error.
        const commit = await client.query("COMMIT");
        if (commit.command !== "COMMIT") {
          const error = session.failure?.error ?? new Error(`transaction not committed (${commit.command})`);
          return { ok: false, error, retry: isRetryable(error) };
        }
        return result;
      }
      await client.query("ROLLBACK");
      // A work that fails after a serialization failure may fail because of it (it read a state that
      // could not stand): run it again too.
      const retry = isRetryable(failure?.error) || (!result.ok && isRetryable(result.error));
      return { ok: false, error: result.ok ? failure!.error : result.error, retry };
    } catch (error) {
      if (sqlState(error) === undefined) broken = error instanceof Error ? error : new Error(String(error));
      return { ok: false, error, retry: isRetryable(error) };
    } finally {
      client.release(broken);
    }
  }
}
