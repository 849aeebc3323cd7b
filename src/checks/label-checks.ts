// L3 label timing: a backend shown only with its PR label gets its check runs when the label is added
// (whenever that is: before, during or after its jobs ran — built from the stored job states), and
// they conclude neutral and stop following reports when the label is removed.
import type { AllowlistEntry } from "../allowlist/types.js";
import type { CallbackSettings } from "../callback/process.js";
import type { CallbackBody } from "../callback/schema.js";
import type { OutboxTaskInput, Store } from "../store/store.js";
import { aggregateCheckKey, queuedAggregateRequest } from "./aggregate.js";
import { concludedRequest, openCheckRuns } from "./conclude.js";
import { aggregateRequest, checkContext, jobCheckKey, jobCheckRequest, jobsWithCheckRuns, latestAttempts } from "./job-checks.js";

type Settings = Omit<CallbackSettings, "ticketKeys">;

/** Creates or refreshes the backend's check runs on `headSha` from what is stored. Returns how many. */
export function showBackendChecks(store: Store, entry: AllowlistEntry, upstreamRepo: string, headSha: string, settings: Settings, now: number): number {
  // Shown again whatever else holds: a label re-added while the PR is closed applies when it reopens.
  store.setChecksHidden(upstreamRepo, entry.name, headSha, false, now);
  const dispatch = store.dispatchFor(upstreamRepo, headSha, entry.repo);
  if (!dispatch || store.shaClosed(upstreamRepo, headSha)) return 0;
  const context = checkContext(entry, upstreamRepo, headSha, settings);
  const detailsUrl = `${settings.webBaseUrl}/${entry.repo}/actions`;
  const jobs = latestAttempts(store.backendJobSummaries(upstreamRepo, entry.name, headSha).filter((job) => job.prNumber !== null));
  const task = (key: string, request: OutboxTaskInput["request"]): OutboxTaskInput => ({ key, kind: "check_run", repo: upstreamRepo, request });
  const aggregate = task(
    aggregateCheckKey(upstreamRepo, entry.name, headSha),
    jobs.length === 0
      ? queuedAggregateRequest({ upstreamRepo, headSha, entry, checkPrefix: settings.checkPrefix, deliveryId: dispatch.deliveryId, detailsUrl })
      : aggregateRequest(context, jobs, detailsUrl),
  );
  // Only the jobs with a check run of their own (at most the cap) are read whole, for their reports.
  const jobRuns = jobsWithCheckRuns(context, jobs).flatMap((summary) => {
    const job = store.getJob(summary);
    if (!job) return [];
    const body = job.report as unknown as CallbackBody;
    return task(jobCheckKey(context, body.workflow.name, body.job.name), jobCheckRequest(context, job, body));
  });
  store.syncCheckRuns([...jobRuns, aggregate], now);
  return jobRuns.length + 1;
}

/** Concludes the backend's open check runs on `headSha` neutral and stops them following reports. */
export function hideBackendChecks(store: Store, entry: AllowlistEntry, upstreamRepo: string, headSha: string, labelName: string, now: number): number {
  store.setChecksHidden(upstreamRepo, entry.name, headSha, true, now);
  const aggregateKey = aggregateCheckKey(upstreamRepo, entry.name, headSha);
  const mine = store.checkRunTasks(upstreamRepo, headSha).filter((task) => task.key === aggregateKey || task.key.startsWith(`${aggregateKey}:`));
  const open = openCheckRuns(mine);
  store.syncCheckRuns(
    open.map((task) => ({
      ...task,
      request: concludedRequest(task.request, "neutral", "Label removed", `The \`${labelName}\` label was removed, so this backend's results are no longer shown on this pull request. Add the label again to show them.`),
    })),
    now,
  );
  return open.length;
}
