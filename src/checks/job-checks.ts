// Check runs for reported jobs (pure): one per reported job, updated in place, and the backend's
// aggregate rolled up from its jobs. The outputs stay within GitHub's check-run limits, and the number
// of job check runs per backend and head is capped: every check run on the upstream is written with
// the upstream installation's one write budget, which a backend reporting hundreds of jobs would spend
// for everyone. Jobs past the cap count in the aggregate and show on the HUD.
import type { AllowlistEntry } from "../allowlist/types.js";
import { jobIdentity, type JobCounts, type JobSummary, type LatestAttempt, type StoredJob } from "../domain/jobs.js";
import { trunkNote, type TrunkComparison } from "../domain/trunk-baseline.js";
import type { GitHubRequest } from "../domain/github-request.js";
import { aggregateCheckName, checkExternalId, jobCheckName, worstConclusion } from "./aggregate.js";
import { capText } from "../github/text-limits.js";

const SHOWN_FAILED_TESTS = 50;
/** Jobs listed in the aggregate's table; the counts in its title always cover every job. */
export const LISTED_JOBS = 50;
/** Conclusions that mean "did not pass" and may be softened for non-blocking backends. */
const FAILING = new Set(["failure", "timed_out"]);

export interface CheckContext {
  upstreamRepo: string;
  headSha: string;
  /** The PR the head belongs to (crcr external ids carry it). */
  prNumber: number | null;
  checkPrefix: string;
  /** Check runs named as the production relay names them (RELAY_PROFILE=pytorch; src/checks/aggregate.ts). */
  crcrNames?: boolean;
  entry: Pick<AllowlistEntry, "repo" | "name" | "level" | "policy">;
  /**
   * Conclusion shown instead of failure/timed_out for backends that do not block PRs (e.g. "neutral"),
   * for deployments whose tooling treats every red check as blocking. Undefined passes conclusions through.
   */
  nonBlockingFailureConclusion?: string;
  /** The backend's HUD page, linked from every check run. */
  hudUrl: string;
  /** Most jobs per (backend, head) shown as check runs of their own; 0 shows the aggregate only. */
  maxJobChecks: number;
  /** Web URL of an upstream commit (trunk notes link the trunk commit). */
  commitUrl: (sha: string) => string;
  /**
   * RELAY_TRUNK_FAILURE_CONCLUSION=neutral: a PR-blocking backend's aggregate whose every failed job also
   * fails on trunk concludes neutral, so trunk's breakage does not block the PR. Undefined: it stays failed.
   */
  trunkFailureConclusion?: "neutral";
}

/** What a job's check run shows of its last report: the fields of a callback body (src/callback/schema.ts) it renders. */
export interface JobReport {
  workflow: { name: string; url: string };
  job: { name: string; url?: string };
  summary?: string;
  failure_kind?: string;
  tests?: { total: number; passed: number; failed: number; skipped: number; errors?: number };
  failed_tests?: readonly string[];
  artifact_url?: string;
}

export interface CheckSettings {
  checkPrefix: string;
  crcrNames?: boolean;
  /** RELAY_MAX_JOB_CHECKS */
  maxJobChecksPerBackend: number;
  nonBlockingFailureConclusion?: string;
  /** Public base URL of the relay (RELAY_PUBLIC_URL), for HUD links. */
  publicUrl: string;
  /** Web base URL of the GitHub host, for links to repos and commits. */
  webBaseUrl: string;
  trunkFailureConclusion?: "neutral";
}

export function checkContext(entry: CheckContext["entry"], head: { upstreamRepo: string; headSha: string; prNumber: number | null }, settings: CheckSettings): CheckContext {
  const { upstreamRepo, headSha, prNumber } = head;
  return {
    upstreamRepo,
    headSha,
    prNumber,
    checkPrefix: settings.checkPrefix,
    ...(settings.crcrNames && { crcrNames: true }),
    entry,
    hudUrl: `${settings.publicUrl}/hud/${entry.repo.toLowerCase()}`,
    maxJobChecks: settings.maxJobChecksPerBackend,
    commitUrl: (sha) => `${settings.webBaseUrl}/${upstreamRepo}/commit/${sha}`,
    ...(settings.nonBlockingFailureConclusion && { nonBlockingFailureConclusion: settings.nonBlockingFailureConclusion }),
    ...(settings.trunkFailureConclusion && { trunkFailureConclusion: settings.trunkFailureConclusion }),
  };
}


/** One check run per (backend, sha, workflow, job), keyed under its aggregate: a re-run's new attempt updates the same run. */
export function jobCheckKey(aggregateKey: string, workflowName: string, jobName: string): string {
  return `${aggregateKey}:${workflowName}/${jobName}`;
}


