// The SQLite store on a real file: what is specific to it (schema migrations, pragmas, the schema
// refusing bad rows, unreadable stored requests, and data surviving a crash). What every Store must do
// is in the Store contract (test/contract/store-contract.ts, run by sqlite-store-contract.test.ts).
import { fork } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HUD_TABLE_TARGETS, parseQueuedRow } from "../../src/hud/rows.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import type { HeadFacts } from "../../src/domain/heads.js";
import { DATABASE_FILE, openSqliteStore, sqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { delivery, logEntry, NOW, work } from "../helpers/store-fixtures.js";
import { databaseAtVersion } from "../helpers/old-schema.js";

let root: string;
let dir: string;
let opened: Array<{ close(): unknown }>;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "relay-store-"));
  dir = root;
  opened = [];
});
afterEach(async () => {
  for (const handle of opened) await handle.close();
  await rm(root, { recursive: true, force: true });
});

function open(): Store {
  const store = openSqliteStore(dir);
  opened.push(store);
  return store;
}

/** A store plus a second look at the same connection, for what the Store interface does not expose. */
function openWithConnection(): { store: Store; db: Database.Database } {
  const db = new Database(path.join(dir, DATABASE_FILE));
  const store = sqliteStore(db);
  opened.push(store);
  return { store, db };
}

describe("opening", () => {
  it("creates the data directory, records each migration once and keeps data across reopening", async () => {
    dir = path.join(dir, "nested", "data");
    const first = open();
    await first.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
    await first.close();
    expect((await stat(path.join(dir, DATABASE_FILE))).isFile()).toBe(true);

    const { store, db } = openWithConnection();
    const migrations = db.prepare("SELECT version, applied_at FROM schema_migrations").all();
    expect(migrations).toEqual(MIGRATIONS.map((migration) => migration.version).map((version) => ({ version, applied_at: expect.any(Number) })));
    await store.close();

    const { store: again, db: sameFile } = openWithConnection();
    expect(sameFile.prepare("SELECT version, applied_at FROM schema_migrations").all()).toEqual(migrations);
    expect(await again.hasDelivery("d1")).toBe(true);
    expect((await again.outboxStats()).pending).toBe(1);
  });

  it("runs in WAL mode with synchronous FULL, a busy timeout, foreign keys and incremental auto-vacuum", () => {
    const { db } = openWithConnection();
    expect(db.pragma("auto_vacuum", { simple: true })).toBe(2); // INCREMENTAL
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
  });

  it("refuses a database migrated by a newer relay", async () => {
    const { store, db } = openWithConnection();
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)").run();
    await store.close();
    expect(() => openSqliteStore(dir)).toThrow(/schema version 99, newer than this relay knows \(15\)/);
  });

  it("queues the dispatches recorded before the HUD queue existed (migration 5), in the shape the writer reads", async () => {
    // A database as schema version 4 left it, with one sent and one skipped dispatch.
    const db = databaseAtVersion(path.join(dir, DATABASE_FILE), 4);
    db.prepare("INSERT INTO deliveries (id, event, payload_hash, accepted_at) VALUES ('d1', 'pull_request', 'h', 1)").run();
    const insert = db.prepare(
      `INSERT INTO dispatch_log (delivery_id, downstream_repo_key, downstream_repo, upstream_repo, event, action, pr_number, head_sha,
         backend_name, level, outcome, reason, attempts, created_at, sent_at) VALUES (?, ?, ?, 'up/stream', 'pull_request', 'opened', 7, 'abc', ?, ?, ?, ?, ?, ?, ?)`,
    );
    insert.run("d1", "acme/npu", "Acme/NPU", "npu", "L4", "sent", null, 1, NOW, NOW + 900);
    insert.run("d1", "beta/tpu", "beta/tpu", "tpu", "L3", "skipped", "untrusted_author", 0, NOW, null);
    db.close();

    const store = open();
    const queued = await store.pendingHudRows(10, HUD_TABLE_TARGETS);
    expect(queued.map((item) => [item.target, parseQueuedRow(item.target, item.row)])).toEqual([
      ["dispatches", { ok: true, row: expect.objectContaining({ downstream_repo: "acme/npu", outcome: "sent", reason: "", send_ms: 900, version: NOW + 900 }) }],
      ["dispatches", { ok: true, row: expect.objectContaining({ downstream_repo: "beta/tpu", outcome: "skipped", reason: "untrusted_author", sent_at: null, version: NOW }) }],
    ]);
  });
});

