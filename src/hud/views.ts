// What the HUD pages and their JSON mirrors (/api/hud/…) show: zod schemas, the one source of the types
// the code uses and of the JSON Schemas published in docs/schemas/hud-*.json for anyone reading the API.
// Times are ISO-8601 strings (UTC); durations are milliseconds; rates are fractions in [0, 1], null
// when there is nothing to divide by.
import { z } from "zod";

const Iso = z.string().describe("ISO-8601 time, UTC");
const Rate = z.number().min(0).max(1).nullable();
const Count = z.int().nonnegative();
const Ms = z.number().nonnegative().nullable();

export const TimeWindowSchema = z.object({
  days: z.int().positive().describe("Length of the window in days (the pages offer 1, 7 and 30)."),
  from: Iso,
  to: Iso,
});
export type TimeWindow = z.infer<typeof TimeWindowSchema>;

export const PercentilesSchema = z.object({
  p50: Ms,
  p90: Ms,
  avg: Ms,
  samples: Count.describe("Jobs the figures are computed from."),
});
export type Percentiles = z.infer<typeof PercentilesSchema>;

export const BackendStatsSchema = z
  .object({
    downstreamRepo: z.string(),
    backendName: z.string(),
    level: z.string().describe("The level in the allowlist now; the last level seen in the data when no longer listed."),
    inAllowlist: z.boolean(),
    collectsResults: z.boolean().describe("false for forward-only backends (L1), which receive events and report nothing back."),
    dispatches: Count.describe("Dispatches GitHub accepted in the window."),
    dispatchFailures: Count.describe("Dispatches the relay could not deliver (failed or dead-lettered)."),
    available: Count.describe("Sent dispatches whose jobs all completed without an infrastructure failure."),
    unavailable: Count.describe("Sent dispatches that never started (no report by the start timeout), timed out, or failed for infrastructure."),
    infraAvailability: Rate.describe("available / (available + unavailable); dispatches still running are in neither. null for backends that never report (L1)."),
    jobs: Count,
    completed: Count.describe("Jobs that finished (the denominator of success and timeout rates)."),
    succeeded: Count,
    testFailures: Count.describe("Completed failures not marked infra: the change (or upstream) broke tests."),
    infraFailures: Count.describe("timed_out, or failure_kind infra."),
    timedOut: Count,
    testPassRate: Rate.describe("succeeded / (succeeded + testFailures)."),
    successRate: Rate.describe("succeeded / completed."),
    timeoutRate: Rate.describe("timedOut / completed."),
    queueMs: PercentilesSchema,
    executionMs: PercentilesSchema,
    prTimeMs: PercentilesSchema.describe(
      "From a PR dispatch to the completion of its last job, over the PR dispatches whose jobs all completed (samples: such dispatches).",
    ),
    callbacks: Count.describe("Callbacks from the backend's repo (UTC days of the window), whatever the answer."),
    invalidCallbacks: Count.describe("Of those, the ones refused for the backend's own fault: rate-limited, too large, invalid body, bad ticket, forbidden, not allowlisted, unknown commit."),
    signalValidity: Rate.describe("valid / (valid + invalid) callbacks; refusals that were the relay's (unavailable, error) count in neither."),
    prs: Count.describe("PRs with at least one job reported."),
    lastRunAt: Iso.nullable(),
  })
  .describe("One backend's numbers over a window; job counts are latest attempts only (a re-run replaces its attempt).");
export type BackendStats = z.infer<typeof BackendStatsSchema>;

export const VerdictSchema = z.enum(["meets", "fails", "no_data"]);
export type Verdict = z.infer<typeof VerdictSchema>;

export const REQUIREMENT_KEYS = [
  "min_infra_availability",
  "min_test_pass_rate",
  "min_success_rate",
  "max_timeout_rate",
  "max_queue_time_p50",
  "max_queue_time_p90",
  "max_run_time_p50",
  "max_run_time_p90",
  "max_pr_time_p90",
  "min_signal_validity",
  "window_days",
] as const;

export const RequirementsSchema = z
  .partialRecord(z.enum(REQUIREMENT_KEYS), z.number())
  .describe("The level's requirements from the allowlist: rates as fractions, durations in seconds.");

export const RequirementCheckSchema = z.object({
  requirement: z.enum(REQUIREMENT_KEYS),
  threshold: z.number().describe("As written in the allowlist (rates as fractions, durations in seconds)."),
  actual: z.number().nullable().describe("Measured value in the same unit, null when there is no data."),
  verdict: VerdictSchema,
});
export type RequirementCheck = z.infer<typeof RequirementCheckSchema>;

export const LevelEvaluationSchema = z.object({
  level: z.string(),
  checks: z.array(RequirementCheckSchema),
  verdict: VerdictSchema.describe("fails when any requirement fails; no_data when none can be judged; meets otherwise."),
});
export type LevelEvaluation = z.infer<typeof LevelEvaluationSchema>;

