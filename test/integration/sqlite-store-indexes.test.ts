// Migration 7 on real SQLite files: the per-event lookups read indexed columns generated from the key
// and the stored JSON, existing rows included, and answer exactly as the LIKE/json_extract scans did.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { DATABASE_FILE, SqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

// The queries as schema version 6 answered them (before the generated columns).
const OLD_CHECK_RUN_TASKS = `SELECT id FROM outbox WHERE kind = 'check_run' AND key LIKE ? ESCAPE '\\'
  AND json_extract(request_json, '$.params.head_sha') = ? ORDER BY id`;
const OLD_OPEN_BACKEND_CHECK_RUNS = `SELECT id FROM outbox WHERE kind = 'check_run' AND key LIKE ? ESCAPE '\\'
  AND json_extract(request_json, '$.params.status') <> 'completed' ORDER BY id`;
const OLD_STALE_JOBS = `SELECT json_extract(job_json, '$.jobName') FROM jobs WHERE json_extract(job_json, '$.status') = 'in_progress'
  AND json_extract(job_json, '$.startedAt') < ? ORDER BY updated_at LIMIT ?`;

let dir: string;
let opened: Database.Database[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-store-indexes-"));
  opened = [];
});
afterEach(async () => {
  for (const db of opened) if (db.open) db.close();
  await rm(dir, { recursive: true, force: true });
});

/** A database as schema version 6 left it. */
function databaseAtVersion6(): Database.Database {
  const db = new Database(path.join(dir, DATABASE_FILE));
  opened.push(db);
  db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  for (const migration of MIGRATIONS.filter((candidate) => candidate.version <= 6)) {
    db.exec(migration.sql);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)").run(migration.version);
  }
  return db;
}

function insertCheckRun(db: Database.Database, key: string, params: Record<string, unknown>): void {
  db.prepare(
    `INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at)
     VALUES (?, 'check_run', 'up/stream', ?, 'sent', 1, ?, ?)`,
  ).run(key, JSON.stringify({ route: "POST /repos/{owner}/{repo}/check-runs", params }), NOW, NOW);
}

function insertJob(db: Database.Database, jobName: string, status: string, startedAt: number | undefined, updatedAt: number): void {
  const job = { jobName, status, ...(startedAt !== undefined && { startedAt }) };
  db.prepare(
    `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key, backend_name,
       head_sha, job_json, updated_at) VALUES ('d1', 'acme/npu', 1, 1, ?, 'up/stream', 'npu', 'abc', ?, ?)`,
  ).run(jobName, JSON.stringify(job), updatedAt);
}

/** Opens the file as the relay does (migrating it), recording every statement it runs with its values. */
function openRecording(): { store: Store; statements: string[]; plan: (sql: string) => string[] } {
  const statements: string[] = [];
  const db = new Database(path.join(dir, DATABASE_FILE), { verbose: (sql) => statements.push(String(sql)) });
  opened.push(db);
  const store = new SqliteStore(db);
  const plan = (sql: string) => db.prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all().map((row) => row.detail);
  return { store, statements, plan };
}

