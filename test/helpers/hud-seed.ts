// A seeded HUD history with known numbers, written the way production writes it: job results through
// resultRow + store.putJob, dispatch-log rows through acceptDelivery/markSent/markFailed/
// markUnreported, then the HUD writer into ClickHouse. The expected figures are in hud-queries.test.ts.
// seedDispatch and seedJob also backdate the demo's history (dev/demo.ts).
import type { CallbackBody } from "../../src/callback/schema.js";
import { resultRow } from "../../src/state/result-row.js";
import type { Store } from "../../src/store/store.js";
import type { StoredJob } from "../../src/domain/jobs.js";

export const SEED_NOW = Date.parse("2026-11-20T12:00:00.000Z");
export const UPSTREAM = "pytorch/pytorch";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const SEED_ALLOWLIST = `
L4:
  - acme/npu: "@npu-oncall"
  - zeta/late: "@zeta"
L3:
  - beta/tpu: "@tpu-oncall"
L2:
  - eps/new: "@eps"
L1:
  - gamma/hooks: "@gamma"
requirements:
  L4:
    min_test_pass_rate: 0.9
    min_infra_availability: 0.4
    max_queue_time_p50: 1m
`;

export interface DispatchSpec {
  delivery: string;
  /** Default UPSTREAM. */
  upstream?: string;
  repo: string;
  name: string;
  level: string;
  pr?: number;
  sha: string;
  at: number;
  outcome: "sent" | "failed" | "never_reported" | "reports_not_expected" | "skipped" | "pending";
  title?: string;
  /** Default octocat. */
  author?: string;
  /** The PR action (default opened); `closed` is a closing notice. */
  action?: string;
}

export interface JobSpec {
  delivery: string;
  /** Default UPSTREAM. */
  upstream?: string;
  /** The downstream run; default 1000 + the PR number. */
  runId?: number;
  repo: string;
  name: string;
  level: string;
  pr: number | null;
  sha: string;
  workflow?: string;
  job: string;
  attempt?: number;
  /** Relay time of the first report. */
  at: number;
  status?: "in_progress" | "completed";
  conclusion?: string;
  failureKind?: "infra" | "test";
  queueMs?: number;
  executionMs?: number;
  /** No in_progress report was seen (self-reports). */
  noStart?: boolean;
  eventType?: string;
  summary?: string;
  failedTests?: string[];
  tests?: { total: number; passed: number; failed: number; skipped: number };
  /** The callback's `environment` (what the job ran on). */
  environment?: Record<string, string>;
  /** The callback's `artifact_url`. */
  artifactUrl?: string;
  /** The callback's `job.url`; default a github.com job URL. Not validated here, so tests can seed hostile URLs. */
  jobUrl?: string;
}

let hash = 0;

export async function seedDispatch(store: Store, spec: DispatchSpec): Promise<void> {
  const downstream = spec.repo;
  await store.acceptDelivery(
    { id: spec.delivery, event: spec.pr ? "pull_request" : "push", payloadHash: `h${(hash += 1)}` },
    {
      tasks:
        spec.outcome === "skipped"
          ? []
          : [{ key: `dispatch:${spec.delivery}:${downstream}`, kind: "dispatch", repo: downstream, request: { route: "POST /x", params: {} }, dispatch: { deliveryId: spec.delivery, downstreamRepo: downstream } }],
      log: [
        {
          deliveryId: spec.delivery,
          downstreamRepo: downstream,
          upstreamRepo: spec.upstream ?? UPSTREAM,
          event: spec.pr ? "pull_request" : "push",
          ...(spec.pr && { action: spec.action ?? "opened", prNumber: spec.pr }),
          headSha: spec.sha,
          backendName: spec.name,
          level: spec.level,
          outcome: spec.outcome === "skipped" ? "skipped" : "pending",
          ...(spec.outcome === "skipped" && { reason: "not_installed" }),
          attempts: 0,
          createdAt: spec.at,
          title: spec.title ?? `PR ${spec.pr ?? "push"} title`,
          author: spec.author ?? "octocat",
        },
      ],
    },
    spec.at,
  );
  if (spec.outcome === "skipped" || spec.outcome === "pending") return;
  const task = (await store.dueTasks(Number.MAX_SAFE_INTEGER, 1000)).find((candidate) => candidate.key === `dispatch:${spec.delivery}:${downstream}`)!;
  if (spec.outcome === "failed") await store.markFailed(task.id, { at: spec.at + 1000, reason: "http_404", outcome: "failed" });
  else await store.markSent(task.id, { at: spec.at + 1000 });
  if (spec.outcome === "never_reported") await store.markUnreported(spec.delivery, downstream, "never_reported", spec.at + 2 * HOUR);
  if (spec.outcome === "reports_not_expected") await store.markUnreported(spec.delivery, downstream, "reports_not_expected", spec.at + 2 * HOUR);
}

