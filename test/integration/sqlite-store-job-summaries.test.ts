// The light read a callback makes of its backend's jobs on a head (migration 8): summaries written with
// each job, read from a covering index, that answer the aggregate roll-up exactly as the full jobs do.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aggregateRequest, checkContext, jobsWithCheckRuns, latestAttempts } from "../../src/checks/job-checks.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { DATABASE_FILE, SqliteStore } from "../../src/store/sqlite-store.js";
import type { JobSummary, StoredJob } from "../../src/store/store.js";

const NOW = 1_800_000_000_000;
const SHA = "abc";
const entry = { repo: "acme/npu", name: "npu", level: "L4" as const, policy: { block_pr: true } } as Parameters<typeof checkContext>[0];
const context = checkContext(entry, "up/stream", SHA, { checkPrefix: "oot", publicUrl: "https://relay.example", maxJobChecksPerBackend: 3 });

let dir: string;
let db: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-job-summaries-"));
});
afterEach(async () => {
  if (db?.open) db.close();
  await rm(dir, { recursive: true, force: true });
});

function openStore(): SqliteStore {
  db = new Database(path.join(dir, DATABASE_FILE));
  return new SqliteStore(db);
}

function job(fields: Partial<StoredJob>): StoredJob {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 7,
    runAttempt: 1,
    jobName: "test",
    upstreamRepo: "Up/Stream",
    prNumber: 5,
    headSha: SHA,
    backendName: "npu",
    level: "L4",
    workflowName: "ci",
    status: "in_progress",
    fingerprint: "f",
    report: { summary: "x".repeat(1000) },
    updatedAt: NOW,
    ...fields,
  };
}

/** What a summary must hold, taken from the full job. */
function expectedSummary({ deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt }: StoredJob): JobSummary {
  return { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt };
}

const onPr = <T extends JobSummary>(jobs: T[]) => jobs.filter((stored) => stored.prNumber !== null);

describe("backend job summaries", () => {
  it("lists every attempt of the backend on the head, oldest first, without the report", () => {
    const store = openStore();
    store.recordJob(job({ jobName: "build", status: "completed", conclusion: "success" }), { checkRuns: [] }, NOW);
    store.recordJob(job({ jobName: "test" }), { checkRuns: [] }, NOW);
    store.recordJob(job({ jobName: "test", runAttempt: 2, status: "completed", conclusion: "failure", updatedAt: NOW + 1 }), { checkRuns: [] }, NOW + 1);
    store.recordJob(job({ deliveryId: "self:schedule:9", prNumber: null, status: "completed", conclusion: "success" }), { checkRuns: [] }, NOW);
    store.recordJob(job({ backendName: "tpu" }), { checkRuns: [] }, NOW);
    store.recordJob(job({ headSha: "def" }), { checkRuns: [] }, NOW);
    // A later state of a stored attempt replaces its summary in place.
    store.recordJob(job({ jobName: "build", status: "completed", conclusion: "cancelled", updatedAt: NOW + 2 }), { checkRuns: [] }, NOW + 2);

    const summaries = store.backendJobSummaries("up/stream", "npu", SHA);
    expect(summaries).toEqual(store.shaJobs("up/stream", SHA).filter((job) => job.backendName === "npu").map(expectedSummary));
    expect(summaries.map((summary) => [summary.jobName, summary.runAttempt, summary.conclusion])).toEqual([
      ["build", 1, "cancelled"],
      ["test", 1, undefined],
      ["test", 2, "failure"],
      ["test", 1, "success"],
    ]);
    expect(summaries[1]).not.toHaveProperty("conclusion");
    // The callers' filter leaves the self-report out; the latest attempt of each job counts.
    expect(latestAttempts(onPr(summaries)).map((summary) => [summary.jobName, summary.runAttempt, summary.conclusion])).toEqual([
      ["build", 1, "cancelled"],
      ["test", 2, "failure"],
    ]);
  });

  it("is read from the covering index alone, never from the stored jobs", () => {
    const statements: string[] = [];
    db = new Database(path.join(dir, DATABASE_FILE), { verbose: (sql) => statements.push(String(sql)) });
    new SqliteStore(db).backendJobSummaries("up/stream", "npu", SHA);
    const read = statements.find((sql) => sql.includes("SELECT summary_json"));
    const plan = db.prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${read}`).all().map((row) => row.detail);
    expect(plan.join("\n")).toContain("USING COVERING INDEX jobs_summaries");
  });

  it("answers the roll-up as the full jobs do, over random reports", () => {
    const report = fc.record({
      jobName: fc.constantFrom("build", "test-1", "test-2", "lint"),
      deliveryId: fc.constantFrom("d1", "self:schedule:9"),
      runId: fc.integer({ min: 1, max: 3 }),
      runAttempt: fc.integer({ min: 1, max: 3 }),
      status: fc.constantFrom("in_progress" as const, "completed" as const),
      conclusion: fc.option(fc.constantFrom("success", "failure", "skipped", "cancelled", "timed_out"), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(report, { maxLength: 30 }), (reports) => {
        const store = new SqliteStore(new Database(":memory:"));
        reports.forEach(({ conclusion, deliveryId, ...fields }, index) => {
          const completed = fields.status === "completed" && conclusion !== undefined ? { conclusion } : {};
          const stored = job({ ...fields, ...completed, deliveryId, prNumber: deliveryId === "d1" ? 5 : null, updatedAt: NOW + index });
          store.recordJob(stored, { checkRuns: [] }, NOW + index);
        });
        const full = onPr(store.shaJobs("up/stream", SHA).filter((job) => job.backendName === "npu"));
        const summaries = onPr(store.backendJobSummaries("up/stream", "npu", SHA));
        expect(summaries).toEqual(full.map(expectedSummary));
        expect(jobsWithCheckRuns(context, summaries)).toEqual(jobsWithCheckRuns(context, full).map(expectedSummary));
        if (full.length > 0) expect(aggregateRequest(context, summaries, "u")).toEqual(aggregateRequest(context, full, "u"));
        store.close();
      }),
      { numRuns: 40 },
    );
  });
});

describe("migration 8", () => {
  it("fills the summaries of the jobs stored before it", () => {
    db = new Database(path.join(dir, DATABASE_FILE));
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const migration of MIGRATIONS.filter((candidate) => candidate.version <= 7)) {
      db.exec(migration.sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)").run(migration.version);
    }
    const older = [
      job({ jobName: "build", status: "completed", conclusion: "success" }),
      job({ jobName: "test" }),
      job({ jobName: "test", deliveryId: "self:schedule:9", prNumber: null, status: "completed", conclusion: "failure" }),
    ];
    for (const stored of older) {
      db.prepare(
        `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key, backend_name,
           head_sha, job_json, updated_at) VALUES (?, 'acme/npu', ?, ?, ?, 'up/stream', 'npu', ?, ?, ?)`,
      ).run(stored.deliveryId, stored.runId, stored.runAttempt, stored.jobName, SHA, JSON.stringify(stored), stored.updatedAt);
    }
    db.close();

    const store = openStore();
    expect(store.backendJobSummaries("up/stream", "npu", SHA)).toEqual(older.map(expectedSummary));
  });
});
