// Downstream workflow runs of a dispatch, as GitHub and the downstream's run-level report describe them
// (pure types and arithmetic). A backend's aggregate may conclude only once every run it knows of is
// over: reported jobs alone cannot tell "all done" from "the others have not started yet".
import type { JobCounts } from "./jobs.js";

/** Runs kept per dispatch (a dispatch event may start several workflows; the relay-marked ones count). */
export const MAX_RUNS_PER_DISPATCH = 4;
/** GitHub jobs kept per run; a run with more still completes the same way, its extra jobs are only counted. */
export const MAX_TRACKED_JOBS = 100;

export type GitHubStatus = "requested" | "pending" | "waiting" | "queued" | "in_progress" | "completed";

/** One job of a run as GitHub's `workflow_job` events describe it. Times are GitHub's (ms). */
export interface GitHubJobFacts {
  name: string;
  status: GitHubStatus;
  conclusion?: string;
  /** When GitHub queued the job (its `created_at`). */
  queuedAt?: number;
  /** When a runner picked it up (`started_at` of an in_progress or later event). */
  startedAt?: number;
  completedAt?: number;
  /** A runner was assigned (in_progress seen, or a runner name on completion). */
  hadRunner: boolean;
  /** A report of this job (same run and attempt, same job name) reached the relay. */
  reported: boolean;
}

/** One attempt of one downstream workflow run. */
export interface RunFacts {
  runId: number;
  runAttempt: number;
  workflowName?: string;
  url?: string;
  /** From `workflow_run` events: GitHub's own view, which the downstream cannot forge. */
  github?: { status: GitHubStatus; conclusion?: string; createdAt?: number; startedAt?: number; updatedAt?: number };
  /** From the downstream's run-level report (`scope: run`). */
  reported?: { conclusion: string; jobs?: number };
  /** GitHub's jobs of this attempt, at most MAX_TRACKED_JOBS (first seen first). */
  jobs: GitHubJobFacts[];
  /** GitHub jobs seen past MAX_TRACKED_JOBS. */
  untrackedJobs: number;
  /**
   * What the relay last recorded this attempt's leftovers from (src/state/runs.ts): the run-level report,
   * or GitHub's completion — which, arriving after the report, is looked at once more.
   */
  settled?: "report" | "github";
}

/**
 * The run migration 13 gives a dispatch that reported jobs before run tracking: over by report, so its
 * aggregate concludes from its jobs alone, as it did when it was dispatched. Never settled again.
 */
export const LEGACY_RUN: RunFacts = Object.freeze({
  runId: 0,
  runAttempt: 1,
  reported: { conclusion: "success" },
  jobs: [],
  untrackedJobs: 0,
  settled: "report",
});

const STATUS_ORDER: readonly GitHubStatus[] = ["requested", "pending", "waiting", "queued", "in_progress", "completed"];

/** Conclusions that say a job or run did not pass (GitHub's run conclusions include startup_failure and stale). */
const FAILING = new Set(["failure", "timed_out", "cancelled", "startup_failure", "action_required", "stale"]);

export function isFailing(conclusion: string | undefined): boolean {
  return conclusion !== undefined && FAILING.has(conclusion);
}

/** GitHub may deliver a run's or job's events out of order: a status never moves backwards. */
function later(current: GitHubStatus | undefined, next: GitHubStatus): boolean {
  return current === undefined || STATUS_ORDER.indexOf(next) >= STATUS_ORDER.indexOf(current);
}

/**
 * The run of `runs` for (runId, runAttempt), created (or reset, for a newer attempt) if needed. Returns
 * undefined when the event is about an older attempt than the one known (it no longer counts), or the
 * dispatch already has MAX_RUNS_PER_DISPATCH other runs.
 */
