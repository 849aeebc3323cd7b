// Nothing is left spinning forever: jobs in progress past the job timeout complete as `timed_out`;
// a backend dispatched but silent past the start timeout gets its aggregate concluded `timed_out`
// ("backend never reported") and its dispatch recorded as an infrastructure failure; and an aggregate
// whose reported jobs are done but whose run was never said to end concludes at its run wait's deadline.
import { collectsResults, findEntry } from "../allowlist/policy.js";
import type { Allowlist } from "../allowlist/types.js";
import type { StoredJob } from "../domain/jobs.js";
import { runStarted } from "../domain/runs.js";
import { resultRow } from "../state/result-row.js";
import type { SweepSettings } from "../state/settings.js";
import { recordJob, recordRunUnconfirmed, recordUnreported } from "../state/reports.js";
import type { Store } from "../store/store.js";
import type { CallbackBody } from "./schema.js";

/** Fingerprint of the relay's own timeout, so the record says who completed the job. */
export const RELAY_TIMEOUT_FINGERPRINT = "relay:timed_out";
const BATCH = 100;

export async function sweep(
  store: Store,
  allowlist: Allowlist,
  settings: SweepSettings,
  now: number,
): Promise<{ timedOut: number; neverReported: number; runUnconfirmed: number }> {
  const context = { allowlist, settings, now };
  let timedOut = 0;
  for (const job of await store.staleJobs(now - settings.jobTimeoutMs, BATCH)) {
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
    // A repo since removed from the allowlist still leaves the stale set, with no HUD row.
    const hudRow = entry?.policy.display_on_hud ? resultRow(next, report as unknown as CallbackBody, next.prNumber === null ? "push" : "pull_request") : undefined;
    await store.transaction((tx) => recordJob(tx, next, hudRow, context));
    timedOut += 1;
  }

  let neverReported = 0;
  for (const dispatch of await store.unreportedDispatches(now - settings.startTimeoutMs, BATCH)) {
    const entry = findEntry(allowlist, dispatch.downstreamRepo);
    // A forward-only backend (L1) is not asked to report: its silence is no failure. Nor is a backend whose
    // run GitHub shows going (run tracking): its jobs may report only at their end; the run's end decides.
    const backend = await store.backendHeadOfDispatch(dispatch.deliveryId, dispatch.downstreamRepo);
    const reason =
      entry && !collectsResults(entry.policy) ? "reports_not_expected" : backend && runStarted(backend.runs ?? []) ? "run_started" : "never_reported";
    await store.transaction((tx) => recordUnreported(tx, dispatch, reason, context));
    if (reason === "never_reported") neverReported += 1;
  }
  let runUnconfirmed = 0;
  for (const dispatch of await store.awaitingRuns(now, BATCH)) {
    await store.transaction((tx) => recordRunUnconfirmed(tx, dispatch, context));
    runUnconfirmed += 1;
  }
  return { timedOut, neverReported, runUnconfirmed };
}
