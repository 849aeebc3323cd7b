// Callback store-path benchmark: one backend reports 300 distinct jobs with ~300 kB reports on one head;
// each report goes through jobEffects (the aggregate roll-up and the job check-run cap) and
// store.recordJob, as processCallback does after the ticket and lifecycle checks. Prints the time per
// report at k = 1, 100 and 300, and RSS; asserts nothing. See bench/README.md.
//
//   node scripts/run-ts.mjs bench/callback-jobs.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import type { AllowlistEntry } from "../src/allowlist/types.js";
import { jobEffects } from "../src/callback/process.js";
import type { CallbackBody } from "../src/callback/schema.js";
import { aggregateCheckKey, queuedAggregateRequest } from "../src/checks/aggregate.js";
import { DATABASE_FILE, SqliteStore } from "../src/store/sqlite-store.js";
import type { StoredJob } from "../src/store/store.js";

const JOBS = 300;
const REPORT_BYTES = 300_000;
const SAMPLES = new Set([1, 100, 300]);
const UPSTREAM = "pytorch/pytorch";
const SHA = "a".repeat(40);
const T0 = Date.UTC(2026, 0, 1);

const entry: AllowlistEntry = {
  repo: "acme/npu-backend",
  key: "acme/npu-backend",
  level: "L4",
  name: "npu",
  oncalls: [],
  overrides: {},
  policy: { forward_event: true, display_on_hud: true, display_on_pr: "always", block_pr: true },
  position: { line: 1, col: 1 },
};
const settings = {
  checkUpdateDelayMs: 5_000,
  checkPrefix: "oot",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.com",
  publicUrl: "https://relay.example",
};

const dir = mkdtempSync(path.join(tmpdir(), "relay-callback-jobs-"));
const db = new Database(path.join(dir, DATABASE_FILE));
const store = new SqliteStore(db);
// One fsync per report would measure the disk, not the store work that grows with the jobs.
db.pragma("synchronous = OFF");

store.syncCheckRuns(
  [
    {
      key: aggregateCheckKey(UPSTREAM, entry.name, SHA),
      kind: "check_run",
      repo: UPSTREAM,
      request: queuedAggregateRequest({ upstreamRepo: UPSTREAM, headSha: SHA, entry, checkPrefix: "oot", deliveryId: "d1", detailsUrl: "https://ci.example" }),
    },
  ],
  T0,
);

function report(k: number): { job: StoredJob; body: CallbackBody } {
  const body = {
    schema_version: 1,
    status: "completed",
    conclusion: k % 7 === 0 ? "failure" : "success",
    summary: `job ${k}: ${"x".repeat(REPORT_BYTES)}`,
    workflow: { name: "ci", run_id: 1000 + k, run_attempt: 1, url: `https://github.com/${entry.repo}/actions/runs/${1000 + k}` },
    job: { name: `test-${k}`, url: `https://github.com/${entry.repo}/actions/runs/${1000 + k}/job/1` },
  } as unknown as CallbackBody;
  const job: StoredJob = {
    deliveryId: "d1",
    downstreamRepo: entry.repo,
    runId: 1000 + k,
    runAttempt: 1,
    jobName: `test-${k}`,
    upstreamRepo: UPSTREAM,
    prNumber: 5,
    headSha: SHA,
    backendName: entry.name,
    level: entry.level,
    workflowName: "ci",
    status: "completed",
    conclusion: body.conclusion,
    completedAt: T0 + k,
    fingerprint: `f${k}`,
    report: body,
    updatedAt: T0 + k,
  };
  return { job, body };
}

const mb = (bytes: number) => `${Math.round(bytes / 1_048_576)} MB`;
const print = (line: string) => process.stdout.write(`${line}\n`);
print(`${JOBS} distinct jobs, ~${REPORT_BYTES / 1000} kB reports, one backend, one head`);
for (let k = 1; k <= JOBS; k++) {
  const { job, body } = report(k);
  const start = performance.now();
  store.recordJob(job, jobEffects(job, body, entry, { store, settings }), job.updatedAt);
  const elapsed = performance.now() - start;
  if (SAMPLES.has(k)) print(`k=${k}: report ${elapsed.toFixed(1)} ms, RSS ${mb(process.memoryUsage().rss)}`);
}
store.close();
rmSync(dir, { recursive: true, force: true });
