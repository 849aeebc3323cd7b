// Reported job attempts (pure types and arithmetic). A job is a (workflow, job name) of a backend's run
// on a head; each re-run is a new attempt, and only the latest attempt of each job counts.

export interface JobKey {
  deliveryId: string;
  downstreamRepo: string;
  runId: number;
  runAttempt: number;
  jobName: string;
}

/**
 * What the HUD rows, the crcr export and the trunk baseline read of a stored report (`StoredJob.report`: a
 * callback body, src/callback/schema.ts, or one the relay wrote for GitHub's data).
 */
export interface ReportedFields {
  workflow: { name: string; url: string };
  job: { name: string; url?: string };
  failure_kind?: string;
  summary?: string;
  started_at?: string;
  completed_at?: string;
  tests?: { total: number; passed: number; failed: number; skipped: number };
  failed_tests?: readonly string[];
  artifact_url?: string;
  environment?: Record<string, string>;
}

/** One reported job attempt, as the relay knows it. Times are the relay's clock (ms). */
export interface StoredJob extends JobKey {
  upstreamRepo: string;
  prNumber: number | null;
  headSha: string;
  backendName: string;
  level: string;
  workflowName: string;
  status: "in_progress" | "completed";
  conclusion?: string;
  startedAt?: number;
  completedAt?: number;
  /** Dispatch accepted by GitHub → first in_progress report. */
  queueMs?: number;
  /** in_progress → completed; absent when the start report was never seen. */
  executionMs?: number;
  /** Identifies the last accepted report, so an identical repeat is recognised. */
  fingerprint: string;
  /** The last accepted callback body, without its ticket. */
  report: Record<string, unknown>;
  updatedAt: number;
}

/** What an aggregate reads of a job: no report, a few hundred bytes. */
export type JobSummary = Pick<StoredJob, keyof JobKey | "prNumber" | "workflowName" | "status" | "conclusion" | "updatedAt">;

/** The latest attempt of one job on a backend-head, with the order in which the job first reported. */
export interface LatestAttempt extends JobSummary {
  /** 0 for the first job of the backend on the head to report, 1 for the next, …; attempts keep it. */
  seq: number;
}

/** A job across its attempts: (workflow, job name). */
export function jobIdentity(job: Pick<StoredJob, "workflowName" | "jobName">): string {
  return `${job.workflowName}\u0000${job.jobName}`;
}

/** Whether `candidate` is a later attempt of the same job than `current` (higher run id, then attempt). */
export function isLaterAttempt(candidate: Pick<JobKey, "runId" | "runAttempt">, current: Pick<JobKey, "runId" | "runAttempt">): boolean {
  return candidate.runId > current.runId || (candidate.runId === current.runId && candidate.runAttempt >= current.runAttempt);
}

export function sameJobAttempt(a: JobKey, b: JobKey): boolean {
  return (
    a.deliveryId === b.deliveryId &&
    a.downstreamRepo.toLowerCase() === b.downstreamRepo.toLowerCase() &&
    a.runId === b.runId &&
    a.runAttempt === b.runAttempt &&
    a.jobName === b.jobName
  );
}

/**
 * The latest attempts of a backend's jobs on a head, counted: kept up to date in the same transaction as
 * each report (subtract the job's previous latest attempt, add the new one), so rolling up the aggregate
 * costs the same whatever the number of jobs.
 */
export interface JobCounts {
  jobs: number;
  running: number;
  /** Completed latest attempts per conclusion. */
  conclusions: Record<string, number>;
}

export const NO_JOBS: JobCounts = Object.freeze({ jobs: 0, running: 0, conclusions: Object.freeze({}) as Record<string, number> });

type Counted = Pick<JobSummary, "status" | "conclusion">;

/** `counts` with `previous` (the job's former latest attempt, if any) replaced by `next`. */
export function countAttempt(counts: JobCounts, previous: Counted | undefined, next: Counted): JobCounts {
  const conclusions = { ...counts.conclusions };
  let { jobs, running } = counts;
  if (previous) {
    if (previous.status === "in_progress") running -= 1;
    else decrement(conclusions, conclusionOf(previous));
  } else {
    jobs += 1;
  }
  if (next.status === "in_progress") running += 1;
  else conclusions[conclusionOf(next)] = (conclusions[conclusionOf(next)] ?? 0) + 1;
  return { jobs, running, conclusions };
}

/** A completed job without a conclusion counts as failed: it never claims success. */
export function conclusionOf(job: Counted): string {
  return job.conclusion ?? "failure";
}

function decrement(conclusions: Record<string, number>, conclusion: string): void {
  const left = (conclusions[conclusion] ?? 0) - 1;
  if (left > 0) conclusions[conclusion] = left;
  else delete conclusions[conclusion];
}
