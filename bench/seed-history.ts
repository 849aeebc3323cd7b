// Seeds a relay store with settled history before the relay starts: PR heads dispatched to a backend,
// sent, reported on (one completed job with its check run) and closed, through the state core, all within the last two days so
// the relay's retention job (14 days; deliveries 72 h) has nothing to delete while a benchmark runs. The
// HUD queue is emptied as if exported. This is the only bench code that knows the store API.
import { parseAllowlist } from "../src/allowlist/parse.js";
import type { StateSettings } from "../src/state/context.js";
import { acceptDispatches, applyPullRequest } from "../src/state/pull-requests.js";
import { recordJob } from "../src/state/reports.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { StoreTx } from "../src/store/store.js";

/** Must match the relay's upstream (test/security/callback-rig.ts, the webhook examples' repo). */
const UPSTREAM = "Codertocat/Hello-World";
const BACKENDS = 30;
/**
 * Rows one head leaves: delivery, dispatch-log row, dispatch task, job, check-run task, and its facts:
 * head, backend head, latest attempt, check run.
 */
const ROWS_PER_HEAD = 9;
const ROWS_PER_TRANSACTION = 5000;
const SPREAD_MS = 48 * 3_600_000;

/** Writes about `rows` rows of history into `<dataDir>/relay.sqlite` (created if needed). */
export async function seedHistory(dataDir: string, rows: number): Promise<void> {
  const store = openSqliteStore(dataDir);
  try {
    const heads = Math.ceil(rows / ROWS_PER_HEAD);
    const perTransaction = Math.floor(ROWS_PER_TRANSACTION / ROWS_PER_HEAD);
    const now = Date.now();
    for (let first = 0; first < heads; first += perTransaction) {
      const last = Math.min(heads, first + perTransaction);
      await store.transaction(async (tx) => {
        for (let i = first; i < last; i++) await seedHead(tx, i, now - SPREAD_MS + Math.floor((i / heads) * SPREAD_MS));
        for (const task of await tx.dueTasks(now, 2 * perTransaction)) await tx.markSent(task.id, { at: task.createdAt + 1000, resultId: task.id });
        await tx.removeHudRows((await tx.pendingHudRows(10 * perTransaction)).map((row) => row.id));
      });
      // Let timers (the RSS sampler) run between transactions.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await store.close();
  }
}

// The history backends, shown on PRs like L4 ones, so their heads carry check runs as real ones do.
const HISTORY_ALLOWLIST = parseAllowlist(
  `L4:\n${Array.from({ length: BACKENDS }, (_, b) => `  - history-org-${b}/accel-${b}: "@oncall"`).join("\n")}\n`,
);
const SETTINGS: StateSettings = {
  checkPrefix: "oot",
  labelPrefix: "ciflow/oot/",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.com",
  publicUrl: "https://relay.example.org",
  startTimeoutMs: 2 * 3_600_000,
  checkUpdateDelayMs: 0, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
};

/** One PR head through the state core: opened and dispatched, one job reported, then closed. */
async function seedHead(tx: StoreTx, i: number, at: number): Promise<void> {
  if (!HISTORY_ALLOWLIST.ok) throw new Error("bad history allowlist");
  const allowlist = HISTORY_ALLOWLIST.allowlist;
  const sha = i.toString(16).padStart(40, "0");
  const deliveryId = `history-${i}`;
  const b = i % BACKENDS;
  const backend = `accel-${b}`;
  const downstreamRepo = `history-org-${b}/accel-${b}`;
  const prNumber = 100_000 + Math.floor(i / 2);
  const context = (now: number) => ({ allowlist, settings: SETTINGS, now });
  await applyPullRequest(tx, { upstreamRepo: UPSTREAM, prNumber, headSha: sha, labels: [], closed: false }, context(at));
  await acceptDispatches(
    tx,
    { id: deliveryId, event: "pull_request", payloadHash: `hash-${i}` },
    {
      tasks: [
        {
          key: `dispatch:${deliveryId}:${downstreamRepo}`,
          kind: "dispatch",
          repo: downstreamRepo,
          request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: downstreamRepo.split("/")[0], repo: backend, event_type: "pytorch-pr-trigger" } },
          dispatch: { deliveryId, downstreamRepo },
        },
      ],
      log: [
        { deliveryId, downstreamRepo, upstreamRepo: UPSTREAM, event: "pull_request", action: "synchronize", prNumber, headSha: sha, backendName: backend, level: "L4", outcome: "pending", attempts: 0, createdAt: at, title: `PR ${prNumber}`, author: "octocat" },
      ],
    },
    context(at),
  );
  const report = { schema_version: 1, status: "completed", conclusion: "success", workflow: { name: "ci", run_id: i + 1, run_attempt: 1, url: `https://ci.example.org/runs/${i + 1}` }, job: { name: "test" } };
  await recordJob(
    tx,
    { deliveryId, downstreamRepo, runId: i + 1, runAttempt: 1, jobName: "test", upstreamRepo: UPSTREAM, prNumber, headSha: sha, backendName: backend, level: "L4", workflowName: "ci", status: "completed", conclusion: "success", startedAt: at + 60_000, completedAt: at + 1_800_000, queueMs: 60_000, executionMs: 1_740_000, fingerprint: `history-${i}`, report, updatedAt: at + 1_800_000 },
    undefined,
    context(at + 1_800_000),
  );
  await applyPullRequest(tx, { upstreamRepo: UPSTREAM, prNumber, headSha: sha, labels: [], closed: true }, context(at + 3_600_000));
}
