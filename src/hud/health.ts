// Backend health (pure): raw counts from ClickHouse + the allowlist → rates, requirement checks and
// the summary's ordering. The allowlist's `requirements` are the thresholds maintainers promote and
// demote by; rates are fractions, durations in seconds there and milliseconds here.
import { collectsResults } from "../allowlist/policy.js";
import { LEVELS, type Allowlist, type LevelRequirements } from "../allowlist/types.js";
import type { DispatchCounts, JobCounts } from "./queries/stats.js";
import type { BackendHealth, BackendStats, RequirementCheck, SummaryView, TimeWindow, Verdict } from "./views.js";

const LEVEL_TITLES: Record<string, string> = {
  L4: "merge-gating",
  L3: "check runs on PR",
  L2: "callback-only",
  L1: "webhook-only",
};

const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The stats of one backend; availability is not measured for backends whose results are not collected (L1). */
function backendStats(
  identity: Pick<BackendStats, "downstreamRepo" | "backendName" | "level" | "inAllowlist" | "collectsResults">,
  jobs: JobCounts | undefined,
  dispatches: DispatchCounts | undefined,
): BackendStats {
  const completed = jobs?.completed ?? 0;
  const succeeded = jobs?.succeeded ?? 0;
  const testFailures = jobs?.testFailures ?? 0;
  const timedOut = jobs?.timedOut ?? 0;
  const available = dispatches?.available ?? 0;
  const unavailable = dispatches?.unavailable ?? 0;
  const empty = { p50: null, p90: null, avg: null, samples: 0 };
  return {
    ...identity,
    dispatches: dispatches?.sent ?? 0,
    dispatchFailures: dispatches?.failed ?? 0,
    available,
    unavailable,
    infraAvailability: identity.collectsResults ? ratio(available, available + unavailable) : null,
    jobs: jobs?.jobs ?? 0,
    completed,
    succeeded,
    testFailures,
    infraFailures: jobs?.infraFailures ?? 0,
    timedOut,
    testPassRate: ratio(succeeded, succeeded + testFailures),
    successRate: ratio(succeeded, completed),
    timeoutRate: ratio(timedOut, completed),
    queueMs: jobs?.queue ?? empty,
    executionMs: jobs?.execution ?? empty,
    prs: jobs?.prs ?? 0,
    lastRunAt: iso(jobs?.lastRunAt ?? null),
  };
}

type Measure = (stats: BackendStats) => number | null;
const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);

/** Each requirement: how it is measured and whether higher or lower is better. */
const REQUIREMENTS: Record<Exclude<keyof LevelRequirements, "window_days">, { measure: Measure; atLeast: boolean }> = {
  min_infra_availability: { measure: (s) => s.infraAvailability, atLeast: true },
  min_test_pass_rate: { measure: (s) => s.testPassRate, atLeast: true },
  min_success_rate: { measure: (s) => s.successRate, atLeast: true },
  max_timeout_rate: { measure: (s) => s.timeoutRate, atLeast: false },
  max_queue_time_p50: { measure: (s) => seconds(s.queueMs.p50), atLeast: false },
  max_queue_time_p90: { measure: (s) => seconds(s.queueMs.p90), atLeast: false },
  max_run_time_p50: { measure: (s) => seconds(s.executionMs.p50), atLeast: false },
  max_run_time_p90: { measure: (s) => seconds(s.executionMs.p90), atLeast: false },
};

function checkRequirements(stats: BackendStats, requirements: LevelRequirements): BackendHealth {
  const checks: RequirementCheck[] = [];
  for (const [requirement, rule] of Object.entries(REQUIREMENTS) as Array<[keyof typeof REQUIREMENTS, (typeof REQUIREMENTS)[keyof typeof REQUIREMENTS]]>) {
    const threshold = requirements[requirement];
    if (threshold === undefined) continue;
    const actual = rule.measure(stats);
    const verdict: Verdict = actual === null ? "no_data" : (rule.atLeast ? actual >= threshold : actual <= threshold) ? "meets" : "fails";
    checks.push({ requirement, threshold, actual, verdict });
  }
  return { stats, checks, verdict: overall(checks, stats) };
}

