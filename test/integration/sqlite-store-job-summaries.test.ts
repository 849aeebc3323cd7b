// What the aggregate reads of a backend's jobs on a head: the latest attempt of each job (job_latest) and
// the backend head's counts, kept by each report in O(1) work, answer exactly as a roll-up of every stored
// job does; and jobs stored before the fact tables (migrations 8 → 9 → 10) are carried over.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { countAttempt, isLaterAttempt, jobIdentity, NO_JOBS, type JobCounts, type JobSummary } from "../../src/domain/jobs.js";
import { recordJob } from "../../src/state/reports.js";
import type { StateContext } from "../../src/state/context.js";
import { databaseAtVersion } from "../helpers/old-schema.js";
import { DATABASE_FILE, sqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import type { StoredJob } from "../../src/domain/jobs.js";

const NOW = 1_800_000_000_000;
const SHA = "abc";
const KEY = { upstreamRepo: "Up/Stream", headSha: SHA, downstreamRepo: "Acme/NPU" };
// Without an allowlist the state core queues no check runs: only the facts move.
const CONTEXT: StateContext = {
  allowlist: undefined,
  settings: {
    checkPrefix: "oot",
    labelPrefix: "ciflow/oot/",
    maxJobChecksPerBackend: 3,
    webBaseUrl: "https://github.example",
    publicUrl: "https://relay.example",
    startTimeoutMs: 30 * 60_000,
    checkUpdateDelayMs: 5_000, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
  },
  now: NOW,
};

let dir: string;
let db: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-job-summaries-"));
});
afterEach(async () => {
  if (db?.open) db.close();
  await rm(dir, { recursive: true, force: true });
});

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
function summaryOf({ deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt }: StoredJob): JobSummary {
  return { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt };
}

/** An open PR head with npu dispatched to it by d1 (what acceptDispatches leaves). */
async function dispatched(store: Store): Promise<void> {
  await store.putHead({ upstreamRepo: "Up/Stream", headSha: SHA, prNumber: 5, state: "open", labels: [], stateChangedAt: NOW });
  await store.putBackendHead({ ...KEY, backendName: "npu", level: "L4", deliveryId: "d1", dispatchOutcome: "sent", counts: NO_JOBS, nextSeq: 0 });
}

/** The roll-up computed from every stored job: latest attempt per job (in report order), seq by first report. */
function rollUp(reports: readonly StoredJob[]) {
  const latest = new Map<string, { job: StoredJob; seq: number }>();
  let counts: JobCounts = NO_JOBS;
  let newest: StoredJob | undefined;
  for (const report of reports) {
    if (report.deliveryId !== "d1" || report.prNumber === null) continue;
    const previous = latest.get(jobIdentity(report));
    if (previous && !isLaterAttempt(report, previous.job)) continue;
    counts = countAttempt(counts, previous?.job, report);
    latest.set(jobIdentity(report), { job: report, seq: previous?.seq ?? latest.size });
    newest = report;
  }
  const attempts = [...latest.values()].map(({ job: stored, seq }) => ({ ...summaryOf(stored), seq })).sort((a, b) => a.seq - b.seq);
  return { counts, newest, attempts };
}

const passed = (summary: JobSummary) => summary.status === "completed" && summary.conclusion === "success";