describe("migration 12 (cancel tasks)", () => {
  it("rebuilds the outbox keeping every row, id and claim, then takes cancel tasks after the last id", async () => {
    const db = databaseAtVersion(path.join(dir, DATABASE_FILE), 11);
    db.prepare(
      `INSERT INTO outbox (id, key, kind, repo, request_json, status, attempts, created_at, next_attempt_at, version, lease_owner, lease_until)
       VALUES (41, 'check:up/stream:oot / npu:abc', 'check_run', 'up/stream', '{"route":"POST /repos/{owner}/{repo}/check-runs","params":{}}',
         'pending', 2, 1, 1, 3, 'host:1:2:x', 99)`,
    ).run();
    expect(() => db.prepare("INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at) VALUES ('c', 'cancel', 'a/b', '{}', 'pending', 0, 1, 1)").run()).toThrow(/CHECK constraint/);
    db.close();

    const store = open();
    expect(await store.taskByKey("check:up/stream:oot / npu:abc")).toMatchObject({ id: 41, kind: "check_run", attempts: 2, version: 3 });
    expect(await store.claimOwners()).toEqual(["host:1:2:x"]);
    const cancel = {
      key: "cancel:acme/npu:9",
      kind: "cancel" as const,
      repo: "acme/npu",
      request: { route: "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", params: { owner: "acme", repo: "npu", run_id: 9 } },
    };
    expect(await store.acceptDelivery(delivery("close-1"), { tasks: [cancel], log: [] }, NOW)).toBe("accepted");
    expect(await store.taskByKey("cancel:acme/npu:9")).toMatchObject({ id: 42, kind: "cancel", request: cancel.request });
    const check = new Database(path.join(dir, DATABASE_FILE), { readonly: true });
    const indexes = check.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL ORDER BY name").pluck().all();
    check.close();
    expect(indexes).toEqual(["outbox_dispatch", "outbox_settled", "outbox_status_due"]);
  });
});

describe("migration 15 (crcr export rows)", () => {
  it("rebuilds the HUD queue keeping every row, id, refusal and the id counter, then takes crcr rows", async () => {
    const db = databaseAtVersion(path.join(dir, DATABASE_FILE), 14);
    const insert = db.prepare("INSERT INTO hud_rows (id, target, row_json, created_at, rejected_at, error) VALUES (?, ?, ?, ?, ?, ?)");
    insert.run(7, "results", '{"job":"a"}', NOW, null, null);
    insert.run(8, "dispatches", '{"d":1}', NOW + 1, NOW + 2, "row: bad");
    insert.run(9, "results", '{"job":"b"}', NOW + 3, null, null);
    db.prepare("DELETE FROM hud_rows WHERE id = 9").run(); // written: the counter stays at 9
    expect(() => insert.run(10, "crcr", "{}", NOW, null, null)).toThrow(/CHECK constraint/);
    db.close();

    const store = open();
    expect(await store.pendingHudRows(10)).toStrictEqual([{ id: 7, target: "results", row: { job: "a" } }]);
    expect(await store.hudQueueStats()).toEqual({ pending: 1, oldestPendingAt: NOW, rejected: 1 });
    await store.transaction((tx) => tx.queueHudRow("crcr", { dynamoKey: "k" }, NOW + 4));
    expect(await store.pendingHudRows(10, ["crcr"])).toStrictEqual([{ id: 10, target: "crcr", row: { dynamoKey: "k" } }]);
    const check = new Database(path.join(dir, DATABASE_FILE), { readonly: true });
    const indexes = check.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hud_rows' ORDER BY name").pluck().all();
    const plan = check.prepare("EXPLAIN QUERY PLAN SELECT id FROM hud_rows WHERE rejected_at IS NULL AND target = 'crcr' ORDER BY id LIMIT 5").all() as Array<{ detail: string }>;
    check.close();
    expect(indexes).toEqual(["hud_rows_pending", "hud_rows_pending_by_target", "hud_rows_rejected"]);
    // One index range in id order (no sort), whatever the other targets hold.
    expect(plan.map((step) => step.detail)).toEqual(["SEARCH hud_rows USING INDEX hud_rows_pending_by_target (target=?)"]);
  });
});

