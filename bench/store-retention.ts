// Store retention benchmark: 30 days of relay activity at bench/hud.ts's default volumes (12 backends,
// 2000 PRs, 3 jobs per backend and head) written through the real store calls into a temp SQLite file,
// then pruned at the default retention (14 days) until nothing is left to prune. Prints rows and bytes
// before and after, and the longest prune run; asserts nothing. See bench/README.md.
//
//   node scripts/run-ts.mjs bench/store-retention.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { parseAllowlist } from "../src/allowlist/parse.js";
import type { DispatchLogEntry } from "../src/domain/dispatches.js";
import type { StoredJob } from "../src/domain/jobs.js";
import type { StateSettings } from "../src/state/context.js";
import { acceptDispatches, applyPullRequest } from "../src/state/pull-requests.js";
import { recordJob } from "../src/state/reports.js";
import { DATABASE_FILE, sqliteStore } from "../src/store/sqlite-store.js";
import type { OutboxTaskInput } from "../src/store/store.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 30 * DAY;
const BACKENDS = Array.from({ length: 12 }, (_, index) => `npu${index}`);
const PRS = 2000;
const JOBS = 3;
const UPSTREAM = "pytorch/pytorch";
const TABLES = ["deliveries", "outbox", "dispatch_log", "jobs", "heads", "backend_heads", "job_latest", "check_runs", "hud_rows"];
const parsed = parseAllowlist(`L4:\n${BACKENDS.map((backend) => `  - acme/${backend}: "@oncall"`).join("\n")}\n`);
if (!parsed.ok) throw new Error("bad allowlist");
const SETTINGS: StateSettings = {
  checkPrefix: "oot",
  labelPrefix: "ciflow/oot/",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.com",
  publicUrl: "https://relay.example",
  startTimeoutMs: 2 * HOUR,
  checkUpdateDelayMs: 0, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
};
const context = (now: number) => ({ allowlist: parsed.allowlist, settings: SETTINGS, now });
const POLICY = { retentionMs: 14 * DAY, maxRowsPerTable: 1000 }; // as src/dispatch/service.ts runs it

const dir = mkdtempSync(path.join(tmpdir(), "relay-store-retention-"));
const db = new Database(path.join(dir, DATABASE_FILE));
const store = sqliteStore(db);
// The sizes do not depend on durability; one fsync per call would make the run minutes long.
db.pragma("synchronous = OFF");

let nextCheckRunId = 1;
async function sendEverything(at: number): Promise<void> {
  for (const task of await store.dueTasks(Number.MAX_SAFE_INTEGER, 1000)) {
    await store.markSent(task.id, { at, version: task.version, ...(task.kind === "check_run" && { resultId: nextCheckRunId++ }) });
  }
}

