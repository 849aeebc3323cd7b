// Facts from downstream: a job attempt's new state (a callback or the sweeper's timeout), what became
// of a dispatch (the outbox), and a backend that never reported (the sweeper). Each runs inside its
// event's transaction; the job's latest attempt and its backend head's counts move by O(1) work.
import { findEntry } from "../allowlist/policy.js";
import { countAttempt, isLaterAttempt, type JobSummary, type StoredJob } from "../domain/jobs.js";
import { crcrRow, type CrcrReport } from "../export/crcr-row.js";
import type { DispatchOutcome, UnreportedReason } from "../domain/dispatches.js";
import { markReported, runnerWaitMs, runOver } from "../domain/runs.js";
import type { StoredBackendHead, StoreTx } from "../store/store.js";
import type { StateContext, StateSettings } from "./context.js";
import { reconcileBackendHead } from "./reconcile.js";
import { recordTrunkResult } from "./trunk.js";

/**
 * Stores a job attempt (and its HUD row, and its crcr export row) and, for a PR's current dispatch, moves its
 * check runs. Where run tracking saw the job wait for and get a runner, its queue time is GitHub's (runnerWaitMs).
 */
export async function recordJob(tx: StoreTx, reported: StoredJob, reportedRow: Record<string, unknown> | undefined, context: StateContext): Promise<number> {
  if (reported.prNumber === null) {
    await putJob(tx, reported, reportedRow, context);
    await recordTrunkResult(tx, reported, context.now);
    return 0;
  }
  // Reports of an earlier dispatch of the head (before a re-dispatch) no longer count.
  const backend = await tx.backendHeadOfDispatch(reported.deliveryId, reported.downstreamRepo);
  const runnerWait = backend && runnerWaitMs(backend.runs ?? [], reported.runId, reported.runAttempt, reported.jobName);
  const job = runnerWait === undefined ? reported : { ...reported, queueMs: runnerWait };
  const hudRow = runnerWait === undefined || !reportedRow ? reportedRow : { ...reportedRow, queue_ms: runnerWait };
  await putJob(tx, job, hudRow, context);
  const head = backend && (await tx.head(backend));
  // Also on a head that is no longer the PR's open head: a result is true for its commit, and the head's
  // state only decides what happens to check runs still running (src/checks/desired.ts).
  if (!backend || !head) return 0;
  const previous = await tx.latestAttempt(backend, job.workflowName, job.jobName);
  // A late report of an attempt older than the latest one changes nothing shown.
  if (previous && !isLaterAttempt(job, previous)) return 0;
  const attempt = { ...summaryOf(job), seq: previous?.seq ?? backend.nextSeq };
  await tx.putLatestAttempt(backend, attempt);
  // A report also says which dispatch its run belongs to: GitHub's events of a run whose name carries
  // no marker are followed from here on.
  if (!previous || previous.runId !== job.runId) await tx.trackRun(job.downstreamRepo, job.runId, job.deliveryId, context.now);
  const runs = markReported(backend.runs ?? [], job.runId, job.runAttempt, job.jobName);
  const next = withRunWait(
    {
      ...backend,
      counts: countAttempt(backend.counts, previous, attempt),
      newest: attempt,
      nextSeq: previous ? backend.nextSeq : backend.nextSeq + 1,
      ...(runs && { runs }),
    },
    context.now,
    context.settings,
  );
  await tx.putBackendHead(next);
  return reconcileBackendHead(tx, head, next, context, { ...job, seq: attempt.seq });
}

/**
 * The job and its HUD row, and with the crcr export on, the same state in crcr_workflow_job's shape (for
 * the same backends and states as the HUD: where there is a HUD row), all in the event's transaction.
 */
async function putJob(tx: StoreTx, job: StoredJob, hudRow: Record<string, unknown> | undefined, context: StateContext): Promise<void> {
  await tx.putJob(job, hudRow, context.now);
  if (hudRow && context.settings.crcrExport) {
    // The HUD row was built from this report (job.report) and carries the event type.
    const listed = context.allowlist && findEntry(context.allowlist, job.downstreamRepo);
    await tx.queueHudRow("crcr", crcrRow(job, job.report as unknown as CrcrReport, String(hudRow.event_type), listed?.repo), context.now);
  }
}

/** A dispatch task settled (sent, failed or dead-lettered): the aggregate of its backend head follows. */
export async function recordDispatchOutcome(
  tx: StoreTx,
  dispatch: { deliveryId: string; downstreamRepo: string },
  outcome: DispatchOutcome,
  reason: string | undefined,
  context: StateContext,
): Promise<number> {
  const backend = await tx.backendHeadOfDispatch(dispatch.deliveryId, dispatch.downstreamRepo);
  const head = backend && (await tx.head(backend));
  if (!backend || !head) return 0;
  const { dispatchReason: _previous, ...rest } = backend;
  const next = { ...rest, dispatchOutcome: outcome, ...(reason !== undefined && { dispatchReason: reason }) };
  await tx.putBackendHead(next);
  return reconcileBackendHead(tx, head, next, context);
}

/** The sweeper found no job reported by the start timeout. */
export async function recordUnreported(
  tx: StoreTx,
  dispatch: { deliveryId: string; downstreamRepo: string },
  reason: UnreportedReason,
  context: StateContext,
): Promise<number> {
  await tx.markUnreported(dispatch.deliveryId, dispatch.downstreamRepo, reason, context.now);
  const backend = await tx.backendHeadOfDispatch(dispatch.deliveryId, dispatch.downstreamRepo);
  const head = backend && (await tx.head(backend));
  if (!backend || !head) return 0;
  const next = { ...backend, unreported: reason };
  await tx.putBackendHead(next);
  return reconcileBackendHead(tx, head, next, context);
}

/**
 * `runWait` as the facts say: a deadline while jobs reported, none of them runs, and not every known run
 * is over (nor given up on); none otherwise. The deadline is kept while the wait goes on, and set anew
 * when the first run becomes known (a tracked run may wait for hardware far longer than a silent one
 * is given). The sweeper concludes heads past it (recordRunUnconfirmed).
 */
export function withRunWait(backend: StoredBackendHead, now: number, settings: Pick<StateSettings, "runEndWaitMs" | "trackedRunWaitMs">): StoredBackendHead {
  const runs = backend.runs ?? [];
  const tracked = runs.length > 0;
  const waiting =
    backend.counts.jobs > 0 && backend.counts.running === 0 && !(tracked && runs.every(runOver)) && backend.unreported !== "run_not_confirmed";
  const { runWait, ...rest } = backend;
  if (!waiting) return rest;
  if (runWait && runWait.tracked === tracked) return backend;
  return { ...rest, runWait: { deadline: now + (tracked ? settings.trackedRunWaitMs : settings.runEndWaitMs), tracked } };
}

/** Nothing said the dispatch's runs ended by the wait's deadline: the aggregate concludes without it. */
export async function recordRunUnconfirmed(tx: StoreTx, dispatch: { deliveryId: string; downstreamRepo: string }, context: StateContext): Promise<number> {
  const backend = await tx.backendHeadOfDispatch(dispatch.deliveryId, dispatch.downstreamRepo);
  const head = backend && (await tx.head(backend));
  if (!backend || !head) return 0;
  const { runWait: _done, ...rest } = backend;
  const next: StoredBackendHead = { ...rest, unreported: "run_not_confirmed" };
  await tx.putBackendHead(next);
  return reconcileBackendHead(tx, head, next, context);
}

function summaryOf(job: StoredJob): JobSummary {
  const { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt } = job;
  return { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt };
}
