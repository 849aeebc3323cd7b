// The Store on one SQLite file under DATA_DIR (the embedded default). The tables are read and written
// synchronously (src/store/sqlite/tables.ts); this module serves them behind the asynchronous Store
// interface: transactions go through group commit (many per fsync), and every other call waits while a
// group's transaction is open, so it neither reads a transaction's uncommitted writes nor lands in it.
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { GroupCommit, settleNow } from "./sqlite/group-commit.js";
import { SqliteTables } from "./sqlite/tables.js";
import { TX_METHODS, type Store, type StoreTx, type Synchronous } from "./store.js";

export const DATABASE_FILE = "relay.sqlite";


/** `tables`' methods, each answering through `call` (which runs the synchronous method when it may). */
function asyncMethods(tables: Synchronous<StoreTx>, call: <T>(work: () => T) => Promise<T>): StoreTx {
  const methods: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of TX_METHODS) {
    const method = tables[name] as (...args: unknown[]) => unknown;
    methods[name] = (...args) => call(() => method.apply(tables, args));
  }
  return methods as unknown as StoreTx;
}

/**
 * The Store on `db`. Takes ownership of it: configures it, brings its schema up to date, and closes it in
 * close().
 */
export function sqliteStore(db: Database.Database): Store {
  const tables = new SqliteTables(db);
  const commits = new GroupCommit(db);
  let closed = false;
  let closing: Promise<void> | undefined;
  const outside = <T>(work: () => T): Promise<T> => (closed ? Promise.reject(new Error("store closed")) : commits.outside(work));

  return {
    ...asyncMethods(tables, outside),
    transaction<T>(work: (tx: StoreTx) => Promise<T> | T): Promise<T> {
      return commits.run(async () => {
        let open = true;
        // Inside the unit the tables are called directly: the group's transaction is this unit's. A tx kept
        // past its work would write into whatever transaction is open then, so it is refused.
        const tx = asyncMethods(tables, <R>(call: () => R): Promise<R> =>
          open ? settleNow(call) : Promise.reject(new Error("transaction finished: its tx cannot be used after its work settled")),
        );
        try {
          return await work(tx);
        } finally {
          open = false;
        }
      });
    },
    close(): Promise<void> {
      closing ??= commits.close().then(() => {
        closed = true;
        db.close();
      });
      return closing;
    },
  };
}

/** Opens (creating if needed) `<dataDir>/relay.sqlite`. */
export function openSqliteStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  try {
    return sqliteStore(db);
  } catch (error) {
    db.close();
    throw error;
  }
}
