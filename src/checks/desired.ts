// The check runs a backend should have on a PR head, as a pure function of the facts (level-triggered):
// the head's state and labels, the backend's current allowlist entry, its latest dispatch and the latest
// attempts of its jobs. Every fact change recomputes them; the state core (src/state/) compares the
// result with what was last written and queues only a difference. Hiding, showing again, superseding,
// reviving, policy changes, failed dispatches and "never reported" are all inputs here, so none of them
// is a special case elsewhere.
import { labelFor, showsCheckRun, UNLISTED_POLICY } from "../allowlist/policy.js";
import type { AllowlistEntry } from "../allowlist/types.js";
import type { BackendHeadFacts, HeadFacts } from "../domain/heads.js";
import type { JobSummary, LatestAttempt, StoredJob } from "../domain/jobs.js";
import type { GitHubRequest } from "../domain/github-request.js";
import { runConclusion, runRollup, type RunRollup } from "../domain/runs.js";
import type { TrunkComparison } from "../domain/trunk-baseline.js";
import { queuedAggregateRequest } from "./aggregate.js";
import {
  aggregateRequest,
  checkContext,
  hasOwnCheckRun,
  jobCheckRequest,
  shownConclusion,
  type CheckContext,
  type CheckSettings,
  type JobReport,
  type RunEnd,
} from "./job-checks.js";

export interface DesiredCheckSettings extends CheckSettings {
  /** Prefix of label-only backends' PR labels (RELAY_LABEL_PREFIX). */
  labelPrefix: string;
  /** RELAY_START_TIMEOUT_MINUTES, quoted when a backend never reported. */
  startTimeoutMs: number;
  /** RELAY_RUN_END_WAIT_MINUTES, quoted when the run's end was never confirmed. */
  runEndWaitMs: number;
}

/** Everything the check runs of one backend on one head depend on. */
export interface BackendHeadView {
  head: HeadFacts;
  backend: BackendHeadFacts;
  /** The backend's entry in the allowlist in force (by its downstream repo), if it still has one. */
  entry: AllowlistEntry | undefined;
  /** The latest attempts the aggregate lists (at most LISTED_JOBS). */
  listed: readonly JobSummary[];
  /** The listed jobs that failed, compared with the backend's trunk baseline (by jobIdentity). */
  trunk?: ReadonlyMap<string, TrunkComparison>;
}

type Visibility = { shown: true } | { shown: false; title: string; summary: string };

/** Whether the backend's checks are shown on the head, and if not, what the concluded ones say. */
export function visibility(view: Pick<BackendHeadView, "head" | "backend" | "entry">, labelPrefix: string, written: boolean): Visibility {
  const { entry, backend, head } = view;
  if (!entry || entry.name !== backend.backendName || !entry.policy.forward_event || entry.policy.display_on_pr === "never") {
    return { shown: false, title: "No longer shown", summary: `The allowlist no longer shows \`${backend.downstreamRepo}\`'s results on pull requests.` };
  }
  // Labels not known (stored before heads were): a label-only backend keeps showing what it showed.
  if (head.labels === undefined ? entry.policy.display_on_pr === "always" || written : showsCheckRun(entry, head.labels, labelPrefix)) {
    return { shown: true };
  }
  const label = labelFor(entry, labelPrefix);
  return {
    shown: false,
    title: "Label removed",
    summary: `This backend's results are shown on a pull request only while it has the \`${label}\` label. Add the label to show them again.`,
  };
}

/**
 * The aggregate check run's desired state, or undefined when it should not exist (never shown and not
 * written yet). `written`: a check run of this key exists (or is queued) on GitHub.
 */
export function desiredAggregate(view: BackendHeadView, settings: DesiredCheckSettings, written: boolean): GitHubRequest | undefined {
  const shown = visibility(view, settings.labelPrefix, written);
  const natural = naturalAggregate(view, settings);
  return finalState(view.head, shown, natural, written);
}

/**
 * A job's own check run's desired state (see desiredAggregate); undefined for a job past the cap. Its
 * visibility is its aggregate's: `aggregateWritten` says whether the aggregate was written. `trunk`: the
 * job's failure compared with the trunk baseline.
 */