export const BackendHealthSchema = z.object({
  stats: BackendStatsSchema,
  checks: z.array(RequirementCheckSchema).describe("Against the requirements of the backend's level."),
  verdict: VerdictSchema.describe("fails when any requirement fails; no_data when none can be judged; meets otherwise."),
  next: LevelEvaluationSchema.nullable().describe("The same figures against the next level's requirements (L1 → L2 → L3 → L4); null at L4 or for a backend not in the allowlist."),
});
export type BackendHealth = z.infer<typeof BackendHealthSchema>;

export const HealthViewSchema = z
  .object({
    window: TimeWindowSchema,
    backends: z.array(BackendHealthSchema).describe("Every allowlisted backend and any other with data in the window, worst first."),
  })
  .describe("/api/hud/health: each backend's figures against its level and the next (cross-repo-ci-relay health prints it).");
export type HealthView = z.infer<typeof HealthViewSchema>;

export const SummaryViewSchema = z.object({
  window: TimeWindowSchema,
  levels: z
    .array(
      z.object({
        level: z.string().describe("L1–L4, or the last level seen in the data for a backend no longer listed."),
        title: z.string(),
        requirements: RequirementsSchema,
        backends: z.array(BackendHealthSchema).describe("Worst first."),
      }),
    )
    .describe("L4 first."),
});
export type SummaryView = z.infer<typeof SummaryViewSchema>;

export const WeekHealthSchema = z.object({
  verdict: VerdictSchema.describe("Against the level's requirements, over that week."),
  next: VerdictSchema.nullable().describe("Against the next level's; null at L4 or outside the allowlist."),
  checks: z.array(RequirementCheckSchema).describe("Against the level's requirements, over that week (the health audit's evidence)."),
  infraAvailability: Rate,
  testPassRate: Rate,
  queueP90Ms: Ms,
  prTimeP90Ms: Ms,
  signalValidity: Rate,
  jobs: Count,
  dispatches: Count,
});
export type WeekHealth = z.infer<typeof WeekHealthSchema>;

export const HealthTrendViewSchema = z
  .object({
    windows: z.array(TimeWindowSchema).describe("Oldest first, 7 days each, the last ending now."),
    backends: z
      .array(
        z.object({
          downstreamRepo: z.string(),
          backendName: z.string(),
          level: z.string(),
          inAllowlist: z.boolean(),
          collectsResults: z.boolean(),
          nextLevel: z.string().nullable(),
          weeks: z.array(WeekHealthSchema).describe("One per window, oldest first."),
        }),
      )
      .describe("L4 first; worst first within a level by the latest week."),
  })
  .describe("/api/hud/health/weekly and /hud/health: each backend's verdicts and main figures week by week.");
export type HealthTrendView = z.infer<typeof HealthTrendViewSchema>;

export const JobCellSchema = z
  .object({
    workflowName: z.string(),
    jobName: z.string(),
    status: z.enum(["in_progress", "completed"]),
    conclusion: z.string().nullable(),
    failureKind: z.string().nullable(),
    runAttempt: z.int().positive(),
    jobUrl: z.string().nullable(),
    workflowUrl: z.string(),
    queueMs: Ms,
    executionMs: Ms,
    tests: z.object({ total: Count, passed: Count, failed: Count, skipped: Count }).nullable(),
    failedTests: z.array(z.string()),
    summary: z.string().nullable(),
    artifactUrl: z.string().nullable(),
    environment: z.record(z.string(), z.string()).describe('What the job ran on, as the downstream reported it (e.g. {"device": "Ascend 910B"}).'),
    startedAt: Iso.nullable(),
    firstReportAt: Iso,
  })
  .describe("One job attempt (the latest): a grid cell or a line of a PR box. Every string is the downstream's.");
export type JobCell = z.infer<typeof JobCellSchema>;

export const DispatchGapSchema = z
  .object({
    kind: z.enum(["waiting", "never_reported", "dispatch_failed", "not_dispatched", "not_expected"]),
    detail: z.string().describe("Explains kind without repeating it."),
  })
  .describe("Why a backend has no jobs where it was dispatched; not_expected: a forward-only backend (L1), which reports nothing back.");
export type DispatchGap = z.infer<typeof DispatchGapSchema>;

export const HistoryRowSchema = z
  .object({
    prNumber: z.int().positive().nullable(),
    headSha: z.string(),
    title: z.string().nullable(),
    author: z.string().nullable(),
    at: Iso.describe("First dispatch (or first report when there was no dispatch, e.g. a nightly run)."),
    eventType: z.string(),
    cells: z.record(z.string(), JobCellSchema).describe("Keyed by column key (see columns)."),
    missing: DispatchGapSchema.nullable().describe("Set when the backend was dispatched for this row but no job came back."),
  })
  .describe("A history-grid row: one (PR, head sha) or one pushed commit.");
