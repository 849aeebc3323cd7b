// Facts about a dispatch's downstream runs: GitHub's workflow_run / workflow_job events and the
// downstream's run-level report. Each runs inside its event's transaction. When a run is over, what it
// leaves unexplained is recorded as jobs (GitHub's word, marked infrastructure): a job that never
// reported, a reported job that never reported its end, a run that failed without any failing job. The
// aggregate then concludes from jobs alone, and the HUD counts them like any other result.
import { findEntry } from "../allowlist/policy.js";
import { resultRow } from "./result-row.js";
import type { ReportedFields, StoredJob } from "../domain/jobs.js";
import {
  applyJobEvent,
  applyRunEvent,
  applyRunReport,
  checkConclusion,
  isFailing,
  markReported,
  toSettle,
  unreportedJobs,
  type JobEvent,
  type RunEvent,
  type RunFacts,
  type UnreportedJob,
} from "../domain/runs.js";
import type { HeadFacts } from "../domain/heads.js";
import type { StoredBackendHead, StoreTx } from "../store/store.js";
import type { StateContext } from "./context.js";
import { reconcileBackendHead } from "./reconcile.js";
import { recordJob, withRunWait } from "./reports.js";

/** Fingerprints of jobs the relay recorded from GitHub's data, so the record says who completed them. */
export const GITHUB_NOT_REPORTED_FINGERPRINT = "github:not_reported";
export const GITHUB_ENDED_FINGERPRINT = "github:ended";

interface Dispatch {
  deliveryId: string;
  downstreamRepo: string;
}

/** A `workflow_run` event of a run correlated to `dispatch` (by the run-name marker). */
export async function recordRunEvent(tx: StoreTx, dispatch: Dispatch, event: RunEvent, context: StateContext): Promise<number> {
  const found = await backendOf(tx, dispatch);
  if (!found) return 0;
  const runs = applyRunEvent(found.backend.runs ?? [], event);
  if (!runs) return 0;
  await tx.trackRun(dispatch.downstreamRepo, event.runId, dispatch.deliveryId, context.now);
  return settleRuns(tx, found.head, { ...found.backend, runs }, context);
}

/** A `workflow_job` event; its run must be tracked already (from a workflow_run event or a report). */
export async function recordJobEvent(tx: StoreTx, downstreamRepo: string, event: JobEvent, context: StateContext): Promise<number> {
  const deliveryId = await tx.trackedRun(downstreamRepo, event.runId);
  const found = deliveryId === undefined ? undefined : await backendOf(tx, { deliveryId, downstreamRepo });
  if (!found) return 0;
  const workflowName = event.workflowName ?? found.backend.runs?.find((run) => run.runId === event.runId)?.workflowName;
  const latest = workflowName === undefined ? undefined : await tx.latestAttempt(found.backend, workflowName, event.name);
  const reported = latest !== undefined && latest.runId === event.runId && latest.runAttempt === event.runAttempt;
  const runs = applyJobEvent(found.backend.runs ?? [], { ...(workflowName && { workflowName }), ...event }, reported);
  return runs ? settleRuns(tx, found.head, { ...found.backend, runs }, context) : 0;
}

export interface RunReport {
  runId: number;
  runAttempt: number;
  workflowName: string;
  url: string;
  /** The job that sent the report (it reported, so it is never "not reported"). */
  jobName: string;
  conclusion: string;
  jobs?: number;
}

/**
 * The downstream's run-level report (`scope: run`). `duplicate`: the run's report was recorded before
 * (or the run is an older attempt, or the dispatch is no longer the backend head's latest).
 */
export async function recordRunReport(tx: StoreTx, dispatch: Dispatch, report: RunReport, context: StateContext): Promise<{ queued: number; duplicate: boolean }> {
  const found = await backendOf(tx, dispatch);
  if (!found) return { queued: 0, duplicate: true };
  const known = found.backend.runs ?? [];
  const named = known.some((run) => run.runId === report.runId)
    ? known
    : (applyRunEvent(known, { runId: report.runId, runAttempt: report.runAttempt, status: "in_progress", workflowName: report.workflowName, url: report.url }) ?? known);
  const reported = applyRunReport(named, report.runId, report.runAttempt, report.conclusion, report.jobs);
  if (!reported) return { queued: 0, duplicate: true };
  await tx.trackRun(dispatch.downstreamRepo, report.runId, dispatch.deliveryId, context.now);
  const runs = markReported(reported, report.runId, report.runAttempt, report.jobName) ?? reported;
  return { queued: await settleRuns(tx, found.head, { ...found.backend, runs }, context), duplicate: false };
}

/**
 * Stores `backend` (its runs changed) and, for each run that just ended, records what it leaves
 * unexplained; then keeps the sweeper's cue and recomputes the check runs.
 */
export async function settleRuns(tx: StoreTx, head: HeadFacts, backend: StoredBackendHead, context: StateContext): Promise<number> {
  const ended = (backend.runs ?? []).filter((run) => toSettle(run) !== undefined);
  let current: StoredBackendHead =
    ended.length === 0 ? backend : { ...backend, runs: (backend.runs ?? []).map((run) => (ended.includes(run) ? { ...run, settled: toSettle(run) } : run)) };
  let queued = 0;
  if (ended.length > 0) {
    await tx.putBackendHead(current);
    for (const run of ended) queued += await recordRunLeftovers(tx, head, current, run, context);
    current = (await tx.backendHeadOfDispatch(current.deliveryId, current.downstreamRepo)) ?? current;
  }
  const next = withRunWait(current, context.now, context.settings);
  await tx.putBackendHead(next);
  return queued + (await reconcileBackendHead(tx, head, next, context));
}

