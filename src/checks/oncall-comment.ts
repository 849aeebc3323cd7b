// The oncall comment on a pull request (pure rendering): when a backend whose results gate or are asked
// for on the PR (L4, or L3 shown through its label) has failed jobs on the PR's head, one comment per
// (head, backend) @-mentions the allowlist's oncalls with the failing jobs and what trunk says of them.
// Like a check run it is a desired state: created once, then edited in place as results change (a
// re-run that fixes the jobs edits it to say so, without mentioning anyone again).
import type { AllowlistEntry } from "../allowlist/types.js";
import { jobIdentity, type JobCounts, type JobSummary } from "../domain/jobs.js";
import type { GitHubRequest } from "../domain/github-request.js";
import { isFailing } from "../domain/runs.js";
import type { TrunkComparison } from "../domain/trunk-baseline.js";
import { capText } from "../github/text-limits.js";

/** Failing jobs listed in the comment; the count covers them all. */
const LISTED_FAILURES = 20;
const NOTIFIED_LEVELS = new Set(["L3", "L4"]);

export interface OncallCommentInput {
  upstreamRepo: string;
  prNumber: number;
  headSha: string;
  entry: Pick<AllowlistEntry, "repo" | "name" | "level" | "oncalls">;
  counts: JobCounts;
  /** The aggregate's listed attempts (failed ones first). */
  listed: readonly JobSummary[];
  trunk?: ReadonlyMap<string, TrunkComparison>;
  /** The backend's check runs are shown on the PR (an L3 backend only with its label). */
  shown: boolean;
  /** A comment was written for this (head, backend) before. */
  written: boolean;
  webBaseUrl: string;
  publicUrl: string;
}

/**
 * The message to the backend's oncall webhook (Slack-compatible: `{ text }`, mrkdwn links) when it first
 * fails on a head; undefined otherwise. It names no job, so it does not change as more jobs fail: one
 * message per (head, backend), sent once. The URL is resolved when the message is sent.
 */
export function desiredOncallWebhook(input: Pick<OncallCommentInput, "upstreamRepo" | "prNumber" | "headSha" | "entry" | "counts" | "shown" | "webBaseUrl" | "publicUrl">): GitHubRequest | undefined {
  const { entry } = input;
  if (!notifiesOncalls(entry.level, input.shown) || !Object.keys(input.counts.conclusions).some(isFailing)) return undefined;
  const prUrl = `${input.webBaseUrl}/${input.upstreamRepo}/pull/${input.prNumber}`;
  const hudUrl = `${input.publicUrl}/hud/pr/${input.prNumber}?sha=${input.headSha}`;
  const oncalls = entry.oncalls.length > 0 ? ` Oncall: ${entry.oncalls.join(", ")}.` : "";
  return {
    route: "POST oncall webhook",
    params: {
      text: `${mrkdwn(entry.name)} (${entry.level}) has failed jobs on <${prUrl}|${mrkdwn(input.upstreamRepo)}#${input.prNumber}> (commit ${input.headSha.slice(0, 7)}).${oncalls} <${hudUrl}|Results>`,
    },
  };
}

/** Slack's mrkdwn gives `<`, `>` and `&` meaning (links, mentions): escaped as its docs say. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Outbox key of the comment: one per (upstream repo, PR, head sha, downstream repo). */
export function oncallCommentKey(upstreamRepo: string, prNumber: number, headSha: string, downstreamRepo: string, kind: "comment" | "notify" = "comment"): string {
  return `${kind}:${upstreamRepo.toLowerCase()}:${prNumber}:${headSha}:${downstreamRepo.toLowerCase()}`;
}

/** Whether a backend at this level, shown or not, gets oncall comments at all (the state core skips the read otherwise). */
export function notifiesOncalls(level: string, shown: boolean): boolean {
  return shown && NOTIFIED_LEVELS.has(level);
}

/**
 * The comment's desired state: a POST creating it (the outbox turns later sends into a PATCH of the same
 * comment), or undefined when there is nothing to say (no failure, and none said before).
 */
