// Facts from upstream pull_request events and the dispatches they (or a re-run) caused. Each function
// runs inside the delivery's transaction and reconciles the check runs of every backend head it touched.
import type { HeadFacts, HeadState } from "../domain/heads.js";
import { NO_JOBS } from "../domain/jobs.js";
import type { AcceptedWork, DeliveryRecord, StoreTx } from "../store/store.js";
import type { StateContext } from "./context.js";
import { reconcileBackendHead, retireJobChecks } from "./reconcile.js";

export interface PullRequestChange {
  upstreamRepo: string;
  prNumber: number;
  headSha: string;
  /** The PR's labels as the event carries them (every pull_request event has the full list). */
  labels: readonly string[];
  /** closed → the head's PR is closed; any other action → the head is the PR's open head. */
  closed: boolean;
}

/**
 * Records the PR's head: open (superseding any other open head of the PR — a push, or a force-push back
 * to an earlier commit, which revives that one) or closed. Returns how many check-run writes were queued.
 */
export async function applyPullRequest(tx: StoreTx, change: PullRequestChange, context: StateContext): Promise<number> {
  const changed: HeadFacts[] = [];
  const state: HeadState = change.closed ? "closed" : "open";
  if (!change.closed) {
    for (const other of await tx.openHeadsOfPr(change.upstreamRepo, change.prNumber)) {
      if (other.headSha !== change.headSha) changed.push({ ...other, state: "superseded", supersededBy: change.headSha, stateChangedAt: context.now });
    }
  }
  const current = await tx.head(change);
  const next: HeadFacts = {
    upstreamRepo: change.upstreamRepo,
    headSha: change.headSha,
    prNumber: change.prNumber,
    state,
    labels: change.labels,
    stateChangedAt: current?.state === state ? current.stateChangedAt : context.now,
  };
  if (!current || current.state !== next.state || !sameLabels(current.labels, next.labels) || current.prNumber !== next.prNumber) changed.push(next);
  let queued = 0;
  for (const head of changed) {
    await tx.putHead(head);
    for (const backend of await tx.backendHeads(head)) queued += await reconcileBackendHead(tx, head, backend, context);
  }
  return queued;
}

/**
 * Stores a delivery's dispatches (acceptDelivery) and makes each pull-request dispatch the latest of its
 * backend head: a new dispatch starts the head's job counts over. Returns "duplicate" when the delivery
 * was stored before.
 */
export async function acceptDispatches(
  tx: StoreTx,
  delivery: DeliveryRecord,
  work: AcceptedWork,
  context: StateContext,
): Promise<{ outcome: "accepted" | "duplicate"; queued: number }> {
  if ((await tx.acceptDelivery(delivery, work, context.now)) === "duplicate") return { outcome: "duplicate", queued: 0 };
  let queued = 0;
  for (const row of work.log) {
    // A closing notice (action closed) tells a backend the PR is gone; it starts no run the head waits for.
    if (row.outcome !== "pending" || row.event !== "pull_request" || row.prNumber === undefined || row.action === "closed") continue;
    const head = await tx.head({ upstreamRepo: row.upstreamRepo, headSha: row.headSha });
    if (!head) continue;
    const key = { upstreamRepo: row.upstreamRepo, headSha: row.headSha, downstreamRepo: row.downstreamRepo };
    const existing = await tx.backendHead(key);
    if (existing && existing.deliveryId !== row.deliveryId) {
      // The earlier run's job check runs still running end here: the new run reports under the same names.
      queued += await retireJobChecks(tx, head, existing, context);
      await tx.clearLatestAttempts(key);
    }
    const backend = {
      ...key,
      upstreamRepo: head.upstreamRepo,
      backendName: row.backendName,
      level: row.level,
      deliveryId: row.deliveryId,
      dispatchOutcome: row.outcome,
      counts: NO_JOBS,
      nextSeq: 0,
      ...(existing?.frameHash !== undefined && { frameHash: existing.frameHash }),
    };
    await tx.putBackendHead(backend);
    queued += await reconcileBackendHead(tx, head, backend, context);
  }
  return { outcome: "accepted", queued };
}

function sameLabels(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((label, i) => label === b[i]);
}
