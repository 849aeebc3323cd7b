// Backend health (pure): raw counts from ClickHouse + the allowlist → rates, requirement checks and
// the summary's ordering. The allowlist's `requirements` are the thresholds maintainers promote and
// demote by; rates are fractions, durations in seconds there and milliseconds here.
import { collectsResults } from "../allowlist/policy.js";
import { LEVELS, type Allowlist, type LevelRequirements } from "../allowlist/types.js";
import type { SignalCounts } from "../domain/callback-audit.js";
import type { DispatchCounts, JobCounts, PrTimes } from "./queries/stats.js";
import type {
  BackendHealth,
  BackendStats,
  HealthTrendView,
  HealthView,
  LevelEvaluation,
  RequirementCheck,
  SummaryView,
  TimeWindow,
  Verdict,
  WeekHealth,
} from "./views.js";

/** What one backend's figures are computed from: ClickHouse's counts and the callback audit's. */
export interface BackendInputs {
  jobs?: JobCounts | undefined;
  dispatches?: DispatchCounts | undefined;
  prTimes?: PrTimes | undefined;
  signal?: SignalCounts | undefined;
}

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
  { jobs, dispatches, prTimes, signal }: BackendInputs,
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
    prTimeMs: prTimes?.prTime ?? empty,
    callbacks: signal?.total ?? 0,
    invalidCallbacks: signal?.invalid ?? 0,
    signalValidity: signal ? ratio(signal.valid, signal.valid + signal.invalid) : null,
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
  max_pr_time_p90: { measure: (s) => seconds(s.prTimeMs.p90), atLeast: false },
  min_signal_validity: { measure: (s) => s.signalValidity, atLeast: true },
};

/** The level a backend is promoted to from `level`; undefined at the top (or for an unknown level). */
export function nextLevel(level: string): string | undefined {
  const index = (LEVELS as readonly string[]).indexOf(level);
  return index === -1 ? undefined : LEVELS[index + 1];
}

/** `stats` against one level's requirements (also used for an allowlist PR's promotions: src/levels/). */
export function checkRequirements(stats: BackendStats, requirements: LevelRequirements): Omit<LevelEvaluation, "level"> {
  const checks: RequirementCheck[] = [];
  for (const [requirement, rule] of Object.entries(REQUIREMENTS) as Array<[keyof typeof REQUIREMENTS, (typeof REQUIREMENTS)[keyof typeof REQUIREMENTS]]>) {
    const threshold = requirements[requirement];
    if (threshold === undefined) continue;
    const actual = rule.measure(stats);
    const verdict: Verdict = actual === null ? "no_data" : (rule.atLeast ? actual >= threshold : actual <= threshold) ? "meets" : "fails";
    checks.push({ requirement, threshold, actual, verdict });
  }
  return { checks, verdict: overall(checks, stats) };
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
  // A forward-only backend (L1) is not asked for results: its silence is no failure.
  if (stats.jobs === 0) return stats.dispatches > 0 && stats.collectsResults ? -2 : 3;
  return (health.verdict === "fails" ? -1 : 0) + (stats.testPassRate ?? 1);
}

/** Every backend's figures over a window, as read from ClickHouse and the callback audit. */
export interface WindowInputs {
  jobs: readonly JobCounts[];
  dispatches: readonly DispatchCounts[];
  prTimes: readonly PrTimes[];
  /** Per downstream repo (lower case). */
  signal: ReadonlyMap<string, SignalCounts>;
}

/** The health of every allowlisted backend (with or without data) and of any other backend with data, unordered. */
function everyBackend(allowlist: Allowlist | undefined, inputs: WindowInputs): BackendHealth[] {
  const byRepo = <T extends { downstreamRepo: string }>(rows: readonly T[]) => new Map(rows.map((row) => [row.downstreamRepo, row]));
  const jobs = byRepo(inputs.jobs);
  const dispatches = byRepo(inputs.dispatches);
  const prTimes = byRepo(inputs.prTimes);
  const repos = new Set([...(allowlist?.entries.map((entry) => entry.key) ?? []), ...jobs.keys(), ...dispatches.keys()]);
  return [...repos].map((repo) =>
    backendHealth(allowlist, repo, { jobs: jobs.get(repo), dispatches: dispatches.get(repo), prTimes: prTimes.get(repo), signal: inputs.signal.get(repo) }),
  );
}