/** One upstream event on a head, through the state core (a transaction per event): a dispatch per backend, sent, then jobs reported. */
async function head(deliveryId: string, sha: string, prNumber: number | undefined, at: number): Promise<void> {
  const tasks: OutboxTaskInput[] = [];
  const log: DispatchLogEntry[] = [];
  for (const backend of BACKENDS) {
    const repo = `acme/${backend}`;
    tasks.push({
      key: `dispatch:${deliveryId}:${repo}`,
      kind: "dispatch",
      repo,
      request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: backend, client_payload: { head_sha: sha, ticket: "t".repeat(400) } } },
      dispatch: { deliveryId, downstreamRepo: repo },
    });
    log.push({
      deliveryId,
      downstreamRepo: repo,
      upstreamRepo: UPSTREAM,
      event: prNumber === undefined ? "push" : "pull_request",
      ...(prNumber !== undefined && { prNumber }),
      headSha: sha,
      backendName: backend,
      level: "L4",
      outcome: "pending",
      attempts: 0,
      createdAt: at,
      title: "A change to PyTorch",
      author: "someone",
    });
  }
  await store.transaction(async (tx) => {
    if (prNumber !== undefined) await applyPullRequest(tx, { upstreamRepo: UPSTREAM, prNumber, headSha: sha, labels: [], closed: false }, context(at));
    await acceptDispatches(tx, { id: deliveryId, event: prNumber === undefined ? "push" : "pull_request", payloadHash: deliveryId }, { tasks, log }, context(at));
  });
  await sendEverything(at);
  for (const backend of BACKENDS) {
    for (let index = 0; index < JOBS; index += 1) {
      const jobName = `test (${backend}, ${index + 1}/${JOBS})`;
      const job: StoredJob = {
        deliveryId,
        downstreamRepo: `acme/${backend}`,
        runId: nextCheckRunId,
        runAttempt: 1,
        jobName,
        upstreamRepo: UPSTREAM,
        prNumber: prNumber ?? null,
        headSha: sha,
        backendName: backend,
        level: "L4",
        workflowName: "pytorch-pr",
        status: "completed",
        conclusion: "success",
        startedAt: at + HOUR,
        completedAt: at + 2 * HOUR,
        fingerprint: "done",
        report: { schema_version: 1, status: "completed", conclusion: "success", workflow: { name: "pytorch-pr", run_id: 1, run_attempt: 1, url: "https://ci.example/runs/1" }, job: { name: jobName }, tests: { total: 720, passed: 700, failed: 0, skipped: 20 } },
        updatedAt: at + 2 * HOUR,
      };
      await store.transaction((tx) => recordJob(tx, job, { job: jobName }, context(at + 2 * HOUR)));
    }
  }
  await sendEverything(at + 2 * HOUR);
}

function measure(): { rows: Record<string, number>; bytes: number; freePages: number } {
  db.pragma("wal_checkpoint(TRUNCATE)");
  const rows = Object.fromEntries(TABLES.map((table) => [table, db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get()!]));
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  return { rows, bytes: (db.pragma("page_count", { simple: true }) as number) * pageSize, freePages: db.pragma("freelist_count", { simple: true }) as number };
}

// PRs open in time order over 30 days; every fifth gets a second head that supersedes the first; each
// closes two days after its last head. One trunk push per ten PRs.
for (let pr = 0; pr < PRS; pr += 1) {
  const at = T0 + Math.floor((pr * 30 * DAY) / PRS);
  const heads = pr % 5 === 0 ? 2 : 1;
  for (let index = 0; index < heads; index += 1) {
    const headAt = at + index * DAY;
    // A second head supersedes the first (applyPullRequest moves the PR's open head).
    await head(`pr-${pr}-${index}`, `sha-${pr}-${index}`, pr, headAt);
  }
  await store.transaction((tx) => applyPullRequest(tx, { upstreamRepo: UPSTREAM, prNumber: pr, headSha: `sha-${pr}-${heads - 1}`, labels: [], closed: true }, context(at + (heads + 1) * DAY)));
  if (pr % 10 === 0) await head(`push-${pr}`, `trunk-${pr}`, undefined, at);
}
// The HUD writer has exported everything.
for (let batch = await store.pendingHudRows(5000); batch.length > 0; batch = await store.pendingHudRows(5000)) {
  await store.removeHudRows(batch.map((row) => row.id));
}

const before = measure();
let runs = 0;
let longestMs = 0;
for (;;) {
  const start = performance.now();
  const pruned = await store.prune(NOW, POLICY);
  longestMs = Math.max(longestMs, performance.now() - start);
  runs += 1;
  if (Object.values(pruned).every((rows) => rows === 0)) break;
}
const after = measure();
await store.close();
rmSync(dir, { recursive: true, force: true });

const print = (line: string) => process.stdout.write(`${line}\n`);
const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
print(`30 days: ${BACKENDS.length} backends, ${PRS} PRs, ${JOBS} jobs per backend and head; retention ${POLICY.retentionMs / DAY} days`);
for (const table of TABLES) print(`  ${table.padEnd(14)} ${String(before.rows[table]).padStart(8)} → ${String(after.rows[table]).padStart(8)} rows`);
print(`  file           ${mib(before.bytes)} → ${mib(after.bytes)} (free pages left: ${after.freePages})`);
print(`  prune: ${runs} runs of at most ${POLICY.maxRowsPerTable} rows per table, the longest ${longestMs.toFixed(0)} ms`);