async function recordRunLeftovers(tx: StoreTx, head: HeadFacts, backend: StoredBackendHead, run: RunFacts, context: StateContext): Promise<number> {
  let queued = 0;
  // Reported jobs GitHub says ended, whose own end never came (the runner died, the step never ran).
  if (run.github?.status === "completed" && run.workflowName !== undefined) {
    for (const githubJob of run.jobs) {
      if (!githubJob.reported || githubJob.status !== "completed") continue;
      const latest = await tx.latestAttempt(backend, run.workflowName, githubJob.name);
      if (!latest || latest.status !== "in_progress" || latest.runId !== run.runId || latest.runAttempt !== run.runAttempt) continue;
      const job = await tx.getJob(latest);
      if (!job) continue;
      const infra = infrastructure(head, githubJob.conclusion);
      const summary = `This job reported its start but never its result; GitHub concluded it \`${githubJob.conclusion ?? "unknown"}\`.${infra ? " Counted as an infrastructure failure of the backend." : ""}`;
      const report = { ...job.report, summary, ...(infra && { failure_kind: "infra" }) };
      queued += await recordEnded(tx, { ...job, report }, checkConclusion(githubJob.conclusion), githubJob.completedAt, context);
    }
  }
  const after = (await tx.backendHeadOfDispatch(backend.deliveryId, backend.downstreamRepo)) ?? backend;
  const failingReported = Object.keys(after.counts.conclusions).some(isFailing);
  for (const unreported of unreportedJobs(run, failingReported)) {
    if (!infrastructure(head, unreported.conclusion)) continue;
    queued += await recordUnreportedJob(tx, head, after, run, unreported, context);
  }
  return queued;
}

/**
 * Whether a job or run GitHub concluded so counts as the backend's infrastructure failure. Not a run
 * cancelled on a head the PR moved away from or closed: the relay's cancellation (or the workflow's
 * concurrency group, on a new push) did that, as it should.
 */
function infrastructure(head: HeadFacts, conclusion: string | undefined): boolean {
  return isFailing(conclusion ?? "failure") && !(conclusion === "cancelled" && head.state !== "open");
}

async function recordEnded(tx: StoreTx, job: StoredJob, conclusion: string, completedAt: number | undefined, context: StateContext): Promise<number> {
  const at = completedAt ?? context.now;
  const next: StoredJob = {
    ...job,
    status: "completed",
    conclusion,
    completedAt: at,
    ...(job.startedAt !== undefined && { executionMs: Math.max(0, at - job.startedAt) }),
    fingerprint: GITHUB_ENDED_FINGERPRINT,
    report: { ...job.report, status: "completed", conclusion },
    updatedAt: context.now,
  };
  return recordJob(tx, next, hudRowOf(next, context), context);
}

async function recordUnreportedJob(
  tx: StoreTx,
  head: HeadFacts,
  backend: StoredBackendHead,
  run: RunFacts,
  unreported: UnreportedJob,
  context: StateContext,
): Promise<number> {
  const url = run.url ?? `https://github.com/${backend.downstreamRepo}/actions/runs/${run.runId}`;
  const job: StoredJob = {
    deliveryId: backend.deliveryId,
    downstreamRepo: backend.downstreamRepo,
    runId: unreported.runId,
    runAttempt: unreported.runAttempt,
    jobName: unreported.jobName,
    upstreamRepo: backend.upstreamRepo,
    prNumber: head.prNumber,
    headSha: backend.headSha,
    backendName: backend.backendName,
    level: backend.level,
    workflowName: unreported.workflowName,
    status: "completed",
    conclusion: unreported.conclusion,
    ...(unreported.startedAt !== undefined && { startedAt: unreported.startedAt }),
    completedAt: unreported.completedAt ?? context.now,
    ...(unreported.queueMs !== undefined && { queueMs: unreported.queueMs }),
    fingerprint: GITHUB_NOT_REPORTED_FINGERPRINT,
    report: {
      schema_version: 1,
      status: "completed",
      conclusion: unreported.conclusion,
      workflow: { name: unreported.workflowName, run_id: unreported.runId, run_attempt: unreported.runAttempt, url },
      job: { name: unreported.jobName },
      failure_kind: "infra",
      summary: unreported.summary,
    },
    updatedAt: context.now,
  };
  return recordJob(tx, job, hudRowOf(job, context), context);
}

function hudRowOf(job: StoredJob, context: StateContext): Record<string, unknown> | undefined {
  const entry = context.allowlist && findEntry(context.allowlist, job.downstreamRepo);
  return entry?.policy.display_on_hud ? resultRow(job, job.report as unknown as ReportedFields, "pull_request") : undefined;
}

async function backendOf(tx: StoreTx, dispatch: Dispatch): Promise<{ backend: StoredBackendHead; head: HeadFacts } | undefined> {
  const backend = await tx.backendHeadOfDispatch(dispatch.deliveryId, dispatch.downstreamRepo);
  const head = backend && (await tx.head(backend));
  return backend && head ? { backend, head } : undefined;
}
