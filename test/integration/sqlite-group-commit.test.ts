// GroupCommit on a real SQLite file (WAL, synchronous = FULL): units that arrive together share one
// transaction, each caller is answered after its commit, and a failure is confined to its unit or, when
// the transaction itself fails, to its batch. Units may be async (awaiting work on the connection only);
// work run through outside() never lands in, nor reads, a running batch.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit, settleNow } from "../../src/store/sqlite/group-commit.js";

let dir: string;
let file: string;
let db: Database.Database;
const others: Database.Database[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-group-commit-"));
  file = path.join(dir, "test.sqlite");
  // No busy wait: a locked database fails at once, so the BEGIN failure test needs no real time.
  db = new Database(file, { timeout: 0 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.exec(`
    CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE parents (id INTEGER PRIMARY KEY);
    CREATE TABLE children (
      id INTEGER PRIMARY KEY,
      parent_id INTEGER NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
    );
  `);
});

afterEach(async () => {
  for (const other of others.splice(0)) other.close();
  db.close();
  await rm(dir, { recursive: true, force: true });
});

function insert(body: string): (db: Database.Database) => number {
  return (db) => Number(db.prepare("INSERT INTO notes (body) VALUES (?)").run(body).lastInsertRowid);
}

/** What another connection sees: only committed rows. */
function committedBodies(): string[] {
  const reader = new Database(file, { readonly: true });
  others.push(reader);
  return reader.prepare<[], { body: string }>("SELECT body FROM notes ORDER BY id").all().map((row) => row.body);
}

describe("GroupCommit", () => {
  it("runs units that arrive together in one transaction and makes all their writes visible", async () => {
    const commits = new GroupCommit(db);
    const bodies = Array.from({ length: 100 }, (_, index) => `note ${index}`);
    const ids = await Promise.all(bodies.map((body) => commits.run(insert(body))));
    expect(ids).toEqual(bodies.map((_, index) => index + 1));
    expect(commits.batches).toBe(1);
    expect(commits.units).toBe(100);
    expect(committedBodies()).toEqual(bodies);
  });

  it("splits a long queue into batches of at most maxBatch", async () => {
    const commits = new GroupCommit(db, { maxBatch: 10 });
    await Promise.all(Array.from({ length: 25 }, (_, index) => commits.run(insert(`note ${index}`))));
    expect(commits.batches).toBe(3);
    expect(commits.units).toBe(25);
    expect(committedBodies()).toHaveLength(25);
  });

  it("batches callers that each await their previous call: one batch per round, not per call", async () => {
    const commits = new GroupCommit(db);
    const callers = 8;
    const rounds = 10;
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        for (let round = 0; round < rounds; round += 1) await commits.run(insert(`caller ${caller} round ${round}`));
      }),
    );
    expect(commits.units).toBe(callers * rounds);
    expect(commits.batches).toBe(rounds);
    expect(committedBodies()).toHaveLength(callers * rounds);
  });

  it("runs units in call order, across batches", async () => {
    const commits = new GroupCommit(db, { maxBatch: 7 });
    const ran: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        commits.run((db) => {
          ran.push(index);
          return insert(String(index))(db);
        }),
      ),
    );
    const expected = Array.from({ length: 50 }, (_, index) => index);
    expect(ran).toEqual(expected);
    expect(committedBodies()).toEqual(expected.map(String));
  });

  it("rejects a throwing unit alone: its writes are rolled back, its batch-mates commit", async () => {
    const commits = new GroupCommit(db);
    const boom = new Error("boom");
    const results = await Promise.allSettled([
      commits.run(insert("before")),
      commits.run((db) => {
        insert("doomed")(db);
        throw boom;
      }),
      commits.run(insert("after")),
    ]);
    expect(results).toEqual([
      { status: "fulfilled", value: 1 },
      { status: "rejected", reason: boom },
      // The doomed row's id was rolled back with it, so it is reused.
      { status: "fulfilled", value: 2 },
    ]);
    expect(commits.batches).toBe(1);
    expect(commits.units).toBe(2);
    expect(committedBodies()).toEqual(["before", "after"]);
  });

  it("commits the writes an async unit makes after its awaits, in the batch it runs in", async () => {
    const commits = new GroupCommit(db);
    const results = await Promise.all([
      commits.run(insert("first")),
      commits.run(async (db) => {
        // Awaits work on this connection only, as a unit must.
        const before = await settleNow(() => db.prepare("SELECT count(*) FROM notes").pluck().get());
        const id = insert("async")(db);
        await settleNow(() => undefined);
        return { before, id, second: insert("async again")(db) };
      }),
      commits.run(insert("last")),
    ]);
    expect(results).toEqual([1, { before: 1, id: 2, second: 3 }, 4]);
    expect(commits.batches).toBe(1);
    expect(commits.units).toBe(3);
    expect(committedBodies()).toEqual(["first", "async", "async again", "last"]);
  });

  it("rejects an async unit that fails after an await alone: all its writes are rolled back, its batch-mates commit", async () => {
    const commits = new GroupCommit(db);
    const boom = new Error("async boom");
    const results = await Promise.allSettled([
      commits.run(insert("before")),
      commits.run(async (db) => {
        insert("doomed before the await")(db);
        await settleNow(() => undefined);
        insert("doomed after the await")(db);
        await settleNow(() => undefined);
        throw boom;
      }),
      commits.run(insert("after")),
    ]);
    expect(results).toEqual([
      { status: "fulfilled", value: 1 },
      { status: "rejected", reason: boom },
      // The doomed rows' ids were rolled back with them, so they are reused.
      { status: "fulfilled", value: 2 },
    ]);
    expect(db.inTransaction).toBe(false);
    expect(commits.batches).toBe(1);
    expect(commits.units).toBe(2);
    expect(committedBodies()).toEqual(["before", "after"]);
  });

  it("runs outside() work called during a batch only once the batch has ended: without the rolled-back unit's writes, with the committed one's", async () => {
    const commits = new GroupCommit(db);
    const events: string[] = [];
    const count = (body: string) => db.prepare<[string], number>("SELECT count(*) FROM notes WHERE body = ?").pluck().get(body);
    /** What work run through outside() sees of the connection and of the file. */
    const look = (label: string) => () => {
      events.push(label);
      return { kept: count("kept"), doomed: count("doomed"), inTransaction: db.inTransaction, committed: committedBodies() };
    };
    const boom = new Error("boom");
    let fromCommitted: Promise<unknown> | undefined;
    let fromRolledBack: Promise<unknown> | undefined;
    const results = await Promise.allSettled([
      commits.run(async (db) => {
        insert("kept")(db);
        fromCommitted = commits.outside(look("outside, called by the committed unit")); // not awaited: it waits for this batch
        await settleNow(() => undefined);
        events.push("committed unit done");
        return "kept";
      }),
      commits.run(async (db) => {
        insert("doomed")(db);
        fromRolledBack = commits.outside(look("outside, called by the rolled-back unit"));
        await settleNow(() => undefined);
        events.push("rolled-back unit done");
        throw boom;
      }),
    ]);
    expect(results).toEqual([
      { status: "fulfilled", value: "kept" },
      { status: "rejected", reason: boom },
    ]);
    const seen = { kept: 1, doomed: 0, inTransaction: false, committed: ["kept"] };
    expect(await fromCommitted).toEqual(seen);
    expect(await fromRolledBack).toEqual(seen);
    expect(events).toEqual([
      "committed unit done",
      "rolled-back unit done",
      "outside, called by the committed unit",
      "outside, called by the rolled-back unit",
    ]);
    expect(commits.batches).toBe(1);
  });

  it("runs outside() work called during a batch whose COMMIT fails only after the rollback, seeing none of the batch", async () => {
    const commits = new GroupCommit(db);
    let seen: Promise<unknown> | undefined;
    const results = await Promise.allSettled([
      commits.run((db) => {
        insert("lost")(db);
        seen = commits.outside(() => ({ rows: db.prepare("SELECT count(*) FROM notes").pluck().get(), inTransaction: db.inTransaction }));
        // The deferred foreign key fails only at COMMIT.
        return db.prepare("INSERT INTO children (parent_id) VALUES (42)").run().changes;
      }),
    ]);
    expect(results).toMatchObject([{ status: "rejected", reason: { code: "SQLITE_CONSTRAINT_FOREIGNKEY" } }]);
    expect(await seen).toEqual({ rows: 0, inTransaction: false });
    expect(committedBodies()).toEqual([]);
  });

  it("runs outside() work at once when no batch is running", async () => {
    const commits = new GroupCommit(db);
    let ran = false;
    const done = commits.outside(() => {
      ran = true;
      return insert("direct")(db);
    });
    expect(ran).toBe(true);
    await expect(done).resolves.toBe(1);
    expect(committedBodies()).toEqual(["direct"]);
  });

  it("rejects every unit of a batch whose COMMIT fails, and none of the batch is visible", async () => {
    const commits = new GroupCommit(db);
    const orphanError = new Error("orphan unit's own error");
    // The deferred foreign key passes every statement and fails only at COMMIT.
    const results = await Promise.allSettled([
      commits.run(insert("first")),
      commits.run((db) => db.prepare("INSERT INTO children (parent_id) VALUES (42)").run().changes),
      commits.run((db) => {
        insert("thrown")(db);
        throw orphanError;
      }),
      commits.run(insert("last")),
    ]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
    const commitError = (results[0] as PromiseRejectedResult).reason as Error & { code?: string };
    expect(commitError.code).toBe("SQLITE_CONSTRAINT_FOREIGNKEY");
    expect((results[1] as PromiseRejectedResult).reason).toBe(commitError);
    // A unit that failed on its own keeps its own error.
    expect((results[2] as PromiseRejectedResult).reason).toBe(orphanError);
    expect((results[3] as PromiseRejectedResult).reason).toBe(commitError);
    expect(db.inTransaction).toBe(false);
    expect(commits.batches).toBe(0);
    expect(commits.units).toBe(0);
    expect(committedBodies()).toEqual([]);
    expect(db.prepare("SELECT count(*) FROM children").pluck().get()).toBe(0);

    // The connection is clean for the next batch.
    await expect(commits.run(insert("next"))).resolves.toBe(1);
    expect(committedBodies()).toEqual(["next"]);
  });

  it("rejects every unit of a batch whose BEGIN fails (SQLITE_BUSY), then recovers", async () => {
    const commits = new GroupCommit(db);
    const other = new Database(file);
    others.push(other);
    other.exec("BEGIN IMMEDIATE"); // holds the write lock
    const results = await Promise.allSettled([commits.run(insert("a")), commits.run(insert("b"))]);
    expect(results).toMatchObject([
      { status: "rejected", reason: { code: "SQLITE_BUSY" } },
      { status: "rejected", reason: { code: "SQLITE_BUSY" } },
    ]);
    other.exec("ROLLBACK");
    await expect(commits.run(insert("c"))).resolves.toBe(1);
    expect(committedBodies()).toEqual(["c"]);
  });

  it("refuses to nest inside a transaction someone else opened", async () => {
    const commits = new GroupCommit(db);
    db.exec("BEGIN");
    await expect(commits.run(insert("nested"))).rejects.toThrow(/already open/);
    expect(db.inTransaction).toBe(true); // left alone: not ours
    db.exec("ROLLBACK");
    await expect(commits.run(insert("alone"))).resolves.toBe(1);
    expect(committedBodies()).toEqual(["alone"]);
  });

  it("gives up a batch whose transaction a unit ended, and runs the units after it in a new batch", async () => {
    const commits = new GroupCommit(db);
    const results = await Promise.allSettled([
      commits.run(insert("lost")),
      commits.run((db) => db.exec("ROLLBACK")),
      commits.run(insert("requeued")),
    ]);
    expect(results).toMatchObject([
      { status: "rejected", reason: { message: expect.stringMatching(/ended the batch's transaction/) } },
      { status: "rejected", reason: { message: expect.stringMatching(/ended the batch's transaction/) } },
      { status: "fulfilled", value: 1 },
    ]);
    expect(db.inTransaction).toBe(false);
    expect(commits.batches).toBe(1);
    expect(committedBodies()).toEqual(["requeued"]);
  });

  it("answers a caller only after COMMIT has returned", async () => {
    const commits = new GroupCommit(db);
    // Another connection already sees the write when the caller is answered.
    const seen = await commits.run(insert("x")).then(() => ({ inTransaction: db.inTransaction, committed: committedBodies() }));
    expect(seen).toEqual({ inTransaction: false, committed: ["x"] });
  });

  it("queues a unit's own run() call for a later batch instead of running it inside", async () => {
    const commits = new GroupCommit(db);
    let inner: Promise<number> | undefined;
    await commits.run((db) => {
      inner = commits.run(insert("inner"));
      return insert("outer")(db);
    });
    await expect(inner).resolves.toBe(2);
    expect(commits.batches).toBe(2);
  });

  it("close() lets queued units finish, then refuses new ones", async () => {
    const commits = new GroupCommit(db, { maxBatch: 2 });
    const queued = Array.from({ length: 5 }, (_, index) => commits.run(insert(`queued ${index}`)));
    const closed = commits.close();
    await expect(commits.run(insert("late"))).rejects.toThrow("store closed");
    await closed;
    await expect(Promise.all(queued)).resolves.toEqual([1, 2, 3, 4, 5]);
    expect(commits.batches).toBe(3);
    await expect(commits.run(insert("after close"))).rejects.toThrow("store closed");
    await expect(commits.close()).resolves.toBeUndefined();
    expect(committedBodies()).toEqual(Array.from({ length: 5 }, (_, index) => `queued ${index}`));
  });

  it("refuses a maxBatch that is not a positive integer", () => {
    expect(() => new GroupCommit(db, { maxBatch: 0 })).toThrow(RangeError);
    expect(() => new GroupCommit(db, { maxBatch: 1.5 })).toThrow(RangeError);
  });
});