describe("migration 7", () => {
  it("fills the new columns of existing rows, and the lookups answer as the scans did", () => {
    const db = databaseAtVersion6();
    insertCheckRun(db, "check:up/stream:npu:abc", { head_sha: "abc", status: "in_progress" });
    insertCheckRun(db, "check:up/stream:npu:abc:ci/test", { head_sha: "abc", status: "completed", conclusion: "success" });
    insertCheckRun(db, "check:up/stream:tpu:abc", { head_sha: "abc", status: "queued" });
    insertCheckRun(db, "check:up/stream:npu:def", { head_sha: "def", status: "queued" });
    insertCheckRun(db, "check:up/stream2:npu:abc", { head_sha: "abc", status: "queued" }); // a longer repo name
    insertCheckRun(db, "check:up/stream:npu-2:abc", { head_sha: "abc", status: "queued" }); // a longer backend name
    insertCheckRun(db, "check:up/stream:npu:ghi", { head_sha: "ghi" }); // no status: never "open"
    db.prepare(
      `INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at)
       VALUES ('dispatch:d1:acme/npu', 'dispatch', 'acme/npu', ?, 'sent', 1, ?, ?)`,
    ).run(JSON.stringify({ route: "POST /repos/{owner}/{repo}/dispatches", params: { head_sha: "abc", status: "x" } }), NOW, NOW);
    insertJob(db, "running-old", "in_progress", NOW - 10 * HOUR, NOW - 10 * HOUR);
    insertJob(db, "running-new", "in_progress", NOW - HOUR, NOW - HOUR);
    insertJob(db, "running-unstarted", "in_progress", undefined, NOW - 20 * HOUR);
    insertJob(db, "done", "completed", NOW - 30 * HOUR, NOW - 29 * HOUR);
    insertJob(db, "running-older", "in_progress", NOW - 12 * HOUR, NOW - 11 * HOUR);

    const before = {
      shaAbc: db.prepare(OLD_CHECK_RUN_TASKS).pluck().all("check:up/stream:%", "abc"),
      openNpu: db.prepare(OLD_OPEN_BACKEND_CHECK_RUNS).pluck().all("check:up/stream:npu:%"),
      stale: db.prepare(OLD_STALE_JOBS).pluck().all(NOW - 5 * HOUR, 10),
    };
    expect(before.shaAbc).toHaveLength(4);
    expect(before.openNpu).toHaveLength(2);
    expect(before.stale).toEqual(["running-older", "running-old"]);
    // An unreadable request (which the scans above would have failed on) does not fail the migration.
    db.prepare(
      `INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at)
       VALUES ('check:up/stream:npu:bad', 'check_run', 'up/stream', '{"route":', 'pending', 0, ?, ?)`,
    ).run(NOW, NOW);
    db.close();

    const { store } = openRecording();
    expect(store.checkRunTasks("Up/Stream", "abc").map((task) => task.id)).toEqual(before.shaAbc);
    expect(store.openBackendCheckRuns("up/stream", "NPU").map((task) => task.id)).toEqual(before.openNpu);
    expect(store.staleJobs(NOW - 5 * HOUR, 10).map((job) => job.jobName)).toEqual(before.stale);

    const migrated = new Database(path.join(dir, DATABASE_FILE), { readonly: true });
    opened.push(migrated);
    expect(migrated.prepare("SELECT key, check_repo_key, check_backend, head_sha, check_status FROM outbox ORDER BY id").all()).toEqual([
      { key: "check:up/stream:npu:abc", check_repo_key: "up/stream", check_backend: "npu", head_sha: "abc", check_status: "in_progress" },
      { key: "check:up/stream:npu:abc:ci/test", check_repo_key: "up/stream", check_backend: "npu", head_sha: "abc", check_status: "completed" },
      { key: "check:up/stream:tpu:abc", check_repo_key: "up/stream", check_backend: "tpu", head_sha: "abc", check_status: "queued" },
      { key: "check:up/stream:npu:def", check_repo_key: "up/stream", check_backend: "npu", head_sha: "def", check_status: "queued" },
      { key: "check:up/stream2:npu:abc", check_repo_key: "up/stream2", check_backend: "npu", head_sha: "abc", check_status: "queued" },
      { key: "check:up/stream:npu-2:abc", check_repo_key: "up/stream", check_backend: "npu-2", head_sha: "abc", check_status: "queued" },
      { key: "check:up/stream:npu:ghi", check_repo_key: "up/stream", check_backend: "npu", head_sha: "ghi", check_status: null },
      { key: "dispatch:d1:acme/npu", check_repo_key: null, check_backend: null, head_sha: null, check_status: null },
      { key: "check:up/stream:npu:bad", check_repo_key: "up/stream", check_backend: "npu", head_sha: null, check_status: null },
    ]);
    expect(migrated.prepare("SELECT job_name, status, started_at FROM jobs WHERE job_name LIKE 'running-%' ORDER BY rowid").all()).toEqual([
      { job_name: "running-old", status: "in_progress", started_at: NOW - 10 * HOUR },
      { job_name: "running-new", status: "in_progress", started_at: NOW - HOUR },
      { job_name: "running-unstarted", status: "in_progress", started_at: null },
      { job_name: "running-older", status: "in_progress", started_at: NOW - 12 * HOUR },
    ]);
  });

  it("keeps the columns current through every write: a new state of a check run moves it between the sets", () => {
    databaseAtVersion6().close();
    const { store } = openRecording();
    const task = (status: string) => ({
      key: "check:up/stream:npu:abc",
      kind: "check_run" as const,
      repo: "up/stream",
      request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { head_sha: "abc", status } },
    });
    store.syncCheckRuns([task("queued")], NOW);
    expect(store.openBackendCheckRuns("up/stream", "npu")).toHaveLength(1);
    store.syncCheckRuns([task("completed")], NOW + 1);
    expect(store.openBackendCheckRuns("up/stream", "npu")).toHaveLength(0);
    expect(store.checkRunTasks("up/stream", "abc").map((found) => found.request.params.status)).toEqual(["completed"]);
  });
});