function runFor(runs: readonly RunFacts[], runId: number, runAttempt: number): { run: RunFacts; others: RunFacts[] } | undefined {
  const others = runs.filter((run) => run.runId !== runId);
  const current = runs.find((run) => run.runId === runId);
  if (current && current.runAttempt > runAttempt) return undefined;
  if (current && current.runAttempt === runAttempt) return { run: current, others };
  if (!current && others.length >= MAX_RUNS_PER_DISPATCH) return undefined;
  const carried = current ? { ...(current.workflowName && { workflowName: current.workflowName }), ...(current.url && { url: current.url }) } : {};
  return { run: { runId, runAttempt, jobs: [], untrackedJobs: 0, ...carried }, others };
}

function replaced(others: RunFacts[], run: RunFacts): RunFacts[] {
  return [...others, run].sort((a, b) => a.runId - b.runId);
}

export interface RunEvent {
  runId: number;
  runAttempt: number;
  status: GitHubStatus;
  conclusion?: string;
  workflowName?: string;
  url?: string;
  createdAt?: number;
  startedAt?: number;
  updatedAt?: number;
}

/** `runs` after a `workflow_run` event; undefined when it changes nothing. */
export function applyRunEvent(runs: readonly RunFacts[], event: RunEvent): RunFacts[] | undefined {
  const found = runFor(runs, event.runId, event.runAttempt);
  if (!found) return undefined;
  const { run, others } = found;
  if (!later(run.github?.status, event.status)) return undefined;
  if (run.github?.status === "completed") return undefined;
  const github = {
    status: event.status,
    ...(event.conclusion && { conclusion: event.conclusion }),
    ...((event.createdAt ?? run.github?.createdAt) !== undefined && { createdAt: event.createdAt ?? run.github?.createdAt }),
    ...((event.startedAt ?? run.github?.startedAt) !== undefined && { startedAt: event.startedAt ?? run.github?.startedAt }),
    ...(event.updatedAt !== undefined && { updatedAt: event.updatedAt }),
  };
  const next: RunFacts = {
    ...run,
    ...(event.workflowName && { workflowName: event.workflowName }),
    ...(event.url && { url: event.url }),
    github,
  };
  return replaced(others, next);
}

export interface JobEvent {
  runId: number;
  runAttempt: number;
  name: string;
  status: GitHubStatus;
  conclusion?: string;
  createdAt?: number;
  startedAt?: number;
  completedAt?: number;
  runnerName?: string;
  workflowName?: string;
}

/** `runs` after a `workflow_job` event (`reported`: the job already reported); undefined when it changes nothing. */
export function applyJobEvent(runs: readonly RunFacts[], event: JobEvent, reported: boolean): RunFacts[] | undefined {
  const found = runFor(runs, event.runId, event.runAttempt);
  if (!found) return undefined;
  const { run, others } = found;
  const index = run.jobs.findIndex((job) => job.name === event.name);
  const current = index === -1 ? undefined : run.jobs[index];
  if (current && (!later(current.status, event.status) || current.status === "completed")) return undefined;
  if (!current && run.jobs.length >= MAX_TRACKED_JOBS) {
    return event.status === "queued" || event.status === "waiting" ? replaced(others, { ...run, untrackedJobs: run.untrackedJobs + 1 }) : undefined;
  }
  const startedAt = event.status === "in_progress" || event.status === "completed" ? (current?.startedAt ?? event.startedAt) : undefined;
  const job: GitHubJobFacts = {
    name: event.name,
    status: event.status,
    ...(event.conclusion && { conclusion: event.conclusion }),
    ...((current?.queuedAt ?? event.createdAt) !== undefined && { queuedAt: current?.queuedAt ?? event.createdAt }),
    ...(startedAt !== undefined && { startedAt }),
    ...(event.completedAt !== undefined && { completedAt: event.completedAt }),
    hadRunner: (current?.hadRunner ?? false) || event.status === "in_progress" || Boolean(event.runnerName),
    reported: (current?.reported ?? false) || reported,
  };
  const jobs = [...run.jobs];
  if (current) jobs[index] = job;
  else jobs.push(job);
  return replaced(others, { ...run, ...(event.workflowName && !run.workflowName && { workflowName: event.workflowName }), jobs });
}