/** Whether a job has a check run of its own: the first `maxJobChecks` jobs to report on the head do (and keep it). */
export function hasOwnCheckRun(context: CheckContext, job: Pick<LatestAttempt, "seq">): boolean {
  return job.seq < context.maxJobChecks;
}

/** `trunk`: the job's failure compared with the backend's trunk baseline (src/domain/trunk-baseline.ts). */
export function jobCheckRequest(context: CheckContext, job: StoredJob, body: JobReport, trunk?: TrunkComparison): GitHubRequest {
  const [owner, repo] = context.upstreamRepo.split("/");
  const completed = job.status === "completed";
  const onTrunk = trunk?.kind === "also_on_trunk" ? " (also failing on trunk)" : "";
  return {
    route: "POST /repos/{owner}/{repo}/check-runs",
    params: {
      owner,
      repo,
      name: jobCheckName(context, context.entry, body.workflow.name, body.job.name),
      head_sha: context.headSha,
      status: job.status,
      ...(completed && job.conclusion && { conclusion: shownConclusion(context, job.conclusion) }),
      ...(job.startedAt !== undefined && { started_at: new Date(job.startedAt).toISOString() }),
      ...(completed && job.completedAt !== undefined && { completed_at: new Date(job.completedAt).toISOString() }),
      details_url: body.job.url ?? body.workflow.url,
      external_id: checkExternalId(context, { downstreamRepo: job.downstreamRepo, runId: job.runId, prNumber: context.prNumber, deliveryId: job.deliveryId }),
      output: { title: `${jobTitle(job, body)}${onTrunk}`, summary: capText(jobSummary(context, job, body, trunk)) },
    },
  };
}

/**
 * Whether the dispatch's runs are over: `over` (GitHub or the run-level report said so), `open` (not
 * known to be over), `unconfirmed` (the wait for word of it ran out).
 */
export type RunEnd = "over" | "open" | "unconfirmed";

/** What the aggregate shows of a backend's jobs on a head: counts of all latest attempts, a bounded list. */
export interface JobRollup {
  counts: JobCounts;
  runEnd: RunEnd;
  /** Jobs the runs have, when known (GitHub's jobs, the run-level report's count). */
  expectedJobs?: number;
  /** A sentence on the run's state for the summary, if it matters. */
  runNote?: string;
  /** At most LISTED_JOBS latest attempts, in the order the jobs first reported (jobs that did not pass first, past LISTED_JOBS). */
  listed: readonly JobSummary[];
  /** The latest attempt reported last: the aggregate links its run. */
  newest?: JobSummary;
  /** The failed listed jobs compared with trunk, by jobIdentity. */
  trunk?: ReadonlyMap<string, TrunkComparison>;
}

/**
 * The backend's aggregate: in progress while any reported job runs or the run is not known to be over,
 * completed with the worst conclusion once neither holds. It never shows success while a job is
 * running or has failed, nor before the run ended: a matrix job that finishes first does not end it.
 * When the wait for the run's end ran out, a check that blocks PRs concludes timed_out unless a job failed.
 */
export function aggregateRequest(context: CheckContext, rollup: JobRollup, detailsUrl: string): GitHubRequest {
  const [owner, repo] = context.upstreamRepo.split("/");
  const { counts, listed, newest, runEnd, expectedJobs } = rollup;
  const concluded = Object.keys(counts.conclusions);
  const worst = counts.running === 0 && concluded.length > 0 && runEnd !== "open" ? worstConclusion(concluded) : undefined;
  const reached = worst !== undefined && runEnd === "unconfirmed" && context.entry.policy.block_pr && !FAILING.has(worst) && worst !== "cancelled" ? "timed_out" : worst;
  const trunkBroken = reached !== undefined && isTrunkBreakage(context, rollup);
  const conclusion = trunkBroken ? "neutral" : reached;
  const done = counts.jobs - counts.running;
  const progress = expectedJobs === undefined ? `${done} of ${counts.jobs} reported jobs done (total not known yet)` : `${done} of ${expectedJobs} jobs done`;
  const runLine = rollup.runNote ? `\n\n${rollup.runNote}` : "";
  const onTrunk = (job: JobSummary) => (rollup.trunk?.get(jobIdentity(job))?.kind === "also_on_trunk" ? " · also failing on trunk" : "");
  const lines = listed.map(
    (job) => `| ${job.workflowName} / ${job.jobName} | ${job.status === "completed" ? `${job.conclusion ?? ""}${onTrunk(job)}` : "running"} | ${job.runAttempt} |`,
  );
  const trunkLine = trunkBroken
    ? `\n\n**Every failed job also fails on trunk** (the backend's latest results on the default branch), so this check does not block the pull request (RELAY_TRUNK_FAILURE_CONCLUSION=neutral). The failures are trunk's, not this change's.`
    : "";
  const unlisted = counts.jobs - listed.length;
  const unlistedLine = unlisted > 0 ? `\n\n… and ${unlisted} more job${unlisted === 1 ? "" : "s"} (passed ones are left out first); see the [HUD](${context.hudUrl}).` : "";
  const notShown = Math.max(0, counts.jobs - context.maxJobChecks);
  const notShownLine = notShown > 0 ? `\n\n${notShown} more job${notShown === 1 ? "" : "s"} not shown as check runs; see the HUD: ${context.hudUrl}` : "";
  return {
    route: "POST /repos/{owner}/{repo}/check-runs",
    params: {
      owner,
      repo,
      name: aggregateCheckName(context, context.entry),
      head_sha: context.headSha,
      status: conclusion === undefined ? "in_progress" : "completed",
      ...(conclusion !== undefined && { conclusion: shownConclusion(context, conclusion) }),
      details_url: detailsUrl,
      ...(newest && { external_id: checkExternalId(context, { ...newest, prNumber: context.prNumber }) }),
      output: {
        title:
          conclusion === undefined
            ? progress
            : `${counts.conclusions.success ?? 0} of ${counts.jobs} jobs passed${trunkBroken ? "; the failures are trunk's too" : ""}`,
        summary: capText(
          `Results of \`${context.entry.repo}\` (${context.entry.level}) for this commit; the latest attempt of each job counts. [HUD](${context.hudUrl})${trunkLine}${runLine}${notShownLine}\n\n| job | result | attempt |\n|---|---|---|\n${lines.join("\n")}${unlistedLine}`,
        ),
      },
    },
  };
}

