// Realistic HUD views for the page tests: four backends over L4–L1, a 5-row × 3-column history, a PR.
import type {
  BackendHealth,
  BackendStats,
  BackendView,
  DailyPoint,
  HealthTrendView,
  HealthView,
  HistoryGrid,
  JobCell,
  PrView,
  SummaryView,
  TrunkView,
  WeekHealth,
} from "../../src/hud/views.js";
import type { PageContext } from "../../src/hud/pages/context.js";

export const ctx: PageContext = {
  upstreamRepo: "pytorch/pytorch",
  webBaseUrl: "https://github.com",
  generatedAt: "2026-11-29T12:00:00.000Z",
};

export const window7 = { days: 7, from: "2026-11-22T12:00:00.000Z", to: "2026-11-29T12:00:00.000Z" };

export const SHAS = [
  "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
  "b2c3d4e5f60718293a4b5c6d7e8f901234567890",
  "c3d4e5f60718293a4b5c6d7e8f90123456789012",
  "d4e5f60718293a4b5c6d7e8f9012345678901234",
  "e5f60718293a4b5c6d7e8f901234567890123456",
];

export function job(overrides: Partial<JobCell> = {}): JobCell {
  return {
    workflowName: "pull",
    jobName: "build",
    status: "completed",
    conclusion: "success",
    failureKind: null,
    runAttempt: 1,
    jobUrl: "https://github.com/acme-ai/torch-npu-ci/actions/runs/9001/job/1",
    workflowUrl: "https://github.com/acme-ai/torch-npu-ci/actions/runs/9001",
    queueMs: 65_000,
    executionMs: 1_520_000,
    tests: null,
    failedTests: [],
    summary: null,
    artifactUrl: null,
    environment: {},
    startedAt: "2026-11-28T10:01:05.000Z",
    firstReportAt: "2026-11-28T10:01:05.000Z",
    ...overrides,
  };
}

export function stats(overrides: Partial<BackendStats> = {}): BackendStats {
  return {
    downstreamRepo: "acme-ai/torch-npu-ci",
    backendName: "npu",
    level: "L4",
    inAllowlist: true,
    collectsResults: true,
    dispatches: 212,
    dispatchFailures: 2,
    available: 204,
    unavailable: 6,
    infraAvailability: 204 / 210,
    jobs: 630,
    completed: 630,
    succeeded: 570,
    testFailures: 55,
    infraFailures: 5,
    timedOut: 3,
    testPassRate: 0.912,
    successRate: 0.905,
    timeoutRate: 0.0048,
    queueMs: { p50: 252_000, p90: 610_000, avg: 125_000, samples: 620 },
    executionMs: { p50: 1_900_000, p90: 3_780_000, avg: 2_050_000, samples: 625 },
    prTimeMs: { p50: 2_400_000, p90: 5_100_000, avg: 2_700_000, samples: 198 },
    callbacks: 1_290,
    invalidCallbacks: 4,
    signalValidity: 1_280 / 1_284,
    prs: 148,
    lastRunAt: "2026-11-29T09:00:00.000Z",
    ...overrides,
  };
}

export const L4_REQUIREMENTS = {
  min_infra_availability: 0.95,
  min_test_pass_rate: 0.95,
  max_timeout_rate: 0.02,
  max_queue_time_p50: 300,
  max_run_time_p90: 5400,
  window_days: 7,
};

/** npu fails its test pass rate (91.2% < 95%); the other L4 checks pass. */
export const npuHealth: BackendHealth = {
  stats: stats(),
  checks: [
    { requirement: "min_infra_availability", threshold: 0.95, actual: 204 / 210, verdict: "meets" },
    { requirement: "min_test_pass_rate", threshold: 0.95, actual: 0.912, verdict: "fails" },
    { requirement: "max_timeout_rate", threshold: 0.02, actual: 0.0048, verdict: "meets" },
    { requirement: "max_queue_time_p50", threshold: 300, actual: 252, verdict: "meets" },
    { requirement: "max_run_time_p90", threshold: 5400, actual: 3780, verdict: "meets" },
  ],
  verdict: "fails",
  next: null,
};

