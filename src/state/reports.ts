// Facts from downstream: a job attempt's new state (a callback or the sweeper's timeout), what became
// of a dispatch (the outbox), and a backend that never reported (the sweeper). Each runs inside its
// event's transaction; the job's latest attempt and its backend head's counts move by O(1) work.
import { countAttempt, isLaterAttempt, type JobSummary, type StoredJob } from "../domain/jobs.js";
import type { DispatchOutcome, UnreportedReason } from "../domain/dispatches.js";
import type { StoreTx } from "../store/store.js";
import type { StateContext } from "./context.js";
import { reconcileBackendHead } from "./reconcile.js";

/** Stores a job attempt (and its HUD row) and, for a PR's current dispatch, moves its check runs. */
export async function recordJob(tx: StoreTx, job: StoredJob, hudRow: Record<string, unknown> | undefined, context: StateContext): Promise<number> {
  await tx.putJob(job, hudRow, context.now);
  if (job.prNumber === null) return 0;
  // Reports of an earlier dispatch of the head (before a re-dispatch) no longer count.
  const backend = await tx.backendHeadOfDispatch(job.deliveryId, job.downstreamRepo);
  const head = backend && (await tx.head(backend));
  // Also on a head that is no longer the PR's open head: a result is true for its commit, and the head's
  // state only decides what happens to check runs still running (src/checks/desired.ts).
  if (!backend || !head) return 0;
  const previous = await tx.latestAttempt(backend, job.workflowName, job.jobName);
  // A late report of an attempt older than the latest one changes nothing shown.
  if (previous && !isLaterAttempt(job, previous)) return 0;
  const attempt = { ...summaryOf(job), seq: previous?.seq ?? backend.nextSeq };
  await tx.putLatestAttempt(backend, attempt);
  const next = {
    ...backend,
    counts: countAttempt(backend.counts, previous, attempt),
    newest: attempt,
    nextSeq: previous ? backend.nextSeq : backend.nextSeq + 1,
  };
  await tx.putBackendHead(next);
  return reconcileBackendHead(tx, head, next, context, { ...job, seq: attempt.seq });
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

function summaryOf(job: StoredJob): JobSummary {
  const { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt } = job;
  return { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt };
}
