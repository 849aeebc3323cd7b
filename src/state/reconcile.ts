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
import type { CheckRunRecord, StoredBackendHead, Store } from "../store/store.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { StateContext } from "./context.js";

/** A job whose latest attempt just changed: its own check run is recomputed even when the frame did not change. */
export type ChangedJob = StoredJob & Pick<LatestAttempt, "seq">;

/** Recomputes a backend head's check runs; returns how many writes were queued. */
export function reconcileBackendHead(store: Store, head: HeadFacts, backend: StoredBackendHead, context: StateContext, changed?: ChangedJob): number {
  const { settings, allowlist } = context;
  // Without an allowlist nobody's visibility is known: leave everything as it is; loading one reconciles
  // every open head (src/state/policy.ts).
  if (!allowlist) return 0;
  const entry = findEntry(allowlist, backend.downstreamRepo);
  const aggregateKey = aggregateCheckKey(head.upstreamRepo, backend.backendName, head.headSha);
  const aggregateRecord = store.checkRun(aggregateKey);
  const listed = backend.counts.jobs > 0 ? store.listedAttempts(backend, LISTED_JOBS) : [];
  const view: BackendHeadView = { head, backend, entry, listed };
  let queued = queue(store, head, aggregateKey, aggregateRecord, desiredAggregate(view, settings, aggregateRecord !== undefined), context);

  // The job check runs depend on their job and on this frame; when the frame moved, all of them are
  // recomputed (at most maxJobChecks), otherwise only the job that changed.
  const shown = visibility(view, settings.labelPrefix, aggregateRecord !== undefined);
  const frameHash = stateHash({ state: head.state, shown, level: entry?.level, policy: entry?.policy, name: entry?.name });
  const jobs: ChangedJob[] = [];
  if (frameHash !== backend.frameHash) {
    for (const attempt of store.attemptsBelowSeq(backend, settings.maxJobChecksPerBackend)) {
      const job = attempt.seq === changed?.seq ? changed : store.getJob(attempt);
      if (job) jobs.push({ ...job, seq: attempt.seq });
    }
    store.putBackendHead({ ...backend, frameHash });
  } else if (changed) {
    jobs.push(changed);
  }
  for (const job of jobs) {
    const key = jobCheckKey(aggregateKey, job.workflowName, job.jobName);
    const last = store.checkRun(key);
    queued += queue(store, head, key, last, desiredJobCheck({ head, backend, entry }, job, settings, last !== undefined, aggregateRecord !== undefined), context);
  }
  return queued;
}

/**
 * Before a backend head's counts start over for a new dispatch: the job check runs of the earlier run
 * get their final state (retiredJobCheck). Returns how many writes were queued.
 */
export function retireJobChecks(store: Store, head: HeadFacts, backend: StoredBackendHead, context: StateContext): number {
  if (!context.allowlist) return 0;
  const entry = findEntry(context.allowlist, backend.downstreamRepo);
  const aggregateKey = aggregateCheckKey(head.upstreamRepo, backend.backendName, head.headSha);
  const aggregateWritten = store.checkRun(aggregateKey) !== undefined;
  let queued = 0;
  for (const attempt of store.attemptsBelowSeq(backend, context.settings.maxJobChecksPerBackend)) {
    const job = store.getJob(attempt);
    if (!job) continue;
    const key = jobCheckKey(aggregateKey, job.workflowName, job.jobName);
    const last = store.checkRun(key);
    const retired = retiredJobCheck({ head, backend, entry }, { ...job, seq: attempt.seq }, context.settings, last !== undefined, aggregateWritten);
    queued += queue(store, head, key, last, retired, context);
  }
  return queued;
}

/** Queues `desired` unless it is `last`, what was last queued for `key` (read once by the caller). */
function queue(
  store: Store,
  head: HeadFacts,
  key: string,
  last: CheckRunRecord | undefined,
  desired: GitHubRequest | undefined,
  context: StateContext,
): number {
  if (!desired) return 0;
  const hash = stateHash(desired.params);
  if (last?.desiredHash === hash) return 0;
  // Final states go out at once; intermediate ones wait briefly and are replaced by anything newer.
  const delay = desired.params.status === "in_progress" ? context.settings.checkUpdateDelayMs : 0;
  const installation = context.upstreamInstallationId !== undefined ? { installationId: context.upstreamInstallationId } : {};
  store.queueCheckRun(
    { key, kind: "check_run", repo: head.upstreamRepo, ...installation, request: desired, notBefore: context.now + delay },
    head,
    hash,
    context.now,
  );
  return 1;
}