const xpuHealth: BackendHealth = {
  stats: stats({
    downstreamRepo: "intel/torch-xpu-ci",
    backendName: "xpu",
    dispatchFailures: 0,
    testPassRate: 0.987,
    successRate: 0.975,
    infraAvailability: 0.99,
    queueMs: { p50: 42_000, p90: 95_000, avg: 51_000, samples: 600 },
  }),
  checks: [
    { requirement: "min_infra_availability", threshold: 0.95, actual: 0.99, verdict: "meets" },
    { requirement: "min_test_pass_rate", threshold: 0.95, actual: 0.987, verdict: "meets" },
  ],
  verdict: "meets",
  next: null,
};

const ttHealth: BackendHealth = {
  stats: stats({ downstreamRepo: "tenstorrent/tt-torch-ci", backendName: "tt", level: "L3", testPassRate: 0.93 }),
  checks: [{ requirement: "min_test_pass_rate", threshold: 0.9, actual: 0.93, verdict: "meets" }],
  verdict: "meets",
  next: { level: "L4", checks: [{ requirement: "min_test_pass_rate", threshold: 0.95, actual: 0.93, verdict: "fails" }], verdict: "fails" },
};

const removedHealth: BackendHealth = {
  stats: stats({ downstreamRepo: "old-org/mlu-ci", backendName: "mlu", level: "L3", inAllowlist: false, prs: 3 }),
  checks: [],
  verdict: "no_data",
  next: null,
};

const ipuHealth: BackendHealth = {
  stats: stats({ downstreamRepo: "graphcore/poplar-torch", backendName: "ipu", level: "L2" }),
  checks: [],
  verdict: "no_data",
  next: { level: "L3", checks: [], verdict: "no_data" },
};

/** A webhook-only backend: it never calls back, so every rate is null and every count 0. */
export const rvvStats = stats({
  downstreamRepo: "riscv/torch-rvv",
  backendName: "rvv",
  level: "L1",
  collectsResults: false,
  dispatches: 40,
  dispatchFailures: 0,
  available: 0,
  unavailable: 0,
  infraAvailability: null,
  jobs: 0,
  completed: 0,
  succeeded: 0,
  testFailures: 0,
  infraFailures: 0,
  timedOut: 0,
  testPassRate: null,
  successRate: null,
  timeoutRate: null,
  prTimeMs: { p50: null, p90: null, avg: null, samples: 0 },
  callbacks: 0,
  invalidCallbacks: 0,
  signalValidity: null,
  queueMs: { p50: null, p90: null, avg: null, samples: 0 },
  executionMs: { p50: null, p90: null, avg: null, samples: 0 },
  prs: 0,
  lastRunAt: null,
});

/** /api/hud/health over the same backends: L4 first, worst first within a level. */
export function healthView(): HealthView {
  return { window: window7, backends: [npuHealth, xpuHealth, ttHealth, removedHealth, ipuHealth, { stats: rvvStats, checks: [], verdict: "no_data", next: { level: "L2", checks: [], verdict: "no_data" } }] };
}

/** /api/hud/health/weekly: npu met L4 last week and fails this week; tt meets L3 and fails L4's bar. */
export function healthTrendView(): HealthTrendView {
  const week = (verdict: WeekHealth["verdict"], next: WeekHealth["next"], testPassRate: number): WeekHealth => ({
    verdict,
    next,
    checks: [{ requirement: "min_test_pass_rate", threshold: 0.92, actual: testPassRate, verdict }],
    infraAvailability: 0.97,
    testPassRate,
    queueP90Ms: 610_000,
    prTimeP90Ms: 5_100_000,
    signalValidity: 0.997,
    jobs: 320,
    dispatches: 106,
  });
  return {
    windows: [{ days: 7, from: "2026-11-15T12:00:00.000Z", to: "2026-11-22T12:00:00.000Z" }, window7],
    backends: [
      { downstreamRepo: "acme-ai/torch-npu-ci", backendName: "npu", level: "L4", inAllowlist: true, collectsResults: true, nextLevel: null, weeks: [week("meets", null, 0.96), week("fails", null, 0.912)] },
      { downstreamRepo: "tenstorrent/tt-torch-ci", backendName: "tt", level: "L3", inAllowlist: true, collectsResults: true, nextLevel: "L4", weeks: [week("meets", "fails", 0.93), week("meets", "fails", 0.93)] },
    ],
  };
}

