// Level-triggered check runs: after any fact of a backend head changed, its desired check runs are
// recomputed from the facts (src/checks/desired.ts), compared with the hash of the state last queued
// for each, and only a difference is queued in the outbox. Runs inside the event's transaction.
import { findEntry } from "../allowlist/policy.js";
import { aggregateCheckKey } from "../checks/aggregate.js";
import { desiredAggregate, desiredJobCheck, retiredJobCheck, visibility, type BackendHeadView } from "../checks/desired.js";
import { jobCheckKey, LISTED_JOBS } from "../checks/job-checks.js";
import type { HeadFacts } from "../domain/heads.js";
import { stateHash } from "../domain/state-hash.js";
import type { LatestAttempt, StoredJob } from "../domain/jobs.js";
import type { CheckRunRecord, RenderedKind, StoredBackendHead, StoreTx } from "../store/store.js";
import { desiredOncallComment, desiredOncallWebhook, notifiesOncalls, oncallCommentKey } from "../checks/oncall-comment.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { StateContext } from "./context.js";
import { listedTrunkComparisons, trunkComparison } from "./trunk.js";
import type { TrunkComparison } from "../domain/trunk-baseline.js";

/** A job whose latest attempt just changed: its own check run is recomputed even when the frame did not change. */
export type ChangedJob = StoredJob & Pick<LatestAttempt, "seq">;

/** Recomputes a backend head's check runs; returns how many writes were queued. */
export async function reconcileBackendHead(
  tx: StoreTx,
  head: HeadFacts,
  backend: StoredBackendHead,
  context: StateContext,
  changed?: ChangedJob,
): Promise<number> {
  const { settings, allowlist } = context;
  // Without an allowlist nobody's visibility is known: leave everything as it is; loading one reconciles
  // every open head (src/state/policy.ts).
  if (!allowlist) return 0;
  const entry = findEntry(allowlist, backend.downstreamRepo);
  const aggregateKey = aggregateCheckKey(head.upstreamRepo, backend.backendName, head.headSha);
  const aggregateRecord = await tx.checkRun(aggregateKey);
  const { listed, trunk } = await aggregateFacts(tx, backend);
  const view: BackendHeadView = { head, backend, entry, listed, ...(trunk && { trunk }) };
  let queued = await queue(tx, head, aggregateKey, aggregateRecord, desiredAggregate(view, settings, aggregateRecord !== undefined), context);

  const shown = visibility(view, settings.labelPrefix, aggregateRecord !== undefined);
  // The oncall comment and webhook message of an open head; a head that moved on keeps what it had.
  if (entry && entry.name === backend.backendName && head.state === "open" && notifiesOncalls(entry.level, shown.shown)) {
    const oncall = { ...head, entry, counts: backend.counts, shown: shown.shown, webBaseUrl: settings.webBaseUrl, publicUrl: settings.publicUrl };
    if (settings.oncallComments) {
      const key = oncallCommentKey(head.upstreamRepo, head.prNumber, head.headSha, backend.downstreamRepo);
      const last = await tx.checkRun(key);
      const desired = desiredOncallComment({ ...oncall, listed, ...(trunk && { trunk }), written: last !== undefined });
      queued += await queue(tx, head, key, last, desired, context, "comment");
    }
    if (settings.oncallWebhooks?.has(entry.key)) {
      const key = oncallCommentKey(head.upstreamRepo, head.prNumber, head.headSha, backend.downstreamRepo, "notify");
      queued += await queue(tx, head, key, await tx.checkRun(key), desiredOncallWebhook(oncall), context, "notify", entry.repo);
    }
  }

  // The job check runs depend on their job and on this frame; when the frame moved, all of them are
  // recomputed (at most maxJobChecks), otherwise only the job that changed.
  const frameHash = stateHash({ state: head.state, shown, level: entry?.level, policy: entry?.policy, name: entry?.name });
  const jobs: ChangedJob[] = [];
  if (frameHash !== backend.frameHash) {
    for (const attempt of await tx.attemptsBelowSeq(backend, settings.maxJobChecksPerBackend)) {
      const job = attempt.seq === changed?.seq ? changed : await tx.getJob(attempt);
      if (job) jobs.push({ ...job, seq: attempt.seq });
    }
    await tx.putBackendHead({ ...backend, frameHash });
  } else if (changed) {
    jobs.push(changed);
  }
  for (const job of jobs) {
    const key = jobCheckKey(aggregateKey, job.workflowName, job.jobName);
    const last = await tx.checkRun(key);
    const desired = desiredJobCheck({ head, backend, entry }, job, settings, last !== undefined, aggregateRecord !== undefined, await trunkComparison(tx, job));
    queued += await queue(tx, head, key, last, desired, context);
  }
  return queued;
}

/** What a backend head's aggregate lists beside its counts: the listed attempts and their failures against trunk. */
export async function aggregateFacts(tx: StoreTx, backend: StoredBackendHead): Promise<{ listed: LatestAttempt[]; trunk?: Map<string, TrunkComparison> }> {
  const listed = backend.counts.jobs > 0 ? await tx.listedAttempts(backend, LISTED_JOBS) : [];
  const trunk = await listedTrunkComparisons(tx, listed);
  return { listed, ...(trunk && { trunk }) };
}

/**
 * Before a backend head's counts start over for a new dispatch: the job check runs of the earlier run
 * get their final state (retiredJobCheck). Returns how many writes were queued.
 */
export async function retireJobChecks(tx: StoreTx, head: HeadFacts, backend: StoredBackendHead, context: StateContext): Promise<number> {
  if (!context.allowlist) return 0;
  const entry = findEntry(context.allowlist, backend.downstreamRepo);
  const aggregateKey = aggregateCheckKey(head.upstreamRepo, backend.backendName, head.headSha);
  const aggregateWritten = (await tx.checkRun(aggregateKey)) !== undefined;
  let queued = 0;
  for (const attempt of await tx.attemptsBelowSeq(backend, context.settings.maxJobChecksPerBackend)) {
    const job = await tx.getJob(attempt);
    if (!job) continue;
    const key = jobCheckKey(aggregateKey, job.workflowName, job.jobName);
    const last = await tx.checkRun(key);
    const retired = retiredJobCheck({ head, backend, entry }, { ...job, seq: attempt.seq }, context.settings, last !== undefined, aggregateWritten);
    queued += await queue(tx, head, key, last, retired, context);
  }
  return queued;
}

/** Queues `desired` unless it is `last`, what was last queued for `key` (read once by the caller). */
async function queue(
  tx: StoreTx,
  head: HeadFacts,
  key: string,
  last: CheckRunRecord | undefined,
  desired: GitHubRequest | undefined,
  context: StateContext,
  kind: RenderedKind = "check_run",
  /** The repo the task writes to: the upstream, but the backend's for a webhook message (whose URL is looked up by it). */
  repo = head.upstreamRepo,
): Promise<number> {
  if (!desired) return 0;
  const hash = stateHash(desired.params);
  if (last?.desiredHash === hash) return 0;
  // Final check-run states go out at once; intermediate ones, and comments (several jobs fail in a
  // burst), wait briefly and are replaced by anything newer.
  const delay = desired.params.status === "in_progress" || kind === "comment" ? context.settings.checkUpdateDelayMs : 0;
  const installation = context.upstreamInstallationId !== undefined && kind !== "notify" ? { installationId: context.upstreamInstallationId } : {};
  await tx.queueCheckRun(
    { key, kind, repo, ...installation, request: desired, notBefore: context.now + delay },
    head,
    hash,
    context.now,
  );
  return 1;
}