/** Passed, skipped or neutral: a job that does not need explaining. */
const PASSING = new Set(["success", "neutral", "skipped"]);

/**
 * Whether the trunk policy turns a failed aggregate neutral: it is on, the backend blocks PRs, and every
 * job that did not pass is listed and fails on trunk the same way (a job or test failing on the PR only,
 * a cancelled job, a job past the listed ones, or a timeout of the run's end keeps it failed).
 */
function isTrunkBreakage(context: CheckContext, rollup: JobRollup): boolean {
  const { counts, listed, trunk } = rollup;
  if (context.trunkFailureConclusion !== "neutral" || !context.entry.policy.block_pr || !trunk || rollup.runEnd !== "over") return false;
  const notPassing = Object.entries(counts.conclusions).reduce((sum, [conclusion, count]) => sum + (PASSING.has(conclusion) ? 0 : count), 0);
  if (notPassing === 0) return false;
  const explained = listed.filter((job) => job.status === "completed" && trunk.get(jobIdentity(job))?.kind === "also_on_trunk").length;
  return explained === notPassing;
}

export function shownConclusion(context: CheckContext, conclusion: string): string {
  if (context.nonBlockingFailureConclusion && !context.entry.policy.block_pr && FAILING.has(conclusion)) {
    return context.nonBlockingFailureConclusion;
  }
  return conclusion;
}

function jobTitle(job: StoredJob, body: JobReport): string {
  const tests = body.tests;
  const counts = tests ? ` — ${tests.passed} passed, ${tests.failed} failed, ${tests.skipped} skipped` : "";
  return job.status === "completed" ? `${job.conclusion ?? "completed"}${counts}` : `running${counts}`;
}

function jobSummary(context: CheckContext, job: StoredJob, body: JobReport, trunk: TrunkComparison | undefined): string {
  const parts = [`\`${context.entry.repo}\` (${context.entry.level}) · workflow **${body.workflow.name}**, attempt ${job.runAttempt}`];
  const note = trunk && trunkNote(trunk, context.commitUrl);
  if (note) parts.push(`**Trunk:** ${note}`);
  if (body.tests) {
    const { total, passed, failed, skipped, errors } = body.tests;
    parts.push(`**Tests:** ${total} total, ${passed} passed, ${failed} failed, ${skipped} skipped${errors ? `, ${errors} errors` : ""}`);
  }
  if (body.failure_kind) parts.push(`**Failure kind:** ${body.failure_kind}`);
  if (body.failed_tests?.length) {
    const shown = body.failed_tests.slice(0, SHOWN_FAILED_TESTS).map((name) => `- \`${name.replace(/`/g, "'")}\``);
    const more = body.failed_tests.length > SHOWN_FAILED_TESTS ? `\n- … and ${body.failed_tests.length - SHOWN_FAILED_TESTS} more` : "";
    parts.push(`**Failed tests:**\n${shown.join("\n")}${more}`);
  }
  const links = [
    `[workflow run](${body.workflow.url})`,
    ...(body.artifact_url ? [`[artifacts](${body.artifact_url})`] : []),
    `[HUD](${context.hudUrl})`,
  ];
  parts.push(links.join(" · "));
  if (body.summary) parts.push(body.summary);
  return parts.join("\n\n");
}
