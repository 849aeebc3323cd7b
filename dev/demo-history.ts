// Two weeks of backdated history for the demo (dev/demo.ts), so every HUD page has something to show: PRs
// and pushes to the default branch dispatched to each backend, with the jobs they reported. The relay
// stamps live webhooks and callbacks with its own clock, so the past cannot be replayed through them;
// these rows are written into the relay's store before it starts, by the same store calls its intake
// and callbacks make (test/helpers/hud-seed.ts), and reach ClickHouse through its HUD writer.
// Deterministic: the same history on every run.
import { createHash } from "node:crypto";
import type { Store } from "../src/store/store.js";
import { seedDispatch, seedJob, type JobSpec } from "../test/helpers/hud-seed.js";

export interface HistoryBackend {
  repo: string;
  name: string;
  level: string;
  /** The backend's job names (the live demo's). */
  jobs: readonly string[];
}

export interface HistoryOptions {
  upstream: string;
  workflow: string;
  backends: readonly HistoryBackend[];
  now: number;
  days: number;
}

export interface HistorySummary {
  prs: number;
  pushes: number;
  jobs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Hours before the end of each day at which PRs and pushes are dispatched (the newest 6 h before now). */
const PR_HOURS = [20, 14, 6];
const PUSH_HOURS = [17, 9];
const TITLES = [
  "[inductor] Fuse pointwise ops into reductions",
  "Add torch.special.xlog1py for half",
  "Fix typo in docs",
  "[dynamo] Guard on tensor subclass metadata",
  "Bump pinned triton commit",
  "Use a faster sort for small tensors",
  "[MPS] Add bfloat16 support to addmm",
];
const AUTHORS = ["alice", "bob", "carol", "dave"];
const FAILED_TESTS = ["test/test_ops.py::TestCommonNPU::test_out_addmm_npu_float32", "test/test_nn.py::TestNNDeviceTypeNPU::test_conv2d_npu"];

const shaOf = (text: string): string => createHash("sha1").update(text).digest("hex");

/**
 * What a backend's job did on the n-th event: every 4th PR fails a test on the last shard, every 9th PR's
 * jobs hit an infrastructure failure on the first backend, every 5th push fails a test; the rest pass.
 */
function outcome(n: number, backend: number, job: number, jobs: number, push: boolean): Pick<JobSpec, "conclusion" | "failureKind" | "failedTests" | "tests"> {
  const total = 800 + 17 * job;
  const skipped = 20 + job;
  const lastShard = job === jobs - 1;
  if (!push && backend === 0 && n % 9 === 4) return { conclusion: "failure", failureKind: "infra" };
  if (lastShard && backend === 1 && (push ? n % 5 === 2 : n % 4 === 1)) {
    return { conclusion: "failure", failureKind: "test", failedTests: FAILED_TESTS, tests: { total, passed: total - skipped - 2, failed: 2, skipped } };
  }
  return { conclusion: "success", tests: { total, passed: total - skipped, failed: 0, skipped } };
}

/** Writes the history: `days` days up to `now`, each with three PRs and two pushes, dispatched to every backend. */
export async function seedHistory(store: Store, options: HistoryOptions): Promise<HistorySummary> {
  const summary: HistorySummary = { prs: 0, pushes: 0, jobs: 0 };
  let run = 5000;
  for (let day = options.days - 1; day >= 0; day -= 1) {
    const events = [...PR_HOURS.map((hours) => ({ hours, push: false })), ...PUSH_HOURS.map((hours) => ({ hours, push: true }))].sort((a, b) => b.hours - a.hours);
    for (const { hours, push } of events) {
      const n = push ? (summary.pushes += 1) : (summary.prs += 1);
      const at = options.now - day * DAY - hours * HOUR;
      const pr = push ? undefined : 100 + n;
      const sha = shaOf(`demo-${push ? "push" : "pr"}-${n}`);
      const delivery = `demo-history-${push ? "push" : "pr"}-${n}`;
      const title = push ? `Merge ${TITLES[n % TITLES.length]!}` : TITLES[n % TITLES.length]!;
      for (const [index, backend] of options.backends.entries()) {
        const identity = { upstream: options.upstream, repo: backend.repo, name: backend.name, level: backend.level };
        // One PR dispatch in eleven to the second backend never reported: an availability miss.
        const silent = !push && index === 1 && n % 11 === 6;
        await seedDispatch(store, { ...identity, delivery, ...(pr !== undefined && { pr }), sha, at, outcome: silent ? "never_reported" : "sent", title, author: AUTHORS[n % AUTHORS.length]! });
        if (silent) continue;
        run += 1;
        for (const [job, name] of backend.jobs.entries()) {
          const queueMs = (20 + ((n * 37 + job * 11 + index * 5) % 200)) * 1000;
          const executionMs = (12 + ((n * 53 + job * 7 + index * 3) % 25)) * 60_000;
          await seedJob(store, {
            ...identity,
            delivery,
            pr: pr ?? null,
            sha,
            runId: run,
            workflow: options.workflow,
            job: name,
            at: at + queueMs,
            queueMs,
            executionMs,
            ...outcome(n, index, job, backend.jobs.length, push),
          });
          summary.jobs += 1;
        }
      }
    }
  }
  return summary;
}