export function desiredJobCheck(
  view: Omit<BackendHeadView, "listed" | "trunk">,
  job: StoredJob & Pick<LatestAttempt, "seq">,
  settings: DesiredCheckSettings,
  written: boolean,
  aggregateWritten = written,
  trunk?: TrunkComparison,
): GitHubRequest | undefined {
  const context = contextOf(view, settings);
  if (!hasOwnCheckRun(context, job)) return undefined;
  const natural = jobCheckRequest(context, job, job.report as unknown as JobReport, trunk);
  return finalState(view.head, visibility(view, settings.labelPrefix, aggregateWritten), natural, written);
}

/**
 * A job check run of a backend head's earlier dispatch, when the head is dispatched again: what it
 * finally shows. A completed result stays; one still running concludes `cancelled`, since the earlier
 * run no longer counts (the new run's jobs report under the same names and update it again).
 */
export function retiredJobCheck(
  view: Omit<BackendHeadView, "listed" | "trunk">,
  job: StoredJob & Pick<LatestAttempt, "seq">,
  settings: DesiredCheckSettings,
  written: boolean,
  aggregateWritten: boolean,
): GitHubRequest | undefined {
  const desired = desiredJobCheck(view, job, settings, written, aggregateWritten);
  if (!desired || desired.params.status === "completed") return desired;
  return concluded(desired, "cancelled", "Dispatched again", `The relay dispatched this commit to \`${view.backend.downstreamRepo}\` again; this job's result comes from the new run.`);
}

/**
 * Hidden: concluded neutral (if it was ever written). On a head that is no longer the open head of its
 * PR, a check run still running concludes `cancelled`; a completed result stays what it is, since it
 * is true for that commit.
 */
function finalState(head: HeadFacts, shown: Visibility, natural: GitHubRequest, written: boolean): GitHubRequest | undefined {
  if (!shown.shown) return written ? concluded(natural, "neutral", shown.title, shown.summary) : undefined;
  if (head.state === "open" || natural.params.status === "completed") return natural;
  return head.state === "superseded"
    ? concluded(
        natural,
        "cancelled",
        "Superseded",
        `A new commit${head.supersededBy ? ` (${head.supersededBy})` : ""} became the head of this pull request; its results are reported on that commit.`,
      )
    : concluded(natural, "cancelled", "Pull request closed", "The pull request was closed before this backend finished.");
}

