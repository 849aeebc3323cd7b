// Nothing is left spinning forever: jobs in progress past the job timeout complete as `timed_out`,
// and a backend dispatched but silent past the start timeout gets its aggregate concluded
// `timed_out` ("backend never reported") and its dispatch recorded as an infrastructure failure.
import { collectsResults, findEntry } from "../allowlist/policy.js";
import type { Allowlist } from "../allowlist/types.js";
import { aggregateCheckKey } from "../checks/aggregate.js";
import { concludedRequest } from "../checks/conclude.js";
import type { Store, StoredJob } from "../store/store.js";
import { jobEffects, type CallbackSettings } from "./process.js";
import type { CallbackBody } from "./schema.js";

export interface SweepSettings extends Omit<CallbackSettings, "ticketKeys"> {
  jobTimeoutMs: number;
  startTimeoutMs: number;
}

/** Fingerprint of the relay's own timeout, so the record says who completed the job. */
export const RELAY_TIMEOUT_FINGERPRINT = "relay:timed_out";
const BATCH = 100;

export function sweep(store: Store, allowlist: Allowlist, settings: SweepSettings, now: number): { timedOut: number; neverReported: number } {
  let timedOut = 0;
  for (const job of store.staleJobs(now - settings.jobTimeoutMs, BATCH)) {
    const entry = findEntry(allowlist, job.downstreamRepo);
    const hours = Math.round(settings.jobTimeoutMs / 3_600_000);
    const summary = `The relay timed this job out: it reported in_progress but no result within ${hours} h.`;
    const report = { ...job.report, status: "completed", conclusion: "timed_out", failure_kind: "infra", summary };
    const next: StoredJob = {
      ...job,
      status: "completed",
      conclusion: "timed_out",
      completedAt: now,
      ...(job.startedAt !== undefined && { executionMs: now - job.startedAt }),
      fingerprint: RELAY_TIMEOUT_FINGERPRINT,
      report,
      updatedAt: now,
    };
    // A repo since removed from the allowlist still leaves the stale set, just without effects.
    const effects = entry ? jobEffects(next, report as unknown as CallbackBody, entry, { store, settings }) : { checkRuns: [] };
    store.recordJob(next, effects, now);
    timedOut += 1;
  }

  let neverReported = 0;
  for (const dispatch of store.unreportedDispatches(now - settings.startTimeoutMs, BATCH)) {
    const entry = findEntry(allowlist, dispatch.downstreamRepo);
    // A forward-only backend (L1) is not asked to report: its silence is no failure.
    if (entry && !collectsResults(entry.policy)) {
      store.markUnreported(dispatch.deliveryId, dispatch.downstreamRepo, "reports_not_expected", now);
      continue;
    }
    const aggregateKey = entry && aggregateCheckKey(dispatch.upstreamRepo, entry.name, dispatch.headSha);
    const aggregate = aggregateKey ? store.taskByKey(aggregateKey) : undefined;
    if (aggregate && aggregate.request.params.status !== "completed") {
      const minutes = Math.round(settings.startTimeoutMs / 60_000);
      store.syncCheckRuns(
        [
          {
            ...aggregate,
            request: concludedRequest(
              aggregate.request,
              entry?.policy.block_pr ? "timed_out" : (settings.nonBlockingFailureConclusion ?? "timed_out"),
              "Backend never reported",
              `\`${dispatch.downstreamRepo}\` received this commit but reported no job within ${minutes} min. This counts as an infrastructure failure of the backend.`,
            ),
          },
        ],
        now,
      );
    }
    store.markUnreported(dispatch.deliveryId, dispatch.downstreamRepo, "never_reported", now);
    neverReported += 1;
  }
  return { timedOut, neverReported };
}