describe("query plans", () => {
  it("the per-event and per-minute lookups search an index instead of scanning a table", () => {
    databaseAtVersion6().close();
    const { store, statements, plan } = openRecording();
    const lookups: [string, () => unknown, string][] = [
      ["checkRunTasks", () => store.checkRunTasks("up/stream", "abc"), "outbox_check_by_sha"],
      ["openBackendCheckRuns", () => store.openBackendCheckRuns("up/stream", "npu"), "outbox_check_open"],
      ["staleJobs", () => store.staleJobs(NOW, 100), "jobs_in_progress"],
      ["shaJobs", () => store.shaJobs("up/stream", "abc"), "jobs_by_sha"],
      ["unreportedDispatches", () => store.unreportedDispatches(NOW, 100), "dispatch_log_sent"],
    ];
    for (const [name, lookup, index] of lookups) {
      statements.length = 0;
      lookup();
      expect(statements, name).toHaveLength(1);
      const details = plan(statements[0]!);
      expect(details.join("\n"), name).toContain(`USING INDEX ${index}`);
      expect(details.filter((detail) => detail.startsWith("SCAN")), name).toEqual([]);
    }
  });

  it("retention finds what it deletes through indexes too", () => {
    databaseAtVersion6().close();
    const { store, statements, plan } = openRecording();
    statements.length = 0;
    store.prune(NOW, { retentionMs: 14 * 24 * HOUR, maxRowsPerTable: 1000 });
    const deletes = statements.filter((sql) => sql.startsWith("DELETE"));
    expect(deletes).toHaveLength(6);
    for (const sql of deletes) expect(plan(sql).filter((detail) => detail.startsWith("SCAN")), sql).toEqual([]);
  });
});

describe("a populated store", () => {
  it("prints checkRunTasks before and after migration 7 at 200k outbox rows (a measurement, not asserted)", () => {
    const rows = 200_000;
    const db = databaseAtVersion6();
    // 20k PR heads × 10 check runs (5 backends, an aggregate and a job each), in one transaction.
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO outbox (key, kind, repo, request_json, status, attempts, created_at, next_attempt_at)
       SELECT printf('check:up/stream:b%d:sha%d:job%d', i % 5, i / 10, i), 'check_run', 'up/stream',
         json_object('route', 'POST /repos/{owner}/{repo}/check-runs',
           'params', json_object('head_sha', printf('sha%d', i / 10), 'status', 'completed', 'name', printf('oot / b%d / job %d', i % 5, i))),
         'sent', 1, ?, ? FROM n`,
    ).run(rows, NOW, NOW);
    const timed = (run: () => unknown[]) => {
      const start = performance.now();
      const found = run().length;
      return { found, ms: Math.round((performance.now() - start) * 10) / 10 };
    };
    const before = timed(() => db.prepare(OLD_CHECK_RUN_TASKS).all("check:up/stream:%", "sha12345"));
    db.close();
    const migrateStart = performance.now();
    const { store } = openRecording();
    const migrationMs = Math.round(performance.now() - migrateStart);
    const after = timed(() => store.checkRunTasks("up/stream", "sha12345"));
    console.log(
      `checkRunTasks at ${rows} outbox rows: ${before.ms} ms before migration 7 (LIKE + json_extract scan), ` +
        `${after.ms} ms after (index); migration 7 took ${migrationMs} ms; ${after.found} tasks found`,
    );
    expect(after.found).toBe(before.found);
  });
});