describe("latest attempts and counts", () => {
  it("answer the roll-up of every stored job, over random reports", async () => {
    const report = fc.record({
      jobName: fc.constantFrom("build", "test-1", "test-2", "lint", "docs"),
      deliveryId: fc.constantFrom("d1", "d1", "d0", "self:schedule:9"),
      runId: fc.integer({ min: 1, max: 3 }),
      runAttempt: fc.integer({ min: 1, max: 3 }),
      status: fc.constantFrom("in_progress" as const, "completed" as const),
      conclusion: fc.option(fc.constantFrom("success", "failure", "skipped", "cancelled", "timed_out"), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(report, { maxLength: 30 }), fc.integer({ min: 1, max: 6 }), async (reports, limit) => {
        const store = sqliteStore(new Database(":memory:"));
        await dispatched(store);
        const stored = reports.map(({ conclusion, deliveryId, ...fields }, index) => {
          const completed = fields.status === "completed" && conclusion !== undefined ? { conclusion } : {};
          return job({ ...fields, ...completed, deliveryId, prNumber: deliveryId.startsWith("self:") ? null : 5, updatedAt: NOW + index });
        });
        for (const [index, reported] of stored.entries()) {
          await store.transaction((tx) => recordJob(tx, reported, undefined, { ...CONTEXT, now: NOW + index }));
        }
        const expected = rollUp(stored);
        const backend = (await store.backendHead(KEY))!;
        expect(backend.counts).toEqual(expected.counts);
        expect(backend.nextSeq).toBe(expected.attempts.length);
        if (expected.newest) expect(backend.newest).toEqual({ ...summaryOf(expected.newest), seq: expect.any(Number) });
        else expect(backend).not.toHaveProperty("newest");
        expect(await store.attemptsBelowSeq(KEY, 1_000)).toEqual(expected.attempts);
        expect(await store.attemptsBelowSeq(KEY, 2)).toEqual(expected.attempts.filter((attempt) => attempt.seq < 2));
        const listed = [...expected.attempts.filter((a) => !passed(a)), ...expected.attempts.filter(passed)].slice(0, limit).sort((a, b) => a.seq - b.seq);
        expect(await store.listedAttempts(KEY, limit)).toEqual(listed);
        for (const attempt of expected.attempts) expect(await store.latestAttempt(KEY, attempt.workflowName, attempt.jobName)).toEqual(attempt);
        // Every report is stored whole, whatever counted.
        expect(await store.shaJobs("up/stream", SHA)).toHaveLength(new Set(stored.map((s) => `${s.deliveryId}/${s.runId}/${s.runAttempt}/${s.jobName}`)).size);
        await store.close();
      }),
      { numRuns: 60 },
    );
  });
});

describe("migrations 8 to 10", () => {
  it("carry the jobs stored before them over into latest attempts, and drop the summary column", async () => {
    db = databaseAtVersion(path.join(dir, DATABASE_FILE), 7);
    db.prepare("INSERT INTO deliveries (id, event, payload_hash, accepted_at) VALUES ('d1', 'pull_request', 'h', ?)").run(NOW);
    db.prepare(
      `INSERT INTO dispatch_log (delivery_id, downstream_repo_key, downstream_repo, upstream_repo, event, action, pr_number, head_sha,
         backend_name, level, outcome, attempts, created_at, sent_at) VALUES ('d1', 'acme/npu', 'Acme/NPU', 'Up/Stream', 'pull_request', 'opened', 5, ?, 'npu', 'L4', 'sent', 1, ?, ?)`,
    ).run(SHA, NOW, NOW);
    const older = [
      job({ jobName: "build", status: "completed", conclusion: "success" }),
      job({ jobName: "test" }),
      job({ jobName: "test", deliveryId: "self:schedule:9", prNumber: null, status: "completed", conclusion: "failure" }),
      job({ jobName: "test", runAttempt: 2, status: "completed", updatedAt: NOW + 1 }), // completed without a conclusion
    ];
    for (const stored of older) {
      db.prepare(
        `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key, backend_name,
           head_sha, job_json, updated_at) VALUES (?, 'acme/npu', ?, ?, ?, 'up/stream', 'npu', ?, ?, ?)`,
      ).run(stored.deliveryId, stored.runId, stored.runAttempt, stored.jobName, SHA, JSON.stringify(stored), stored.updatedAt);
    }
    db.close();

    db = new Database(path.join(dir, DATABASE_FILE));
    const store = sqliteStore(db);
    expect(await store.attemptsBelowSeq(KEY, 10)).toEqual([
      { ...summaryOf(older[0]!), seq: 0 },
      { ...summaryOf(older[3]!), seq: 1 },
    ]);
    expect(await store.backendHead(KEY)).toMatchObject({
      counts: { jobs: 2, running: 0, conclusions: { success: 1, failure: 1 } },
      nextSeq: 2,
      newest: summaryOf(older[3]!),
    });
    expect(await store.listedAttempts(KEY, 1)).toEqual([{ ...summaryOf(older[3]!), seq: 1 }]);
    expect(await store.shaJobs("up/stream", SHA)).toEqual(older);
    expect(db.prepare("SELECT name FROM pragma_table_info('jobs')").pluck().all()).not.toContain("summary_json");
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'jobs_summaries'").all()).toEqual([]);
  });
});
