// What the HUD pages and their JSON mirrors show: plain data, computed by queries.ts from ClickHouse
// and health.ts from the allowlist. Times are ISO-8601 strings (UTC); durations are milliseconds;
// rates are fractions in [0, 1], null when there is nothing to divide by.
import type { LevelRequirements } from "../allowlist/types.js";

export interface TimeWindow {
  /** Length of the window in days (the pages offer 1, 7 and 30). */
  days: number;
  from: string;
  to: string;
}

/** One backend's numbers over a window. Job counts are latest attempts only (a re-run replaces its attempt). */
export interface BackendStats {
  downstreamRepo: string;
  backendName: string;
  /** The level in the allowlist now; the last level seen in the data when no longer listed. */
  level: string;
  inAllowlist: boolean;
  /** Dispatches GitHub accepted in the window. */
  dispatches: number;
  /** Dispatches the relay could not deliver (failed or dead-lettered). */
  dispatchFailures: number;
  /** Sent dispatches whose jobs all completed without an infrastructure failure. */
  available: number;
  /** Sent dispatches that never started (no report by the start timeout), timed out, or failed for infrastructure. */
  unavailable: number;
  /** available / (available + unavailable); dispatches still running are in neither. */
  infraAvailability: number | null;
  jobs: number;
  /** Jobs that finished (the denominator of success and timeout rates). */
  completed: number;
  succeeded: number;
  /** Completed `failure` not marked infra: the change (or upstream) broke tests. */
  testFailures: number;
  /** `timed_out` or failure_kind infra. */
  infraFailures: number;
  timedOut: number;
  /** succeeded / (succeeded + testFailures). */
  testPassRate: number | null;
  /** succeeded / completed jobs. */
  successRate: number | null;
  /** timedOut / completed jobs. */
  timeoutRate: number | null;
  queueMs: Percentiles;
  executionMs: Percentiles;
  /** PRs with at least one job reported. */
  prs: number;
  lastRunAt: string | null;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  avg: number | null;
  /** Jobs the figures are computed from. */
  samples: number;
}

export type Verdict = "meets" | "fails" | "no_data";

export interface RequirementCheck {
  /** The allowlist's requirement key, e.g. min_test_pass_rate. */
  requirement: keyof LevelRequirements;
  /** Threshold as written in the allowlist (rates as fractions, durations in seconds). */
  threshold: number;
  /** Measured value in the same unit, null when there is no data. */
  actual: number | null;
  verdict: Verdict;
}

export interface BackendHealth {
  stats: BackendStats;
  checks: RequirementCheck[];
  /** fails when any requirement fails; no_data when none can be judged; meets otherwise. */
  verdict: Verdict;
}

export interface SummaryView {
  window: TimeWindow;
  /** L4 first; each level's backends worst first. */
  /** A level is L1–L4, or the last level seen in the data for a backend no longer listed. */
  levels: Array<{ level: string; title: string; requirements: LevelRequirements; backends: BackendHealth[] }>;
}

/** One job attempt as a grid cell or a PR box line. */
export interface JobCell {
  workflowName: string;
  jobName: string;
  status: "in_progress" | "completed";
  conclusion: string | null;
  failureKind: string | null;
  runAttempt: number;
  jobUrl: string | null;
  workflowUrl: string;
  queueMs: number | null;
  executionMs: number | null;
  tests: { total: number; passed: number; failed: number; skipped: number } | null;
  failedTests: string[];
  summary: string | null;
  artifactUrl: string | null;
  /** What the job ran on, as the downstream reported it (e.g. {"device": "Ascend 910B"}). */
  environment: Record<string, string>;
  startedAt: string | null;
  firstReportAt: string;
}

/** A history-grid row: one (PR, head sha) or one pushed commit. */
export interface HistoryRow {
  prNumber: number | null;
  headSha: string;
  title: string | null;
  author: string | null;
  /** First dispatch (or first report when there was no dispatch, e.g. a nightly run). */
  at: string;
  eventType: string;
  /** Keyed by column key (see HistoryGrid.columns). */
  cells: Record<string, JobCell>;
  /** Set when the backend was dispatched for this row but no job came back, with why. */
  missing: DispatchGap | null;
}

export interface HistoryGrid {
  /** Column keys in display order; a key is `<workflow> / <job>` (with `<backend> · ` in trunk grids). */
  columns: string[];
  rows: HistoryRow[];
}

export interface DailyPoint {
  day: string;
  testPassRate: number | null;
  queueP50Ms: number | null;
  jobs: number;
}

export interface BackendView {
  window: TimeWindow;
  health: BackendHealth;
  daily: DailyPoint[];
  history: HistoryGrid;
  oncalls: string[];
}

export interface PrBackendBox {
  downstreamRepo: string;
  backendName: string;
  level: string;
  /** failing, running, passed, or a missing state (see missing). */
  state: "failing" | "running" | "passed" | "missing";
  /** Sorted failed → running → passed. */
  jobs: JobCell[];
  /** Why there are no jobs. */
  missing: DispatchGap | null;
}

/** Why a backend has no jobs where it was expected; `detail` explains `kind` without repeating it. */
export interface DispatchGap {
  kind: "waiting" | "never_reported" | "dispatch_failed" | "not_dispatched";
  detail: string;
}

export interface PrView {
  upstreamRepo: string;
  prNumber: number;
  headSha: string | null;
  title: string | null;
  author: string | null;
  /** Head shas seen for this PR, newest first (the page links older ones). */
  shas: string[];
  /** L4 and L3 backends (the "Out-of-Tree Backends" section), L4 first. */
  gating: PrBackendBox[];
  /** L2 backends with results on this sha (HUD only, never on the PR). */
  hudOnly: PrBackendBox[];
}

export interface TrunkView {
  window: TimeWindow;
  /** null: every level. */
  level: string | null;
  history: HistoryGrid;
}
