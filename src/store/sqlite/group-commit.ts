// Group commit for better-sqlite3. With `synchronous = FULL` every transaction costs an fsync, and a
// busy relay pays for one per write. GroupCommit queues small units of work, runs the ones that arrived
// together in one transaction, and answers each caller once that transaction (and so its own unit) is
// durable: many writes per fsync, with each caller still seeing only its own outcome.
//
//   const commits = new GroupCommit(db);
//   const id = await commits.run((db) => insert.run(row).lastInsertRowid);
//   const rows = await commits.outside(() => select.all());   // never sees a batch half-way
//
// A unit may be async, but must await only work on this connection (promises that settle without the
// event loop turning): while it awaits, the batch's transaction is open on the shared connection, and
// everything else that would use the connection meanwhile goes through `outside`, which waits for the
// batch to end. A unit must not open, commit or roll back transactions itself (better-sqlite3's
// db.transaction() functions are fine: inside a transaction they nest as savepoints).
import type Database from "better-sqlite3";

export type GroupCommitUnit<T> = (db: Database.Database) => T | Promise<T>;

export interface GroupCommitOptions {
  /** Most units run in one transaction (default 256). A longer queue is drained over several batches. */
  maxBatch?: number;
}

interface Pending {
  unit: GroupCommitUnit<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  readonly #db: Database.Database;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  /** A drain is scheduled or running; stays set until the drain has finished. */
  #scheduled = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  /** A batch's transaction is open: calls through `outside` wait in #waiting until it has ended. */
  #inBatch = false;
  #waiting: (() => void)[] = [];
  #batches = 0;
  #units = 0;

  constructor(db: Database.Database, options: GroupCommitOptions = {}) {
    const maxBatch = options.maxBatch ?? 256;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`GroupCommit maxBatch must be a positive integer, got ${maxBatch}`);
    this.#db = db;
    this.#maxBatch = maxBatch;
  }

  /** Transactions committed (a batch whose units all failed still commits, empty, and counts). */
  get batches(): number {
    return this.#batches;
  }

  /** Units whose writes were committed. */
  get units(): number {
    return this.#units;
  }

  /**
   * Queues a unit of work. The promise resolves with the unit's return value once the
   * transaction holding it has committed, or rejects with the unit's own error (its writes rolled back,
   * its batch-mates unaffected) or with the error that kept the batch from committing.
   */
  run<T>(unit: GroupCommitUnit<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("store closed"));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ unit, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Refuses new units ("store closed") and resolves once the queued ones have been answered. The connection stays open. */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#scheduled && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Runs `work` on the connection outside any batch: at once when no batch is running, else right after
   * the running one has ended (committed or rolled back), so it never reads a unit's uncommitted writes
   * nor lands its own writes in a batch's transaction.
   */
  outside<T>(work: () => T): Promise<T> {
    if (!this.#inBatch) return settleNow(work);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => void settleNow(work).then(resolve, reject));
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask or process.nextTick: it runs in the check phase, after the event
    // loop has handled every I/O callback of the current poll (e.g. all the requests that arrived
    // together), so their units, and the follow-up calls of callers whose previous unit just resolved,
    // join one batch instead of paying one commit each.
    setImmediate(() => void this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      await this.#runBatch(this.#queue.splice(0, this.#maxBatch));
    } finally {
      this.#scheduled = false;
      // Units queued meanwhile (by a unit, or left over past maxBatch) get their own drain: a unit never
      // runs re-entrantly inside another one's batch step.
      if (this.#queue.length > 0) this.#schedule();
      else for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    this.#inBatch = true;
    try {
      await this.#runInTransaction(batch);
    } finally {
      this.#inBatch = false;
      for (const run of this.#waiting.splice(0)) run();
    }
  }

  async #runInTransaction(batch: Pending[]): Promise<void> {
    const db = this.#db;
    if (db.inTransaction) {
      // Someone else's transaction: committing or rolling it back is not ours to do, and running inside
      // it would answer callers before anything is durable.
      const error = new Error("GroupCommit: a transaction is already open on this connection; group commit will not nest inside it");
      for (const pending of batch) pending.reject(error);
      return;
    }
    try {
      db.exec("BEGIN IMMEDIATE"); // take the write lock now rather than fail half-way (SQLITE_BUSY)
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }

    const outcomes: Outcome[] = [];
    for (const [index, pending] of batch.entries()) {
      let outcome: Outcome | undefined;
      try {
        // A savepoint per unit so a failing unit can be undone alone, without losing its batch-mates.
        db.exec("SAVEPOINT gc_unit");
        outcome = await attempt(pending.unit, db);
        if (!db.inTransaction) {
          // The unit ended the transaction (its own COMMIT or ROLLBACK), or SQLite rolled it all back
          // (it does on some SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, SQLITE_BUSY errors).
          throw outcome.ok ? new Error("GroupCommit: a unit ended the batch's transaction; the batch's earlier writes may be lost") : outcome.error;
        }
        if (outcome.ok) db.exec("RELEASE gc_unit");
        else db.exec("ROLLBACK TO gc_unit; RELEASE gc_unit");
      } catch (error) {
        // The batch's transaction is gone or its savepoints are not where we left them: give it up. The
        // units that ran cannot be vouched for; the ones that did not run go back to the front of the queue.
        if (db.inTransaction) rollbackQuietly(db);
        outcomes.push(outcome?.ok === false ? outcome : { ok: false, error });
        settle(batch.slice(0, index + 1), outcomes, { error });
        this.#queue.unshift(...batch.slice(index + 1));
        return;
      }
      outcomes.push(outcome);
    }

    try {
      db.exec("COMMIT");
    } catch (error) {
      // Nothing of the batch committed (a deferred constraint, SQLITE_BUSY, an I/O error). A failed
      // COMMIT can leave the transaction open; roll it back so the next batch starts clean.
      if (db.inTransaction) rollbackQuietly(db);
      settle(batch, outcomes, { error });
      return;
    }
    this.#batches += 1;
    this.#units += outcomes.filter((outcome) => outcome.ok).length;
    // Resolved only now, after COMMIT returned: a caller that answers (say, acknowledges a webhook) on
    // resolution must never do so for a write that could still be rolled back with its batch.
    settle(batch, outcomes);
  }
}

async function attempt(unit: GroupCommitUnit<unknown>, db: Database.Database): Promise<Outcome> {
  try {
    return { ok: true, value: await unit(db) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Runs `work` now; its throw becomes the promise's rejection. */
// eslint-disable-next-line @typescript-eslint/require-await -- async only to turn a throw into a rejection
export async function settleNow<T>(work: () => T): Promise<T> {
  return work();
}

/** Answers each unit: its own failure if it failed, else the batch's failure if any, else its value. */
function settle(batch: Pending[], outcomes: Outcome[], batchFailure?: { error: unknown }): void {
  for (const [index, pending] of batch.entries()) {
    const outcome = outcomes[index];
    if (!outcome) continue;
    if (!outcome.ok) pending.reject(outcome.error);
    else if (batchFailure) pending.reject(batchFailure.error);
    else pending.resolve(outcome.value);
  }
}

function rollbackQuietly(db: Database.Database): void {
  try {
    db.exec("ROLLBACK");
  } catch {
    // Already rolled back, or the connection is broken; the caller reports the original error.
  }
}