describe("acceptDelivery", () => {
  it("stores nothing when any part of the work breaks a schema constraint", async () => {
    const store = open();
    const bad = work("d1", ["acme/npu", "beta/xpu"]);
    bad.log[1] = logEntry("d1", "beta/xpu", { event: "issues" as "push" });
    await expect(store.acceptDelivery(delivery("d1"), bad, NOW)).rejects.toThrow(/CHECK constraint/);
    expect(await store.hasDelivery("d1")).toBe(false);
    expect(await store.outboxStats()).toEqual({ pending: 0, dead: 0 });
  });
});

describe("outbox", () => {
  it("dead-letters a task whose stored request cannot be read", async () => {
    const { store: direct, db } = openWithConnection();
    await direct.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"]), NOW);
    db.prepare("UPDATE outbox SET request_json = '{\"route\":' WHERE repo = 'acme/npu'").run();
    expect((await direct.dueTasks(NOW, 10)).map((task) => task.repo)).toEqual(["beta/xpu"]);
    expect((await direct.dispatchLog("d1"))[0]).toMatchObject({ outcome: "dead", reason: "unreadable_request", attempts: 1 });
    expect(await direct.outboxStats()).toMatchObject({ pending: 1, dead: 1 });
  });

  it.each([`{"route":"","params":{}}`, `{"route":"POST /x","params":[]}`, `{"params":{}}`, `"a string"`])(
    "dead-letters a task whose stored request is JSON but not a request (%s)",
    async (json) => {
      const { store: direct, db } = openWithConnection();
      await direct.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"]), NOW);
      db.prepare("UPDATE outbox SET request_json = ? WHERE repo = 'acme/npu'").run(json);
      expect((await direct.dueTasks(NOW, 10)).map((task) => task.repo)).toEqual(["beta/xpu"]);
      expect((await direct.dispatchLog("d1"))[0]).toMatchObject({ outcome: "dead", reason: "unreadable_request" });
    },
  );
});

describe("transactions", () => {
  const KEY = { upstreamRepo: "up/stream", headSha: "abc" };
  const HEAD: HeadFacts = { ...KEY, prNumber: 7, state: "open", labels: [], stateChangedAt: NOW };
  /** What a store read started inside a transaction's work saw, and when it was answered. */
  interface Answer {
    head: HeadFacts | undefined;
    workSettled: boolean;
    inTransaction: boolean;
  }

  it("answers a store read started inside a transaction's work only after the transaction rolled back, without its write", async () => {
    const { store, db } = openWithConnection();
    const boom = new Error("boom");
    let workSettled = false;
    let read: Promise<Answer> | undefined;
    const transaction = store.transaction(async (tx) => {
      await tx.putHead(HEAD);
      // Not awaited (awaiting it here would wait for this very transaction).
      read = store.head(KEY).then((head) => ({ head, workSettled, inTransaction: db.inTransaction }));
      expect(await tx.head(KEY)).toEqual(HEAD); // the work sees its own write
      workSettled = true;
      throw boom;
    });
    await expect(transaction).rejects.toBe(boom);
    expect(read).toBeDefined();
    expect(await read).toEqual({ head: undefined, workSettled: true, inTransaction: false });
    expect(await store.head(KEY)).toBeUndefined();
  });

  it("answers a store read started inside a transaction's work only after the transaction committed, with its write", async () => {
    const { store, db } = openWithConnection();
    let workSettled = false;
    let read: Promise<Answer> | undefined;
    await store.transaction(async (tx) => {
      read = store.head(KEY).then((head) => ({ head, workSettled, inTransaction: db.inTransaction }));
      await tx.putHead(HEAD);
      workSettled = true;
    });
    expect(read).toBeDefined();
    expect(await read).toEqual({ head: HEAD, workSettled: true, inTransaction: false });
  });
});

