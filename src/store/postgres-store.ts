// The Store on PostgreSQL, for several relay replicas sharing one database. The SQL lives in
// src/store/postgres/ (migrations, outbox, facts, tables, prune); this module opens the pool, brings the
// schema up to date and serves the tables behind the Store interface: `transaction(work)` runs `work` in a
// SERIALIZABLE transaction of its own (retried on serialization failure, src/store/postgres/transaction.ts),
// and every call on the store itself runs in a READ COMMITTED transaction of its own (see Isolation there).
import pg from "pg";
import { factMethods } from "./postgres/facts.js";
import { migrate, quoteIdentifier } from "./postgres/migrations.js";
import { outboxMethods } from "./postgres/outbox.js";
import { prune } from "./postgres/prune.js";
import { tableMethods } from "./postgres/tables.js";
import { Transactions, type Sql } from "./postgres/transaction.js";
import { TX_METHODS, type Store, type StoreTx } from "./store.js";
import { postgresWindowBudget } from "../limits/postgres-window.js";
import type { RateBudget, Window } from "../limits/sliding-window.js";

export { SCHEMA_VERSION } from "./postgres/migrations.js";

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (libpq-style parameters as node-postgres reads them). */
  connectionString: string;
  /** Schema holding the relay's tables, created if missing (default: the connection's search_path, normally public). */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;


/** The tables, queried through one transaction's `sql`. */
function tablesOf(sql: Sql): StoreTx {
  return {
    ...factMethods(sql),
    ...outboxMethods(sql),
    ...tableMethods(sql),
    prune: (now, policy) => prune((work) => work(sql), now, policy),
  };
}

// BIGINT (epoch-ms times, GitHub ids, counts) comes back as a number rather than node-postgres's default
// string: every such value is below 2^53. Set on this store's pools only, not on pg's global type table.
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(pg.types.builtins.INT8, Number);

/** The Store on PostgreSQL, and the rate budgets its replicas share. */
export interface PostgresStore extends Store {
  /** A sliding-window budget every replica on this database shares (`scope` names it: "writes", "callbacks"). */
  rateBudget<K extends string | number>(scope: string, windows: readonly Window[]): RateBudget<K>;
}

/** The Store on `pool`, whose schema is up to date. Takes ownership of the pool: close() ends it. */
export function postgresStore(pool: pg.Pool): PostgresStore {
  const transactions = new Transactions(pool);
  let closed = false;
  let closing: Promise<void> | undefined;
  const running = new Set<Promise<unknown>>();

  /** Starts `work` unless closed, and keeps track of it until it settles, so close() can wait for it. */
  function start<T>(work: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new Error("store closed"));
    const promise = work();
    running.add(promise);
    const forget = () => void running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  const methods: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of TX_METHODS) {
    methods[name] = (...args) =>
      start(() => transactions.run((sql) => (tablesOf(sql)[name] as (...args: unknown[]) => Promise<unknown>)(...args), "READ COMMITTED"));
  }
  const outside = methods as unknown as StoreTx;

  return {
    ...outside,
    rateBudget: <K extends string | number>(scope: string, windows: readonly Window[]) => {
      const budget = postgresWindowBudget<K>({ pool, scope, windows });
      return {
        tryAcquire: (key: K, now: number) => start(async () => budget.tryAcquire(key, now)),
        block: (key: K, until: number) => start(() => budget.block(key, until)),
      };
    },
    // On the store, each table is pruned in a short transaction of its own.
    prune: (now, policy) => start(() => prune((work) => transactions.run(work, "READ COMMITTED"), now, policy)),
    transaction<T>(work: (tx: StoreTx) => Promise<T> | T): Promise<T> {
      return start(() => transactions.run((sql) => work(tablesOf(sql))));
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        // What was called before close finishes (and commits) first.
        await Promise.allSettled([...running]);
        await pool.end();
      })();
      return closing;
    },
  };
}

/** A pool on `options`' database whose connections use `options.schema` (unchecked). */
function openPool(options: PostgresStoreOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    types: TYPES,
    options: [
      ...(options.schema !== undefined ? [`-c search_path=${quoteIdentifier(options.schema)}`] : []),
      // SERIALIZABLE transactions take a predicate lock on a whole table for a sequential scan, so on the
      // small tables of a young deployment every two concurrent transactions would conflict and retry
      // (PostgreSQL docs, "Transaction Isolation": "a sequential scan will always necessitate a
      // relation-level predicate lock"). Every query has an index; index scans lock only what they read.
      "-c enable_seqscan=off",
    ].join(" "),
  });
  // An idle connection that breaks (server restart, network) is dropped from the pool; the next query
  // reports any lasting problem. Without a listener the error would crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/**
 * Opens the Store on PostgreSQL: creates `schema` if missing, and brings it up to date (migrations run
 * once, under an advisory lock, when several replicas start together). Rejects on a schema newer than this
 * relay knows.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(options.schema)}: expected ${SCHEMA_NAME.source}`);
  }
  const pool = openPool(options);
  try {
    const client = await pool.connect();
    try {
      await migrate(client, Date.now(), options.schema);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return postgresStore(pool);
}