/** `runs` after the downstream's run-level report; undefined when it changes nothing (a repeat, an older attempt). */
export function applyRunReport(runs: readonly RunFacts[], runId: number, runAttempt: number, conclusion: string, jobs: number | undefined): RunFacts[] | undefined {
  const found = runFor(runs, runId, runAttempt);
  if (!found || found.run.reported) return undefined;
  return replaced(found.others, { ...found.run, reported: { conclusion, ...(jobs !== undefined && { jobs }) } });
}

/** `runs` with job `name` of the run marked reported; undefined when nothing changes. */
/**
 * How long GitHub says a job waited for a runner (its `workflow_job` queued → picked up by a runner), the
 * hardware wait the queue-time figure is about; undefined when run tracking has not seen both.
 */
export function runnerWaitMs(runs: readonly RunFacts[], runId: number, runAttempt: number, jobName: string): number | undefined {
  const job = runs.find((run) => run.runId === runId && run.runAttempt === runAttempt)?.jobs.find((found) => found.name === jobName);
  if (job?.queuedAt === undefined || job.startedAt === undefined || job.startedAt < job.queuedAt) return undefined;
  return job.startedAt - job.queuedAt;
}

export function markReported(runs: readonly RunFacts[], runId: number, runAttempt: number, name: string): RunFacts[] | undefined {
  const run = runs.find((candidate) => candidate.runId === runId && candidate.runAttempt === runAttempt);
  const index = run?.jobs.findIndex((job) => job.name === name) ?? -1;
  if (!run || index === -1 || run.jobs[index]?.reported) return undefined;
  const jobs = run.jobs.map((job, i) => (i === index ? { ...job, reported: true } : job));
  return replaced(runs.filter((candidate) => candidate !== run), { ...run, jobs });
}

/** Whether the run's leftovers are to be recorded now: it is over, and GitHub's word on it was not looked at yet. */
export function toSettle(run: RunFacts): RunFacts["settled"] {
  const by = run.github?.status === "completed" ? "github" : run.reported ? "report" : undefined;
  return by !== undefined && by !== run.settled && run.settled !== "github" ? by : undefined;
}

/** Whether the run is over: GitHub says completed, or the downstream's run-level report came, whichever first. */
export function runOver(run: RunFacts): boolean {
  return run.github?.status === "completed" || run.reported !== undefined;
}

/** The run's final conclusion as known: the worse of GitHub's and the reported one. */
export function runConclusion(run: RunFacts): string | undefined {
  const conclusions = [run.github?.status === "completed" ? run.github.conclusion : undefined, run.reported?.conclusion].filter(
    (conclusion): conclusion is string => conclusion !== undefined,
  );
  if (conclusions.length === 0) return run.github?.status === "completed" ? "failure" : undefined;
  return conclusions.find(isFailing) ?? conclusions[0];
}

/** Whether GitHub shows a run of the dispatch that got going: a job with a runner, or a run past queued. */
export function runStarted(runs: readonly RunFacts[]): boolean {
  return runs.some(
    (run) => run.jobs.some((job) => job.hadRunner) || (run.github !== undefined && STATUS_ORDER.indexOf(run.github.status) >= STATUS_ORDER.indexOf("in_progress")),
  );
}

/** What the aggregate says about runs: whether it may conclude, how many jobs to expect, why it waits. */
export interface RunRollup {
  /** At least one run is known. */
  tracked: boolean;
  /** Every known run is over (false when none is known). */
  over: boolean;
  /** Jobs the runs have or had, when known (GitHub's jobs or the run report's count); undefined: unknown yet. */
  expectedJobs?: number;
  /** Every known run is still waiting for a runner (queued on GitHub, no job started). */
  waitingForRunner: boolean;
}

