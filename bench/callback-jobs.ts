// Callback store-path benchmark: one backend reports 300 distinct jobs with ~300 kB reports on one head;
// each report goes through the state core's recordJob (latest attempt, counts, check runs reconciled),
// as processCallback does after the ticket and lifecycle checks. Prints the time per
// report at k = 1, 100 and 300, and RSS; asserts nothing. See bench/README.md.
//
//   node scripts/run-ts.mjs bench/callback-jobs.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { parseAllowlist } from "../src/allowlist/parse.js";
import type { CallbackBody } from "../src/callback/schema.js";
import type { StoredJob } from "../src/domain/jobs.js";
import type { StateSettings } from "../src/state/context.js";
import { acceptDispatches, applyPullRequest } from "../src/state/pull-requests.js";
import { recordJob } from "../src/state/reports.js";
import { DATABASE_FILE, sqliteStore } from "../src/store/sqlite-store.js";

const JOBS = 300;
const REPORT_BYTES = 300_000;
const SAMPLES = new Set([1, 100, 300]);
const UPSTREAM = "pytorch/pytorch";
const SHA = "a".repeat(40);
const T0 = Date.UTC(2026, 0, 1);

const parsed = parseAllowlist(`L4:\n  - acme/npu-backend: "@oncall"\n`);
if (!parsed.ok) throw new Error("bad allowlist");
const allowlist = parsed.allowlist;
const entry = allowlist.entries[0]!;
const settings: StateSettings = {
  checkUpdateDelayMs: 5_000, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
  checkPrefix: "oot",
  labelPrefix: "ciflow/oot/",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.com",
  publicUrl: "https://relay.example",
  startTimeoutMs: 2 * 3_600_000,
};
const context = (now: number) => ({ allowlist, settings, now });

const dir = mkdtempSync(path.join(tmpdir(), "relay-callback-jobs-"));
const db = new Database(path.join(dir, DATABASE_FILE));
const store = sqliteStore(db);
// One fsync per report would measure the disk, not the store work that grows with the jobs.
db.pragma("synchronous = OFF");

await store.transaction(async (tx) => {
  await applyPullRequest(tx, { upstreamRepo: UPSTREAM, prNumber: 5, headSha: SHA, labels: [], closed: false }, context(T0));
  await acceptDispatches(
    tx,
    { id: "d1", event: "pull_request", payloadHash: "d1" },
    {
      tasks: [],
      log: [{ deliveryId: "d1", downstreamRepo: entry.repo, upstreamRepo: UPSTREAM, event: "pull_request", prNumber: 5, headSha: SHA, backendName: entry.name, level: entry.level, outcome: "pending", attempts: 0, createdAt: T0 }],
    },
    context(T0),
  );
});

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
  const { job } = report(k);
  const start = performance.now();
  await store.transaction((tx) => recordJob(tx, job, undefined, context(job.updatedAt)));
  const elapsed = performance.now() - start;
  if (SAMPLES.has(k)) print(`k=${k}: report ${elapsed.toFixed(1)} ms, RSS ${mb(process.memoryUsage().rss)}`);
}
await store.close();
rmSync(dir, { recursive: true, force: true });