export async function seedJob(store: Store, spec: JobSpec): Promise<void> {
  const status = spec.status ?? "completed";
  const startedAt = spec.noStart ? undefined : spec.at;
  const completedAt = status === "completed" ? (spec.noStart ? spec.at : spec.at + (spec.executionMs ?? 60_000)) : undefined;
  const job: StoredJob = {
    deliveryId: spec.delivery,
    downstreamRepo: spec.repo,
    runId: spec.runId ?? 1000 + (spec.pr ?? 0),
    runAttempt: spec.attempt ?? 1,
    jobName: spec.job,
    upstreamRepo: spec.upstream ?? UPSTREAM,
    prNumber: spec.pr,
    headSha: spec.sha,
    backendName: spec.name,
    level: spec.level,
    workflowName: spec.workflow ?? "ci",
    status,
    ...(spec.conclusion && { conclusion: spec.conclusion }),
    ...(startedAt !== undefined && { startedAt }),
    ...(completedAt !== undefined && { completedAt }),
    ...(spec.queueMs !== undefined && { queueMs: spec.queueMs }),
    ...(spec.executionMs !== undefined && { executionMs: spec.executionMs }),
    fingerprint: `${status}`,
    report: {},
    updatedAt: completedAt ?? spec.at,
  };
  const body = {
    schema_version: 1,
    status,
    ...(spec.conclusion && { conclusion: spec.conclusion }),
    ...(spec.failureKind && { failure_kind: spec.failureKind }),
    ...(spec.summary && { summary: spec.summary }),
    ...(spec.failedTests && { failed_tests: spec.failedTests }),
    ...(spec.tests && { tests: spec.tests }),
    ...(spec.environment && { environment: spec.environment }),
    ...(spec.artifactUrl && { artifact_url: spec.artifactUrl }),
    workflow: { name: spec.workflow ?? "ci", run_id: job.runId, run_attempt: job.runAttempt, url: `https://github.com/${spec.repo}/actions/runs/${job.runId}` },
    job: { name: spec.job, url: spec.jobUrl ?? `https://github.com/${spec.repo}/actions/runs/${job.runId}/job/${spec.job.length}` },
  } as unknown as CallbackBody;
  const eventType = spec.eventType ?? (spec.pr === null ? "push" : "pull_request");
  await store.putJob(job, resultRow(job, body, eventType), job.updatedAt);
}

/**
 * The scenario: see hud-queries.test.ts for every number it should produce over the 7 days to `now`
 * (SEED_NOW there; tests of a running relay seed relative to the real clock).
 */