export function runRollup(runs: readonly RunFacts[], counts: JobCounts): RunRollup {
  const tracked = runs.length > 0;
  const over = tracked && runs.every(runOver);
  let expected = 0;
  let known = tracked;
  for (const run of runs) {
    const github = run.jobs.filter((job) => job.conclusion !== "skipped").length + run.untrackedJobs;
    const count = Math.max(run.reported?.jobs ?? 0, github);
    if (count === 0) known = false;
    expected += count;
  }
  const waitingForRunner =
    tracked && runs.every((run) => !runOver(run) && (run.github === undefined || STATUS_ORDER.indexOf(run.github.status) < STATUS_ORDER.indexOf("in_progress")) && run.jobs.every((job) => !job.hadRunner));
  return {
    tracked,
    over,
    ...(known && { expectedJobs: Math.max(expected, counts.jobs) }),
    waitingForRunner: waitingForRunner && counts.jobs === 0,
  };
}

/** A job the relay records for a run that ended without it reporting: GitHub's word, marked as infrastructure. */
export interface UnreportedJob {
  runId: number;
  runAttempt: number;
  workflowName: string;
  jobName: string;
  conclusion: string;
  summary: string;
  startedAt?: number;
  completedAt?: number;
  /** GitHub's queued → started, when both are known. */
  queueMs?: number;
}

/** The name under which a run's own verdict is recorded when no job explains it (e.g. startup_failure). */
export const RUN_VERDICT_JOB = "(workflow run)";

/**
 * What a run that is over leaves to record as jobs: every GitHub job that did not pass and never reported,
 * and, when the run's conclusion fails but no job (reported or not) does, the run's own verdict — so
 * an aggregate never shows success for a run GitHub or the downstream concluded otherwise.
 * `failingReported`: a reported job of the backend head did not pass.
 */
export function unreportedJobs(run: RunFacts, failingReported: boolean): UnreportedJob[] {
  const workflowName = run.workflowName ?? "workflow";
  const out: UnreportedJob[] = [];
  for (const job of run.jobs) {
    if (job.reported || job.status !== "completed" || !isFailing(job.conclusion)) continue;
    const why = job.hadRunner ? "ran on GitHub but never reported its result" : "never got a runner";
    out.push({
      runId: run.runId,
      runAttempt: run.runAttempt,
      workflowName,
      jobName: job.name,
      conclusion: checkConclusion(job.conclusion),
      summary: `Not reported: this job ${why}; GitHub concluded it \`${job.conclusion}\`. Counted as an infrastructure failure of the backend.`,
      ...(job.startedAt !== undefined && { startedAt: job.startedAt }),
      ...(job.completedAt !== undefined && { completedAt: job.completedAt }),
      ...(job.queuedAt !== undefined && job.startedAt !== undefined && job.hadRunner && { queueMs: Math.max(0, job.startedAt - job.queuedAt) }),
    });
  }
  const conclusion = runConclusion(run);
  if (out.length === 0 && !failingReported && isFailing(conclusion)) {
    const source = run.github?.status === "completed" && isFailing(run.github.conclusion) ? "GitHub" : "The downstream's run report";
    out.push({
      runId: run.runId,
      runAttempt: run.runAttempt,
      workflowName,
      jobName: RUN_VERDICT_JOB,
      conclusion: checkConclusion(conclusion),
      summary: `${verdictText(conclusion, source)} Counted as an infrastructure failure of the backend.`,
    });
  }
  return out;
}

function verdictText(conclusion: string | undefined, source: string): string {
  if (conclusion === "startup_failure") return "The workflow run could not start (GitHub: `startup_failure`, e.g. an invalid workflow file or no permitted runner).";
  if (conclusion === "cancelled") return `${source} says the run was cancelled (by a newer run of its concurrency group, or by hand) before any job reported a failure.`;
  return `${source} concluded the run \`${conclusion}\`, but no job reported a failure.`;
}

const CHECK_RUN_CONCLUSIONS = new Set(["success", "neutral", "skipped", "timed_out", "cancelled", "action_required", "failure"]);

/** A GitHub job or run conclusion as a check-run conclusion: startup_failure, stale and an unknown one count as failure. */
export function checkConclusion(conclusion: string | undefined): string {
  return conclusion !== undefined && CHECK_RUN_CONCLUSIONS.has(conclusion) ? conclusion : "failure";
}