/** /api/hud/health: every backend against its level and the next, L4 first, worst first within a level. */
export function healthView(allowlist: Allowlist | undefined, inputs: WindowInputs, window: TimeWindow): HealthView {
  const levelOrder = [...LEVELS].reverse() as string[];
  const byLevel = (a: BackendHealth, b: BackendHealth) => order(levelOrder, a.stats.level) - order(levelOrder, b.stats.level);
  return { window, backends: everyBackend(allowlist, inputs).sort((a, b) => byLevel(a, b) || worstFirst(a, b)) };
}

/**
 * Week by week (`weeks` oldest first, each a window's inputs): every backend's verdicts and main figures,
 * ordered as the latest week's health view. A backend without data in a week shows no_data there.
 */
export function healthTrend(allowlist: Allowlist | undefined, weeks: ReadonlyArray<{ window: TimeWindow; inputs: WindowInputs }>): HealthTrendView {
  const views = weeks.map(({ window, inputs }) => healthView(allowlist, inputs, window));
  const byRepo = views.map((view) => new Map(view.backends.map((health) => [health.stats.downstreamRepo, health])));
  const latest = views.at(-1)?.backends ?? [];
  const seen = new Set(latest.map((health) => health.stats.downstreamRepo));
  // Backends only seen in earlier weeks (since removed, or silent lately) come after, in the order first seen.
  const rows = [...latest, ...views.flatMap((view) => view.backends).filter((health) => !seen.has(health.stats.downstreamRepo) && seen.add(health.stats.downstreamRepo))];
  return {
    windows: weeks.map(({ window }) => window),
    backends: rows.map(({ stats, next }) => ({
      downstreamRepo: stats.downstreamRepo,
      backendName: stats.backendName,
      level: stats.level,
      inAllowlist: stats.inAllowlist,
      collectsResults: stats.collectsResults,
      nextLevel: next?.level ?? null,
      weeks: byRepo.map((week) => weekOf(week.get(stats.downstreamRepo))),
    })),
  };
}

function weekOf(health: BackendHealth | undefined): WeekHealth {
  if (!health) {
    return { verdict: "no_data", next: null, checks: [], infraAvailability: null, testPassRate: null, queueP90Ms: null, prTimeP90Ms: null, signalValidity: null, jobs: 0, dispatches: 0 };
  }
  const { stats } = health;
  return {
    verdict: health.verdict,
    next: health.next?.verdict ?? null,
    checks: health.checks,
    infraAvailability: stats.infraAvailability,
    testPassRate: stats.testPassRate,
    queueP90Ms: stats.queueMs.p90,
    prTimeP90Ms: stats.prTimeMs.p90,
    signalValidity: stats.signalValidity,
    jobs: stats.jobs,
    dispatches: stats.dispatches,
  };
}

/** The global summary: every allowlisted backend (with or without data) and any other backend with data in the window. */
export function summaryView(allowlist: Allowlist | undefined, inputs: WindowInputs, window: TimeWindow): SummaryView {
  const byLevel = new Map<string, BackendHealth[]>();
  for (const health of everyBackend(allowlist, inputs)) {
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

/**
 * One backend's health: its level, name and policy from the allowlist when listed, else from the data;
 * judged against its level's requirements and, for a listed backend below L4, the next level's.
 */
export function backendHealth(allowlist: Allowlist | undefined, repo: string, inputs: BackendInputs): BackendHealth {
  const entry = allowlist?.byRepo.get(repo);
  const seen = inputs.jobs ?? inputs.dispatches;
  const level = entry?.level ?? seen?.level ?? "unknown";
  const identity = {
    downstreamRepo: repo,
    backendName: entry?.name ?? seen?.backendName ?? repo,
    level,
    inAllowlist: entry !== undefined,
    // Forward-only backends are never asked to report back; one no longer listed is judged by its last level.
    collectsResults: entry ? collectsResults(entry.policy) : level !== "L1",
  };
  const stats = backendStats(identity, inputs);
  const promotion = entry ? nextLevel(level) : undefined;
  return {
    stats,
    ...checkRequirements(stats, requirementsFor(allowlist, level)),
    next: promotion === undefined ? null : { level: promotion, ...checkRequirements(stats, requirementsFor(allowlist, promotion)) },
  };
}

function requirementsFor(allowlist: Allowlist | undefined, level: string): LevelRequirements {
  return (allowlist?.requirements as Record<string, LevelRequirements> | undefined)?.[level] ?? {};
}

function order(list: string[], value: string): number {
  const index = list.indexOf(value);
  return index === -1 ? list.length : index;
}