describe("durability", () => {
  it("keeps accepted work for the next process when the first one never closed its store", async () => {
    const crashed = open();
    await crashed.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
    const restarted = open();
    expect((await restarted.dueTasks(NOW, 10)).map((task) => task.key)).toEqual(["dispatch:d1:acme/npu"]);
    expect(await restarted.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu")]);
  });

  it("recovers a commit from the write-ahead log after the writer is killed", async () => {
    await open().close();
    const file = path.join(dir, DATABASE_FILE);
    const wal = `${file}-wal`;
    // The writer commits one row and then holds its connection open until it is killed. With automatic
    // checkpoints off the commit cannot reach the main file, and a connection that never closes never
    // removes the -wal file: after SIGKILL the commit exists only in the write-ahead log.
    // The writer must keep `db` reachable: better-sqlite3 closes a garbage-collected Database, and closing
    // the last connection checkpoints the log into the main file and deletes it. When nothing referenced
    // `db` after the script's top level ran, a GC in the child before the kill did exactly that (ENOENT
    // on the -wal file, at random).
    const script = path.join(dir, "writer.mjs");
    await writeFile(
      script,
      `import { createRequire } from "node:module";
       const [driver, file] = process.argv.slice(2);
       const Database = createRequire(import.meta.url)(driver);
       const db = new Database(file);
       const journalMode = db.pragma("journal_mode = WAL", { simple: true });
       db.pragma("synchronous = FULL");
       db.pragma("wal_autocheckpoint = 0");
       db.prepare("INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at)"
         + " VALUES ('check:killed', 'check_run', 'pytorch/pytorch', '{\\"route\\":\\"GET /\\",\\"params\\":{}}', 'pending', 0, 1, 1)").run();
       process.send({ committed: true, journalMode });
       setInterval(() => db.open, 60_000); // keeps db reachable (and open) until killed`,
    );
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const child = fork(script, [driver, file], { execArgv: [], stdio: "inherit" });
    const exited = once(child, "exit");
    // The writer's report, or a clear failure at once if it dies before committing (not a hang until the timeout).
    const reported = new Promise<unknown>((resolve, reject) => {
      child.once("message", resolve);
      child.once("error", reject);
      child.once("exit", (code, signal) => reject(new Error(`writer exited before committing (code ${code}, signal ${signal})`)));
    });
    try {
      expect(await reported).toEqual({ committed: true, journalMode: "wal" });

      // Before the kill: the commit is in the -wal file and not in the main file. A copy of the main
      // file alone (its own, empty write-ahead log) does not have the row.
      expect((await stat(wal)).size).toBeGreaterThan(0);
      const mainOnly = path.join(root, "main-only");
      await mkdir(mainOnly);
      await copyFile(file, path.join(mainOnly, DATABASE_FILE));
      const withoutWal = new Database(path.join(mainOnly, DATABASE_FILE));
      opened.push(withoutWal);
      expect(withoutWal.prepare("SELECT count(*) FROM outbox WHERE key = 'check:killed'").pluck().get()).toBe(0);
      withoutWal.close();

      process.kill(child.pid!, "SIGKILL");
      expect(await exited).toEqual([null, "SIGKILL"]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }

    // The killed writer neither checkpointed nor removed its log; the next process recovers the commit from it.
    expect((await stat(wal)).size).toBeGreaterThan(0);
    expect(await open().dueTasks(NOW, 10)).toMatchObject([{ key: "check:killed", request: { route: "GET /", params: {} } }]);
  });
});