export async function seedHud(store: Store, now = SEED_NOW): Promise<void> {
  const at = (daysAgo: number) => now - daysAgo * DAY;
  const npu = { repo: "acme/npu", name: "npu", level: "L4" };
  const tpu = { repo: "beta/tpu", name: "tpu", level: "L3" };
  const hooks = { repo: "gamma/hooks", name: "hooks", level: "L1" };

  // Outside the 7-day window.
  await seedDispatch(store, { ...npu, delivery: "d0", pr: 100, sha: "sha100", at: at(10), outcome: "sent" });
  await seedJob(store, { ...npu, delivery: "d0", pr: 100, sha: "sha100", job: "test", at: at(10) + HOUR, conclusion: "success", queueMs: 1, executionMs: 1 });

  // PR 101: npu build passes, test fails (tests); tpu passes; the L1 backend is not expected to report.
  await seedDispatch(store, { ...npu, delivery: "d1", pr: 101, sha: "sha101", at: at(6), outcome: "sent", title: "Add <script>alert(1)</script> op" });
  await seedDispatch(store, { ...tpu, delivery: "d1", pr: 101, sha: "sha101", at: at(6), outcome: "sent" });
  await seedDispatch(store, { ...hooks, delivery: "d1", pr: 101, sha: "sha101", at: at(6), outcome: "reports_not_expected" });
  await seedJob(store, { ...npu, delivery: "d1", pr: 101, sha: "sha101", job: "build", at: at(6) + 60_000, conclusion: "success", queueMs: 60_000, executionMs: 600_000 });
  await seedJob(store, {
    ...npu,
    delivery: "d1",
    pr: 101,
    sha: "sha101",
    job: "test",
    at: at(6) + 120_000,
    conclusion: "failure",
    failureKind: "test",
    queueMs: 120_000,
    executionMs: 900_000,
    summary: "2 tests failed",
    failedTests: ["test/test_ops.py::TestOps::test_add", "test/test_nn.py::TestNN::test_conv"],
    tests: { total: 100, passed: 98, failed: 2, skipped: 0 },
  });
  await seedJob(store, { ...tpu, delivery: "d1", pr: 101, sha: "sha101", job: "test", at: at(6) + 20_000, conclusion: "success", queueMs: 20_000, executionMs: 200_000 });
  // PR 101 closed: the closing notice to npu asks for no CI run, so no HUD figure counts it.
  await seedDispatch(store, { ...npu, delivery: "d1-closed", pr: 101, sha: "sha101", at: at(5.5), outcome: "sent", action: "closed" });

  // PR 102: the test job failed on infrastructure, then a re-run (attempt 2) passed; the dispatch to tpu was skipped (the App was not installed there yet).
  await seedDispatch(store, { ...npu, delivery: "d2", pr: 102, sha: "sha102", at: at(5), outcome: "sent" });
  await seedDispatch(store, { ...tpu, delivery: "d2", pr: 102, sha: "sha102", at: at(5), outcome: "skipped" });
  await seedJob(store, { ...npu, delivery: "d2", pr: 102, sha: "sha102", job: "build", at: at(5) + 30_000, conclusion: "success", queueMs: 30_000, executionMs: 300_000 });
  await seedJob(store, { ...npu, delivery: "d2", pr: 102, sha: "sha102", job: "test", at: at(5) + 90_000, conclusion: "failure", failureKind: "infra", queueMs: 90_000, executionMs: 100_000 });
  await seedJob(store, { ...npu, delivery: "d2", pr: 102, sha: "sha102", job: "test", attempt: 2, at: at(5) + HOUR, conclusion: "success", executionMs: 800_000 });

  // PR 103: dispatched, never reported.
  await seedDispatch(store, { ...npu, delivery: "d3", pr: 103, sha: "sha103", at: at(4), outcome: "never_reported" });
  // PR 104: the job timed out (the relay's sweeper).
  await seedDispatch(store, { ...npu, delivery: "d4", pr: 104, sha: "sha104", at: at(3), outcome: "sent" });
  await seedJob(store, { ...npu, delivery: "d4", pr: 104, sha: "sha104", job: "test", at: at(3) + 45_000, conclusion: "timed_out", failureKind: "infra", queueMs: 45_000, executionMs: 3_600_000 });
  // PR 105: still running.
  await seedDispatch(store, { ...npu, delivery: "d5", pr: 105, sha: "sha105", at: at(2), outcome: "sent" });
  await seedJob(store, { ...npu, delivery: "d5", pr: 105, sha: "sha105", job: "test", at: at(2) + 10_000, status: "in_progress", queueMs: 10_000 });
  // PR 106: the dispatch itself failed (404: the downstream workflow is missing).
  await seedDispatch(store, { ...npu, delivery: "d6", pr: 106, sha: "sha106", at: at(1), outcome: "failed" });

  // Trunk: a nightly self-report from npu and a push dispatch to tpu.
  await seedJob(store, { ...npu, delivery: "self:nightly:900", pr: null, sha: "trunk1", workflow: "nightly", job: "test", at: at(0.5), conclusion: "success", noStart: true, eventType: "nightly" });
  await seedDispatch(store, { ...tpu, delivery: "p1", sha: "trunk2", at: at(0.25), outcome: "sent", title: "Bump version" });
  await seedJob(store, { ...tpu, delivery: "p1", pr: null, sha: "trunk2", job: "test", at: at(0.25) + 5_000, conclusion: "success", queueMs: 5_000, executionMs: 50_000 });

  // A backend no longer in the allowlist, with a result in the window.
  await seedJob(store, { repo: "delta/gone", name: "gone", level: "L2", delivery: "d7", pr: 107, sha: "sha107", job: "test", at: at(1), conclusion: "success" });
}