export function desiredOncallComment(input: OncallCommentInput): GitHubRequest | undefined {
  const { entry, counts } = input;
  if (!notifiesOncalls(entry.level, input.shown)) return undefined;
  const failing = Object.entries(counts.conclusions).reduce((sum, [conclusion, count]) => sum + (isFailing(conclusion) ? count : 0), 0);
  if (failing === 0 && !input.written) return undefined;
  const [owner, repo] = input.upstreamRepo.split("/");
  const body = failing === 0 ? recoveredBody(input) : failingBody(input, failing);
  return {
    route: "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    params: { owner, repo, issue_number: input.prNumber, body: capText(`${marker(input)}\n${body}`) },
  };
}

/** Lets a reader (or a later tool) find the relay's comment for a backend on a commit. */
function marker(input: OncallCommentInput): string {
  return `<!-- relay-oncall:${input.entry.repo.toLowerCase()}:${input.headSha} -->`;
}

function failingBody(input: OncallCommentInput, failing: number): string {
  const { entry, counts, trunk } = input;
  const failed = input.listed.filter((job) => job.status === "completed" && isFailing(job.conclusion ?? "failure"));
  const shownJobs = failed.slice(0, LISTED_FAILURES);
  const onTrunk = failed.filter((job) => trunk?.get(jobIdentity(job))?.kind === "also_on_trunk").length;
  const rows = shownJobs.map((job) => {
    const runUrl = `${input.webBaseUrl}/${job.downstreamRepo}/actions/runs/${job.runId}`;
    return `| [${codeCell(`${job.workflowName} / ${job.jobName}`)}](${runUrl}) | ${job.conclusion ?? "failure"} | ${job.runAttempt} | ${trunkCell(trunk?.get(jobIdentity(job)))} |`;
  });
  const more = failing > shownJobs.length ? `\n\n… and ${failing - shownJobs.length} more failed job${failing - shownJobs.length === 1 ? "" : "s"}.` : "";
  const trunkLine =
    onTrunk === 0
      ? ""
      : onTrunk === failing
        ? "\n\nEvery failed job also fails on trunk (the backend's latest results on the default branch): likely not this change."
        : `\n\n${onTrunk} of the ${failing} failed jobs also fail on trunk.`;
  const cc = entry.oncalls.length > 0 ? ` cc ${entry.oncalls.map((handle) => `@${handle}`).join(" ")}` : "";
  return `**\`${entry.name}\` (${entry.level}) has ${failing} failed job${failing === 1 ? "" : "s"} on ${commitLink(input)}**${cc}

| job | result | attempt | trunk |
|---|---|---|---|
${rows.join("\n")}${more}${trunkLine}

${failing} of ${counts.jobs} reported jobs of \`${entry.repo}\` failed. ${links(input)}`;
}

function recoveredBody(input: OncallCommentInput): string {
  return `**\`${input.entry.name}\` (${input.entry.level}) has no failed job on ${commitLink(input)} any more** (a re-run passed). ${links(input)}`;
}

function trunkCell(comparison: TrunkComparison | undefined): string {
  switch (comparison?.kind) {
    case "also_on_trunk":
      return "also failing on trunk";
    case "partly":
      return `failing on trunk, ${comparison.newTests.length} new failed test${comparison.newTests.length === 1 ? "" : "s"}`;
    case "new":
      return "passes on trunk";
    default:
      return "—";
  }
}

function commitLink(input: OncallCommentInput): string {
  return `[\`${input.headSha.slice(0, 7)}\`](${input.webBaseUrl}/${input.upstreamRepo}/commit/${input.headSha})`;
}

function links(input: OncallCommentInput): string {
  return `[HUD](${input.publicUrl}/hud/pr/${input.prNumber}?sha=${input.headSha}) · this comment is kept up to date by the relay.`;
}

/**
 * Job names come from the downstream: shown as code (no @-mention or link in them works), kept on one
 * line and inside their table cell (GitHub's tables split on `|` even in code).
 */
function codeCell(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ")}\``;
}