function overall(checks: RequirementCheck[], stats: BackendStats): Verdict {
  if (checks.some((check) => check.verdict === "fails")) return "fails";
  if (checks.some((check) => check.verdict === "meets")) return "meets";
  return stats.jobs === 0 && stats.dispatches === 0 ? "no_data" : checks.length === 0 ? "meets" : "no_data";
}

/**
 * Worst first: failing backends, then by test pass rate (lowest first). A backend that was dispatched
 * but never produced a result ranks before all others with data; one with no activity at all comes last.
 */
function worstFirst(a: BackendHealth, b: BackendHealth): number {
  return rank(a) - rank(b) || a.stats.downstreamRepo.localeCompare(b.stats.downstreamRepo);
}

function rank(health: BackendHealth): number {
  const { stats } = health;
  if (stats.jobs === 0) return stats.dispatches > 0 ? -2 : 3;
  return (health.verdict === "fails" ? -1 : 0) + (stats.testPassRate ?? 1);
}

/** The global summary: every allowlisted backend (with or without data) and any other backend with data in the window. */
export function summaryView(
  allowlist: Allowlist | undefined,
  jobs: readonly JobCounts[],
  dispatches: readonly DispatchCounts[],
  window: TimeWindow,
): SummaryView {
  const jobsByRepo = new Map(jobs.map((row) => [row.downstreamRepo, row]));
  const dispatchesByRepo = new Map(dispatches.map((row) => [row.downstreamRepo, row]));
  const repos = new Set([...(allowlist?.entries.map((entry) => entry.key) ?? []), ...jobsByRepo.keys(), ...dispatchesByRepo.keys()]);
  const byLevel = new Map<string, BackendHealth[]>();
  for (const repo of repos) {
    const health = backendHealth(allowlist, repo, jobsByRepo.get(repo), dispatchesByRepo.get(repo));
    const list = byLevel.get(health.stats.level) ?? [];
    list.push(health);
    byLevel.set(health.stats.level, list);
  }
  const levelOrder = [...LEVELS].reverse() as string[];
  const levels = [...byLevel.keys()].sort((a, b) => order(levelOrder, a) - order(levelOrder, b) || a.localeCompare(b));
  return {
    window,
    levels: levels.map((level) => ({
      level,
      title: LEVEL_TITLES[level] ?? "unknown level",
      requirements: requirementsFor(allowlist, level),
      backends: byLevel.get(level)!.sort(worstFirst),
    })),
  };
}

/** One backend's health: its level, name and policy from the allowlist when listed, else from the data. */
export function backendHealth(
  allowlist: Allowlist | undefined,
  repo: string,
  jobs: JobCounts | undefined,
  dispatches: DispatchCounts | undefined,
): BackendHealth {
  const entry = allowlist?.byRepo.get(repo);
  const seen = jobs ?? dispatches;
  const level = entry?.level ?? seen?.level ?? "unknown";
  const identity = {
    downstreamRepo: repo,
    backendName: entry?.name ?? seen?.backendName ?? repo,
    level,
    inAllowlist: entry !== undefined,
    // Forward-only backends are never asked to report back; one no longer listed is judged by its last level.
    collectsResults: entry ? collectsResults(entry.policy) : level !== "L1",
  };
  return checkRequirements(backendStats(identity, jobs, dispatches), requirementsFor(allowlist, level));
}

function requirementsFor(allowlist: Allowlist | undefined, level: string): LevelRequirements {
  return (allowlist?.requirements as Record<string, LevelRequirements> | undefined)?.[level] ?? {};
}

function order(list: string[], value: string): number {
  const index = list.indexOf(value);
  return index === -1 ? list.length : index;
}