export type HistoryRow = z.infer<typeof HistoryRowSchema>;

export const GridPageSchema = z
  .object({
    newer: z.string().nullable().describe("Pass as ?after= for the rows just newer than these; null on the newest page."),
    older: z.string().nullable().describe("Pass as ?before= for the rows just older than these; null when no older row is in the window (there is no more)."),
  })
  .describe("Keyset paging over the window's rows, 50 a page, newest first: a cursor is `<time in ms>_<PR number, 0 for a push>_<head sha>` of a row.");
export type GridPage = z.infer<typeof GridPageSchema>;

export const HistoryGridSchema = z.object({
  columns: z.array(z.string()).describe("Column keys in display order: `<workflow> / <job>`, with `<backend> · ` in trunk grids."),
  rows: z.array(HistoryRowSchema).describe("Newest first, at most 50."),
  page: GridPageSchema,
});
export type HistoryGrid = z.infer<typeof HistoryGridSchema>;

export const DailyPointSchema = z.object({
  day: z.string().describe("YYYY-MM-DD (UTC)"),
  testPassRate: Rate,
  infraOkRate: Rate.describe("Completed jobs without an infrastructure failure (timed out, or failure_kind infra), as a fraction."),
  queueP50Ms: Ms,
  runP50Ms: Ms.describe("Run time p50: first in_progress → completion."),
  jobs: Count,
});
export type DailyPoint = z.infer<typeof DailyPointSchema>;

export const BackendViewSchema = z.object({
  window: TimeWindowSchema,
  health: BackendHealthSchema,
  daily: z.array(DailyPointSchema).describe("One point per day of the window."),
  history: HistoryGridSchema,
  oncalls: z.array(z.string()),
});
export type BackendView = z.infer<typeof BackendViewSchema>;

export const TrunkMarkSchema = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("new"), trunkSha: z.string() }).describe("The job passed on trunk: the failure is new with this PR."),
    z
      .object({
        kind: z.enum(["also_on_trunk", "partly"]),
        trunkSha: z.string(),
        trunkUrl: z.string().optional().describe("The trunk job (or its run), as the downstream reported it."),
        tests: z.array(z.string()).describe("The PR's failed tests that fail on trunk too."),
        newTests: z.array(z.string()).describe("The PR's failed tests that do not fail on trunk; some: kind is partly."),
      })
      .describe("The job fails on trunk too."),
  ])
  .describe("A failed job compared with the latest trunk result (a push to the default branch) of the same job of the same backend; trunkSha: that trunk commit.");
export type TrunkMark = z.infer<typeof TrunkMarkSchema>;

export const PrJobCellSchema = JobCellSchema.extend({
  trunk: TrunkMarkSchema.optional().describe("Only on a failed job whose backend has a trunk result for the same workflow and job."),
}).describe("One job attempt (the latest), a line of a PR box; trunk: what the backend's latest trunk result says about its failure. Every string is the downstream's.");
export type PrJobCell = z.infer<typeof PrJobCellSchema>;

export const PrBackendBoxSchema = z.object({
  downstreamRepo: z.string(),
  backendName: z.string(),
  level: z.string().describe("The level this backend's own rows recorded; never a default."),
  state: z.enum(["failing", "running", "passed", "missing"]),
  jobs: z.array(PrJobCellSchema).describe("Failed → running → passed → the rest."),
  missing: DispatchGapSchema.nullable(),
  trunk: z
    .object({ failing: Count, alsoOnTrunk: Count })
    .optional()
    .describe("Set when a failed job has a trunk result: the failed jobs, and those failing on trunk with no new failed test (trunk.kind also_on_trunk)."),
});
export type PrBackendBox = z.infer<typeof PrBackendBoxSchema>;

export const PrViewSchema = z.object({
  upstreamRepo: z.string(),
  prNumber: z.int().positive(),
  headSha: z.string().nullable().describe("null when no out-of-tree CI was recorded for the PR."),
  title: z.string().nullable(),
  author: z.string().nullable(),
  shas: z.array(z.string()).describe("Head shas seen for this PR, newest first."),
  gating: z.array(PrBackendBoxSchema).describe('L4 and L3 backends (the "Out-of-Tree Backends" section), L4 first.'),
  hudOnly: z.array(PrBackendBoxSchema).describe("L2 backends with results on this sha (HUD only, never on the PR)."),
});
export type PrView = z.infer<typeof PrViewSchema>;

export const TrunkViewSchema = z.object({
  window: TimeWindowSchema,
  level: z.string().nullable().describe("null: every level."),
  history: HistoryGridSchema,
});
export type TrunkView = z.infer<typeof TrunkViewSchema>;
