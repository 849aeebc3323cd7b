// Migrations 9 and 10 on a real database as schema version 8 left it: PR heads, backend heads, the
// latest attempt of each job with its counts and check-run ids are carried over from the old rows;
// closed_shas, hidden_checks, the outbox's generated check columns and jobs.summary_json are gone.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredJob } from "../../src/domain/jobs.js";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { aggregateCheckKey, queuedAggregateRequest } from "../../src/checks/aggregate.js";
import { stateHash } from "../../src/domain/state-hash.js";
import { reconcileOpenHeadsPage } from "../../src/state/policy.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { databaseAtVersion } from "../helpers/old-schema.js";
import { DATABASE_FILE, sqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

const T0 = 1_800_000_000_000;
const UP = "Up/Stream";

let dir: string;
let handles: Array<{ close(): unknown }>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-migration-9-"));
  handles = [];
});
afterEach(async () => {
  for (const handle of handles) await handle.close();
  await rm(dir, { recursive: true, force: true });
});

/** A database at schema version 8. */
const databaseAtVersion8 = () => databaseAtVersion(path.join(dir, DATABASE_FILE), 8);

interface OldLogRow {
  delivery: string;
  downstream: string;
  sha: string;
  pr?: number | null;
  event?: "pull_request" | "push";
  outcome: string;
  reason?: string | null;
  at: number;
  upstream?: string;
}

function insertLog(db: Database.Database, row: OldLogRow): void {
  db.prepare("INSERT OR IGNORE INTO deliveries (id, event, payload_hash, accepted_at) VALUES (?, ?, ?, ?)").run(
    row.delivery,
    row.event ?? "pull_request",
    `h-${row.delivery}`,
    row.at,
  );
  db.prepare(
    `INSERT INTO dispatch_log (delivery_id, downstream_repo_key, downstream_repo, upstream_repo, event, action, pr_number, head_sha,
       backend_name, level, outcome, reason, attempts, created_at, sent_at, hud_version)
     VALUES (?, ?, ?, ?, ?, 'synchronize', ?, ?, ?, 'L3', ?, ?, 1, ?, ?, ?)`,
  ).run(
    row.delivery,
    row.downstream.toLowerCase(),
    row.downstream,
    row.upstream ?? UP,
    row.event ?? "pull_request",
    row.pr === undefined ? 7 : row.pr,
    row.sha,
    row.downstream.split("/")[1]!.toLowerCase(),
    row.outcome,
    row.reason ?? null,
    row.at,
    row.outcome === "sent" ? row.at + 1 : null,
    row.at,
  );
}

function job(fields: Partial<StoredJob>): StoredJob {
  return {
    deliveryId: "d2",
    downstreamRepo: "Acme/NPU",
    runId: 100,
    runAttempt: 1,
    jobName: "test",
    upstreamRepo: UP,
    prNumber: 7,
    headSha: "new",
    backendName: "npu",
    level: "L3",
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    fingerprint: "f",
    report: { big: "x".repeat(200) },
    updatedAt: T0,
    ...fields,
  };
}

/** A job as recordJob stored it at version 8: the full JSON and its summary. */
function insertJob(db: Database.Database, stored: StoredJob): void {
  const { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt } = stored;
  const summary = { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt };
  db.prepare(
    `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key, backend_name, head_sha,
       job_json, updated_at, summary_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    deliveryId,
    downstreamRepo.toLowerCase(),
    runId,
    runAttempt,
    jobName,
    stored.upstreamRepo.toLowerCase(),
    stored.backendName,
    stored.headSha,
    JSON.stringify(stored),
    updatedAt,
    JSON.stringify(summary),
  );
}

function insertCheckRun(db: Database.Database, key: string, sha: string, status: "pending" | "sent", resultId: number | null, at: number): void {
  db.prepare(
    `INSERT INTO outbox (key, kind, repo, installation_id, request_json, status, attempts, created_at, next_attempt_at, result_id, finished_at)
     VALUES (?, 'check_run', ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    key,
    UP,
    JSON.stringify({ route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "Up", repo: "Stream", head_sha: sha, status: "completed" } }),
    status,
    status === "sent" ? 1 : 0,
    at,
    at,
    resultId,
    status === "sent" ? at : null,
  );
}

function openMigrated(): { store: Store; db: Database.Database } {
  const db = new Database(path.join(dir, DATABASE_FILE));
  const store = sqliteStore(db);
  handles.push(store);
  return { store, db };
}

const tables = (db: Database.Database) => db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all();
const columns = (db: Database.Database, table: string) => db.prepare<[], string>(`SELECT name FROM pragma_table_xinfo('${table}')`).pluck().all();