export function summaryView(): SummaryView {
  return {
    window: window7,
    levels: [
      { level: "L4", title: "merge-gating", requirements: L4_REQUIREMENTS, backends: [npuHealth, xpuHealth] },
      {
        level: "L3",
        title: "check runs on PR",
        requirements: { min_infra_availability: 0.9, min_test_pass_rate: 0.9 },
        backends: [removedHealth, ttHealth],
      },
      { level: "L2", title: "callback-only", requirements: {}, backends: [ipuHealth] },
      // health.ts's verdict for a backend with dispatches and no requirements to fail: meets.
      { level: "L1", title: "webhook-only", requirements: {}, backends: [{ stats: rvvStats, checks: [], verdict: "meets", next: { level: "L2", checks: [], verdict: "meets" } }] },
    ],
  };
}

export const COLUMNS = ["pull / build", "pull / test (default, 1, 2)", "pull / test (default, 2, 2)"];
const [BUILD, TEST1, TEST2] = COLUMNS as [string, string, string];

const FAILED_TESTS = [
  "test/test_ops.py::TestCommonNPU::test_out_addmm_npu_float32",
  "test/test_ops.py::TestCommonNPU::test_out_baddbmm_npu_float32",
  "test/test_nn.py::TestNNDeviceTypeNPU::test_conv2d_npu",
  "test/test_nn.py::TestNNDeviceTypeNPU::test_batchnorm_npu",
  "test/test_torch.py::TestTorchNPU::test_where_npu",
  "test/test_torch.py::TestTorchNPU::test_index_put_npu",
  "test/test_torch.py::TestTorchNPU::test_sort_npu",
];

/** Row 1 green; row 2 a test failure (attempt 2) and a running job; row 3 never reported; row 4 a push with
 * timed-out, infra and cancelled jobs; row 5 success, skipped, neutral. */
export function historyGrid(prefix = ""): HistoryGrid {
  const key = (column: string) => `${prefix}${column}`;
  const testJob = (name: string) => job({ jobName: name.slice("pull / ".length) });
  return {
    columns: COLUMNS.map(key),
    rows: [
      {
        prNumber: 140001,
        headSha: SHAS[0] as string,
        title: "[inductor] Fuse pointwise ops into reductions",
        author: "alice",
        at: "2026-11-29T10:00:00.000Z",
        eventType: "pull_request",
        cells: { [key(BUILD)]: job(), [key(TEST1)]: testJob(TEST1), [key(TEST2)]: testJob(TEST2) },
        missing: null,
      },
      {
        prNumber: 140002,
        headSha: SHAS[1] as string,
        title: "Add torch.special.xlog1py for half",
        author: "bob",
        at: "2026-11-29T08:30:00.000Z",
        eventType: "pull_request",
        cells: {
          [key(BUILD)]: job(),
          [key(TEST1)]: job({
            jobName: "test (default, 1, 2)",
            conclusion: "failure",
            failureKind: "test",
            runAttempt: 2,
            jobUrl: "https://github.com/acme-ai/torch-npu-ci/actions/runs/9002/job/7",
            tests: { total: 1183, passed: 1176, failed: 7, skipped: 0 },
            failedTests: FAILED_TESTS,
            summary: "7 tests failed in test_ops.py, test_nn.py and test_torch.py.\n\nSee the log for details.",
          }),
          [key(TEST2)]: job({ jobName: "test (default, 2, 2)", status: "in_progress", conclusion: null, executionMs: null }),
        },
        missing: null,
      },
      {
        prNumber: 140003,
        headSha: SHAS[2] as string,
        title: "Fix typo in docs",
        author: "carol",
        at: "2026-11-28T22:15:00.000Z",
        eventType: "pull_request",
        cells: {},
        missing: { kind: "never_reported", detail: "dispatched, but no job started before the start timeout" },
      },
      {
        prNumber: null,
        headSha: SHAS[3] as string,
        title: null,
        author: null,
        at: "2026-11-28T20:00:00.000Z",
        eventType: "push",
        cells: {
          [key(BUILD)]: job({ conclusion: "timed_out", failureKind: "infra", executionMs: 7_200_000 }),
          [key(TEST1)]: job({ jobName: "test (default, 1, 2)", conclusion: "failure", failureKind: "infra" }),
          [key(TEST2)]: job({ jobName: "test (default, 2, 2)", conclusion: "cancelled", jobUrl: null }),
        },
        missing: null,
      },
      {
        prNumber: 140004,
        headSha: SHAS[4] as string,
        title: "Bump pinned triton commit",
        author: "dave",
        at: "2026-11-28T18:00:00.000Z",
        eventType: "pull_request",
        cells: {
          [key(BUILD)]: job({ tests: { total: 20, passed: 20, failed: 0, skipped: 0 } }),
          [key(TEST1)]: job({ jobName: "test (default, 1, 2)", conclusion: "skipped" }),
          [key(TEST2)]: job({ jobName: "test (default, 2, 2)", conclusion: "neutral" }),
        },
        missing: null,
      },
    ],
    page: { newer: null, older: null },
  };
}