function naturalAggregate(view: BackendHeadView, settings: DesiredCheckSettings): GitHubRequest {
  const { backend, head } = view;
  const context = contextOf(view, settings);
  const detailsUrl = `${settings.webBaseUrl}/${backend.downstreamRepo}/actions`;
  const runs = backend.runs ?? [];
  const rollup = runRollup(runs, backend.counts);
  const runEnd: RunEnd = rollup.over ? "over" : backend.unreported === "run_not_confirmed" ? "unconfirmed" : "open";
  if (backend.counts.jobs > 0) {
    const runNote = runNoteOf(backend.counts.running, runEnd, rollup, settings);
    return aggregateRequest(
      context,
      {
        counts: backend.counts,
        listed: view.listed,
        ...(view.trunk && { trunk: view.trunk }),
        runEnd,
        ...(rollup.expectedJobs !== undefined && { expectedJobs: rollup.expectedJobs }),
        ...(runNote && { runNote }),
        ...(backend.newest && { newest: backend.newest }),
      },
      detailsUrl,
    );
  }
  const queued = queuedAggregateRequest({
    upstreamRepo: head.upstreamRepo,
    headSha: head.headSha,
    prNumber: head.prNumber,
    entry: context.entry,
    naming: settings,
    deliveryId: backend.deliveryId,
    detailsUrl,
  });
  if (backend.dispatchOutcome === "failed" || backend.dispatchOutcome === "dead") {
    const why = backend.dispatchReason ? ` (${backend.dispatchReason})` : "";
    return concluded(
      queued,
      shownConclusion(context, "failure"),
      "Dispatch failed",
      `The relay could not send this commit to \`${backend.downstreamRepo}\`${why}. Re-run this check to dispatch it again.`,
    );
  }
  if (rollup.over) {
    // Over without a job to show: a failing run was recorded as a job (src/state/runs.ts), so this one passed or was skipped.
    const conclusion = runs.map(runConclusion).find((found) => found !== undefined && found !== "success") ?? "success";
    return concluded(
      queued,
      shownConclusion(context, conclusion === "skipped" ? "skipped" : conclusion === "success" ? "success" : "failure"),
      "Run ended without job reports",
      `\`${backend.downstreamRepo}\`'s run for this commit ended (\`${conclusion}\`) without any job reporting a result.`,
    );
  }
  if (rollup.tracked && backend.unreported !== "never_reported") {
    const waiting = rollup.waitingForRunner;
    return {
      route: queued.route,
      params: {
        ...queued.params,
        status: waiting ? "queued" : "in_progress",
        output: {
          title: waiting ? "Waiting for a runner" : `Run started; ${rollup.expectedJobs === undefined ? "no job reported yet" : `0 of ${rollup.expectedJobs} jobs done`}`,
          summary: waiting
            ? `\`${backend.downstreamRepo}\`'s run for this commit is queued on GitHub, waiting for a runner.`
            : `\`${backend.downstreamRepo}\`'s run for this commit has started on GitHub; no job has reported yet.`,
        },
      },
    };
  }
  if (backend.unreported === "never_reported") {
    const minutes = Math.round(settings.startTimeoutMs / 60_000);
    return concluded(
      queued,
      shownConclusion(context, "timed_out"),
      "Backend never reported",
      `\`${backend.downstreamRepo}\` received this commit but reported no job within ${minutes} min. This counts as an infrastructure failure of the backend.`,
    );
  }
  return queued;
}

function runNoteOf(running: number, runEnd: RunEnd, rollup: RunRollup, settings: DesiredCheckSettings): string | undefined {
  if (runEnd === "unconfirmed") {
    const minutes = Math.round(settings.runEndWaitMs / 60_000);
    return `Nothing said the run ended (no run-level report, no workflow_run event from GitHub) by the wait's end (${minutes} min after the last job reported without a known run); concluded from the reported jobs. A check that blocks PRs concludes timed_out in that case unless a job failed.`;
  }
  if (runEnd === "open" && running === 0) {
    return rollup.tracked
      ? "Every reported job is done, but the run has not ended on GitHub yet: more jobs may come (a matrix job that finishes first does not end the run)."
      : "Every reported job is done; waiting for word that the run ended (the run-level report or GitHub's workflow_run event), so a job that finishes first never turns this check green early.";
  }
  return undefined;
}

/** The rendering context: the current entry, or (no longer listed) what the dispatch recorded. */
function contextOf(view: Pick<BackendHeadView, "head" | "backend" | "entry">, settings: DesiredCheckSettings): CheckContext {
  const { entry, backend, head } = view;
  const shownEntry = entry && entry.name === backend.backendName
    ? entry
    : {
        repo: backend.downstreamRepo,
        name: backend.backendName,
        // A level as the dispatch recorded it (one of the allowlist's levels).
        level: entry?.level ?? (backend.level as AllowlistEntry["level"]),
        policy: entry?.policy ?? UNLISTED_POLICY,
      };
  return checkContext(shownEntry, head, settings);
}

/** The same check run, completed with `conclusion` and an explanation (no completed_at: GitHub sets it). */
function concluded(request: GitHubRequest, conclusion: string, title: string, summary: string): GitHubRequest {
  const { owner, repo, name, head_sha, external_id, details_url, started_at } = request.params;
  return {
    route: request.route,
    params: {
      owner,
      repo,
      name,
      head_sha,
      ...(external_id !== undefined && { external_id }),
      ...(details_url !== undefined && { details_url }),
      ...(started_at !== undefined && { started_at }),
      status: "completed",
      conclusion,
      output: { title, summary },
    },
  };
}