describe("migration 9", () => {
  it("carries heads, backend heads, latest attempts with their counts and check-run ids over from a version 8 database", async () => {
    const db = databaseAtVersion8();
    // PR 7: head "old" superseded by "new" (closed_shas), then "new" dispatched twice to npu (d1, then re-run d2).
    insertLog(db, { delivery: "d0", downstream: "Acme/NPU", sha: "old", outcome: "sent", at: T0 - 1000 });
    insertLog(db, { delivery: "d1", downstream: "Acme/NPU", sha: "new", outcome: "sent", at: T0 });
    insertLog(db, { delivery: "d1", downstream: "beta/tpu", sha: "new", outcome: "skipped", reason: "untrusted_author", at: T0 });
    insertLog(db, { delivery: "d1", downstream: "gamma/xpu", sha: "new", outcome: "dead", reason: "http_404", at: T0 });
    insertLog(db, { delivery: "d2", downstream: "Acme/NPU", sha: "new", outcome: "sent", reason: "never_reported", at: T0 + 100 });
    insertLog(db, { delivery: "d2", downstream: "delta/gpu", sha: "new", outcome: "pending", at: T0 + 100 });
    // PR 8 (a lower-case spelling of the repo), closed.
    insertLog(db, { delivery: "d3", downstream: "acme/npu", sha: "gone", pr: 8, upstream: "up/stream", outcome: "sent", at: T0 + 200 });
    // A push: no head.
    insertLog(db, { delivery: "p1", downstream: "acme/npu", sha: "trunk", pr: null, event: "push", outcome: "sent", at: T0 + 300 });
    db.prepare("INSERT INTO closed_shas (upstream_repo_key, head_sha, reason, closed_at) VALUES ('up/stream', 'old', 'superseded', ?)").run(T0 + 5);
    db.prepare("INSERT INTO closed_shas (upstream_repo_key, head_sha, reason, closed_at) VALUES ('up/stream', 'gone', 'closed', ?)").run(T0 + 500);
    db.prepare("INSERT INTO hidden_checks (upstream_repo_key, backend_name, head_sha, hidden_at) VALUES ('up/stream', 'npu', 'new', ?)").run(T0);

    // Jobs, in the order they were stored. Of d1 (an earlier dispatch) nothing counts.
    insertJob(db, job({ deliveryId: "d1", jobName: "stale", runId: 90, conclusion: "failure" }));
    insertJob(db, job({ jobName: "build", runId: 100, status: "in_progress", conclusion: undefined }));
    insertJob(db, job({ jobName: "test", runId: 100, conclusion: "failure" }));
    insertJob(db, job({ jobName: "lint", runId: 101 }));
    insertJob(db, job({ jobName: "test", runId: 100, runAttempt: 2, conclusion: "success", updatedAt: T0 + 10 })); // a re-run that passed
    insertJob(db, job({ jobName: "build", runId: 99, conclusion: "cancelled" })); // a late report of an older run: ignored
    insertJob(db, job({ deliveryId: "self:1", prNumber: null, jobName: "self" })); // a self-report
    insertJob(db, job({ deliveryId: "d0", headSha: "old", jobName: "build", conclusion: "failure" }));
    insertJob(db, job({ deliveryId: "p1", headSha: "trunk", prNumber: null, jobName: "build" }));

    // Check runs: sent (with ids), one still pending without one; a dispatch task.
    insertCheckRun(db, "check:up/stream:npu:new", "new", "sent", 5001, T0);
    insertCheckRun(db, "check:up/stream:npu:new:ci/test", "new", "sent", 5002, T0);
    insertCheckRun(db, "check:up/stream:npu:old", "old", "pending", null, T0 - 500);
    insertCheckRun(db, "check:up/stream:npu:gone", "gone", "sent", 5003, T0 + 200);
    db.prepare(
      `INSERT INTO outbox (key, kind, repo, request_json, dispatch_delivery_id, dispatch_repo, status, attempts, created_at, next_attempt_at, result_id)
       VALUES ('dispatch:d2:acme/npu', 'dispatch', 'acme/npu', '{"route":"POST /x","params":{}}', 'd2', 'Acme/NPU', 'sent', 1, ?, ?, 9)`,
    ).run(T0, T0);
    db.close();

    const { store, db: migrated } = openMigrated();
    expect(migrated.prepare<[], number>("SELECT version FROM schema_migrations ORDER BY version").pluck().all()).toEqual(MIGRATIONS.map((migration) => migration.version));

    // Heads: one per PR head, superseded/closed from closed_shas (since when), else open since its newest dispatch; labels unknown.
    expect(await store.head({ upstreamRepo: "up/stream", headSha: "new" })).toStrictEqual({ upstreamRepo: UP, headSha: "new", prNumber: 7, state: "open", stateChangedAt: T0 + 100 });
    expect(await store.head({ upstreamRepo: UP, headSha: "old" })).toStrictEqual({ upstreamRepo: UP, headSha: "old", prNumber: 7, state: "superseded", stateChangedAt: T0 + 5 });
    expect(await store.head({ upstreamRepo: UP, headSha: "gone" })).toMatchObject({ prNumber: 8, state: "closed", stateChangedAt: T0 + 500 });
    expect(await store.head({ upstreamRepo: UP, headSha: "trunk" })).toBeUndefined();
    expect((await store.openHeadsOfPr(UP, 7)).map((found) => found.headSha)).toEqual(["new"]);
    expect((await store.openHeads(undefined, 10)).map((found) => found.headSha)).toEqual(["new"]);

    // Backend heads: the newest dispatch of each backend on each head, skipped ones left out.
    const key = { upstreamRepo: UP, headSha: "new", downstreamRepo: "acme/npu" };
    expect((await store.backendHeads({ upstreamRepo: UP, headSha: "new" })).map((found) => [found.downstreamRepo, found.deliveryId, found.dispatchOutcome])).toEqual([
      ["Acme/NPU", "d2", "sent"],
      ["delta/gpu", "d2", "pending"],
      ["gamma/xpu", "d1", "dead"],
    ]);
    expect(await store.backendHead({ ...key, downstreamRepo: "gamma/xpu" })).toMatchObject({ dispatchReason: "http_404" });
    expect(await store.backendHead({ ...key, downstreamRepo: "gamma/xpu" })).not.toHaveProperty("unreported");
    expect(await store.backendHeadOfDispatch("d1", "acme/npu")).toBeUndefined();

    // Latest attempts of d2's jobs: seq by first report, later attempts win, the late older run is ignored.
    const npu = (await store.backendHead(key))!;
    expect(npu).toMatchObject({
      upstreamRepo: UP,
      backendName: "npu",
      level: "L3",
      unreported: "never_reported",
      counts: { jobs: 3, running: 1, conclusions: { success: 2 } },
      nextSeq: 3,
      newest: { jobName: "test", runAttempt: 2, conclusion: "success" },
    });
    expect(npu).not.toHaveProperty("dispatchReason");
    expect(npu).not.toHaveProperty("frameHash");
    expect(await store.backendHeadOfDispatch("d2", "acme/npu")).toStrictEqual(npu);
    expect((await store.attemptsBelowSeq(key, 10)).map((found) => [found.jobName, found.seq, found.runId, found.runAttempt, found.status])).toEqual([
      ["build", 0, 100, 1, "in_progress"],
      ["test", 1, 100, 2, "completed"],
      ["lint", 2, 101, 1, "completed"],
    ]);
    expect(await store.latestAttempt(key, "ci", "test")).toStrictEqual({
      deliveryId: "d2",
      downstreamRepo: "Acme/NPU",
      runId: 100,
      runAttempt: 2,
      jobName: "test",
      prNumber: 7,
      workflowName: "ci",
      status: "completed",
      conclusion: "success",
      updatedAt: T0 + 10,
      seq: 1,
    });
    expect(await store.latestAttempt(key, "ci", "build")).not.toHaveProperty("conclusion");
    expect((await store.listedAttempts(key, 1)).map((found) => found.jobName)).toEqual(["build"]); // the running one first
    expect(await store.latestAttempt(key, "ci", "stale")).toBeUndefined();
    expect(await store.latestAttempt(key, "ci", "self")).toBeUndefined();
    // The superseded head's backend keeps its own latest attempts.
    expect(await store.backendHead({ ...key, headSha: "old" })).toMatchObject({ deliveryId: "d0", counts: { jobs: 1, running: 0, conclusions: { failure: 1 } }, nextSeq: 1 });
    // A backend head with no jobs starts from nothing.
    expect(await store.backendHead({ ...key, downstreamRepo: "delta/gpu" })).toMatchObject({ counts: { jobs: 0, running: 0, conclusions: {} }, nextSeq: 0 });

    // The jobs themselves are all still there, without their summary.
    expect(await store.shaJobs(UP, "new")).toHaveLength(7);
    expect(await store.getJob({ deliveryId: "d2", downstreamRepo: "acme/npu", runId: 100, runAttempt: 2, jobName: "test" })).toMatchObject({ conclusion: "success", report: { big: expect.any(String) } });

    // Check runs keep their GitHub ids, under their heads; the pending one has none yet.
    expect(await store.checkRunId("check:up/stream:npu:new")).toBe(5001);
    expect(await store.checkRunId("check:up/stream:npu:new:ci/test")).toBe(5002);
    expect(await store.checkRunId("check:up/stream:npu:gone")).toBe(5003);
    // ... and the hash of the state last queued for them (the one the old relay stored in its task).
    expect(await store.checkRun("check:up/stream:npu:old")).toStrictEqual({
      desiredHash: stateHash({ owner: "Up", repo: "Stream", head_sha: "old", status: "completed" }),
    });
    expect(await store.checkRun("dispatch:d2:acme/npu")).toBeUndefined();
    expect(migrated.prepare("SELECT key, upstream_repo_key, head_sha FROM check_runs ORDER BY key").all()).toEqual([
      { key: "check:up/stream:npu:gone", upstream_repo_key: "up/stream", head_sha: "gone" },
      { key: "check:up/stream:npu:new", upstream_repo_key: "up/stream", head_sha: "new" },
      { key: "check:up/stream:npu:new:ci/test", upstream_repo_key: "up/stream", head_sha: "new" },
      { key: "check:up/stream:npu:old", upstream_repo_key: "up/stream", head_sha: "old" },
    ]);
    // The pending task survives and still goes out.
    expect((await store.dueTasks(T0, 10)).map((task) => task.key)).toEqual(["check:up/stream:npu:old"]);

    // What the new state replaces is gone.
    expect(tables(migrated)).not.toContain("closed_shas");
    expect(tables(migrated)).not.toContain("hidden_checks");
    expect(tables(migrated)).toEqual(expect.arrayContaining(["heads", "backend_heads", "job_latest", "check_runs"]));
    for (const column of ["check_repo_key", "check_backend", "head_sha", "check_status"]) expect(columns(migrated, "outbox")).not.toContain(column);
    expect(columns(migrated, "jobs")).not.toContain("summary_json");
    expect(columns(migrated, "jobs")).toEqual(expect.arrayContaining(["status", "started_at", "pr_number"]));
    expect(migrated.pragma("foreign_key_check")).toEqual([]);
    expect(migrated.pragma("integrity_check", { simple: true })).toBe("ok");
  });

  it("keeps the hash of each check run's queued state, so the first walk after the upgrade rewrites only what changed", async () => {
    const db = databaseAtVersion8();
    const parsed = parseAllowlist(`L4:\n  - acme/npu: "@oncall"\n  - beta/xpu: "@oncall"\n`);
    if (!parsed.ok) throw new Error("bad allowlist");
    const [npu, xpu] = parsed.allowlist.entries;
    for (const [entry, delivery] of [[npu!, "d1"], [xpu!, "d2"]] as const) {
      insertLog(db, { delivery, downstream: entry.repo, sha: "open-head", outcome: "sent", at: T0 });
    }
    // What the old relay queued for each aggregate: npu's is what the state core renders now; xpu's says something else.
    const queued = (entry: typeof npu, delivery: string) =>
      queuedAggregateRequest({ upstreamRepo: UP, headSha: "open-head", prNumber: 7, entry: entry!, naming: { checkPrefix: "oot" }, deliveryId: delivery, detailsUrl: `https://github.com/${entry!.repo}/actions` });
    const stale = queued(xpu, "d2");
    stale.params.output = { title: "Dispatched", summary: "an older wording" };
    for (const [key, request] of [[aggregateCheckKey(UP, "npu", "open-head"), queued(npu, "d1")], [aggregateCheckKey(UP, "xpu", "open-head"), stale]] as const) {
      db.prepare(
        `INSERT INTO outbox (key, kind, repo, installation_id, request_json, status, attempts, created_at, next_attempt_at, result_id, finished_at)
         VALUES (?, 'check_run', ?, 1, ?, 'sent', 1, ?, ?, 99, ?)`,
      ).run(key, UP, JSON.stringify(request), T0, T0, T0);
    }
    db.close();
    const { store } = openMigrated();
    const settings = {
      checkPrefix: "oot",
      labelPrefix: "ciflow/oot/",
      maxJobChecksPerBackend: 50,
      webBaseUrl: "https://github.com",
      publicUrl: "https://relay.example",
      startTimeoutMs: 7_200_000,
      checkUpdateDelayMs: 0, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
    };
    const page = await reconcileOpenHeadsPage(store, undefined, 10, { allowlist: parsed.allowlist, settings, now: T0 + 1000 });
    expect(page).toMatchObject({ heads: 1, queued: 1 });
    expect((await store.dueTasks(T0 + 1000, 10)).map((task) => task.key)).toEqual([aggregateCheckKey(UP, "xpu", "open-head")]);
  });

  it("migrates an empty version 8 database, and a reopened store migrates nothing again", async () => {
    databaseAtVersion8().close();
    const { store, db } = openMigrated();
    expect(await store.openHeads(undefined, 10)).toEqual([]);
    expect(db.prepare("SELECT count(*) AS n FROM job_latest").get()).toEqual({ n: 0 });
    await store.close();
    handles.pop();
    const { db: again } = openMigrated();
    expect(again.prepare<[], number>("SELECT count(*) FROM schema_migrations").pluck().get()).toBe(MIGRATIONS.length);
  });
});