/** Seven days; the fourth has no completed jobs (no rates, no times). */
export const DAILY: DailyPoint[] = [
  { day: "2026-11-23", testPassRate: 0.95, infraOkRate: 1, queueP50Ms: 180_000, runP50Ms: 1_800_000, jobs: 90 },
  { day: "2026-11-24", testPassRate: 0.93, infraOkRate: 0.98, queueP50Ms: 240_000, runP50Ms: 1_900_000, jobs: 95 },
  { day: "2026-11-25", testPassRate: 0.9, infraOkRate: 0.97, queueP50Ms: 300_000, runP50Ms: 2_000_000, jobs: 88 },
  { day: "2026-11-26", testPassRate: null, infraOkRate: null, queueP50Ms: null, runP50Ms: null, jobs: 0 },
  { day: "2026-11-27", testPassRate: 0.88, infraOkRate: 0.9, queueP50Ms: 410_000, runP50Ms: 2_400_000, jobs: 102 },
  { day: "2026-11-28", testPassRate: 0.92, infraOkRate: 1, queueP50Ms: 260_000, runP50Ms: 1_700_000, jobs: 120 },
  { day: "2026-11-29", testPassRate: 0.91, infraOkRate: 1, queueP50Ms: 250_000, runP50Ms: 1_750_000, jobs: 60 },
];

export function backendView(): BackendView {
  return { window: window7, health: npuHealth, daily: DAILY, history: historyGrid(), oncalls: ["npu-oncall", "acme-ai/torch-team"] };
}

export function prView(): PrView {
  return {
    upstreamRepo: "pytorch/pytorch",
    prNumber: 140002,
    headSha: SHAS[1] as string,
    title: "Add torch.special.xlog1py for half",
    author: "bob",
    shas: [SHAS[1] as string, SHAS[0] as string],
    gating: [
      {
        downstreamRepo: "acme-ai/torch-npu-ci",
        backendName: "npu",
        level: "L4",
        state: "failing",
        jobs: [
          job({
            jobName: "test (default, 1, 2)",
            conclusion: "failure",
            failureKind: "test",
            tests: { total: 1183, passed: 1176, failed: 7, skipped: 0 },
            failedTests: FAILED_TESTS,
          }),
          job({ jobName: "test (default, 2, 2)", status: "in_progress", conclusion: null, executionMs: null }),
          job(),
        ],
        missing: null,
      },
      {
        downstreamRepo: "intel/torch-xpu-ci",
        backendName: "xpu",
        level: "L4",
        state: "missing",
        jobs: [],
        missing: {
          kind: "never_reported",
          detail: "dispatched, but no job started before the start timeout (infrastructure failure)",
        },
      },
      {
        downstreamRepo: "tenstorrent/tt-torch-ci",
        backendName: "tt",
        level: "L3",
        state: "passed",
        jobs: [job({ workflowName: "tt-ci", jobName: "smoke", tests: { total: 310, passed: 300, failed: 0, skipped: 10 } })],
        missing: null,
      },
    ],
    hudOnly: [
      {
        downstreamRepo: "graphcore/poplar-torch",
        backendName: "ipu",
        level: "L2",
        state: "passed",
        jobs: [job({ workflowName: "ipu", jobName: "unit" })],
        missing: null,
      },
    ],
  };
}

export function trunkView(level: string | null): TrunkView {
  return { window: window7, level, history: historyGrid("npu · ") };
}
