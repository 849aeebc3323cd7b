// Validates the allowlist as changed by a config-repo pull request and posts `allowlist / validate`.
import type { Logger } from "pino";
import { ANNOTATIONS_PER_REQUEST } from "../github/text-limits.js";
import type { GitHubClient } from "../github/client.js";
import { readRepoFile } from "../github/contents.js";
import { MAX_ALLOWLIST_BYTES, parseAllowlist, type ParseOptions } from "./parse.js";
import {
  ALLOWLIST_CHECK_NAME,
  diffAgainstBase,
  invalidResult,
  removedResult,
  unchangedResult,
  validResult,
  type AllowlistCheckResult,
} from "./pr-check-output.js";
import type { AllowlistDiff } from "./diff.js";
import { approvalFindings, approvingApprovers, combineFindings, newAtL4, type PullRequestReview } from "./approvals.js";
import type { ChangeFindings } from "./pr-check-output.js";
import type { Allowlist } from "./types.js";

/** Reviews a valid change beyond its syntax (the promoted backends' health); undefined: nothing to add. */
export type ChangeReviewer = (after: Allowlist, diff: AllowlistDiff, path: string) => Promise<ChangeFindings | undefined>;

export interface AllowlistPullRequest {
  owner: string;
  repo: string;
  number: number;
  headSha: string;
  baseSha: string;
}

/** What the check looks at beyond the file: the promoted backends' health, and who must approve L4. */
export interface CheckOptions {
  review?: ChangeReviewer;
  /** GitHub logins, one of whom must approve a pull request that brings a backend to L4 (RELAY_L4_APPROVERS). */
  l4Approvers?: readonly string[];
  /** How the pull request's version is read (the pytorch profile: as torchci also reads it). */
  parse?: ParseOptions;
}

export async function checkAllowlistPullRequest(
  octokit: GitHubClient,
  pr: AllowlistPullRequest,
  path: string,
  log: Logger,
  options: CheckOptions = {},
): Promise<AllowlistCheckResult> {
  const result = await evaluate(octokit, pr, path, options, log);
  await postCheckRun(octokit, pr, result);
  log.info({ pr: pr.number, conclusion: result.conclusion, title: result.title }, "allowlist check posted");
  return result;
}

async function evaluate(
  octokit: GitHubClient,
  pr: AllowlistPullRequest,
  path: string,
  { review, l4Approvers = [], parse }: CheckOptions,
  log: Logger,
): Promise<AllowlistCheckResult> {
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, {
    owner: pr.owner,
    repo: pr.repo,
    pull_number: pr.number,
    per_page: 100,
  });
  const touched = files.find((file) => file.filename === path || file.previous_filename === path);
  if (!touched) return unchangedResult(path);
  if (touched.status === "removed" || touched.filename !== path) return removedResult(path);

  // Both versions are read from the base repository: GitHub keeps fork PR heads there too.
  const head = await readAt(octokit, pr, path, pr.headSha);
  if (head === undefined) return removedResult(path);
  const parsed = parseAllowlist(head, parse);
  if (!parsed.ok) return invalidResult(path, parsed.issues);

  const { diff, baseNote } = diffAgainstBase(path, await readAt(octokit, pr, path, pr.baseSha), parsed.allowlist);
  const toL4 = newAtL4(diff);
  const approval =
    toL4.length > 0 && l4Approvers.length > 0
      ? approvalFindings(path, toL4, l4Approvers, approvingApprovers(await reviewsOf(octokit, pr), l4Approvers))
      : undefined;
  return validResult(path, parsed.allowlist, diff, baseNote, combineFindings(await reviewed(review, parsed.allowlist, diff, path, log), approval));
}

async function reviewsOf(octokit: GitHubClient, pr: AllowlistPullRequest): Promise<PullRequestReview[]> {
  return octokit.paginate(octokit.rest.pulls.listReviews, { owner: pr.owner, repo: pr.repo, pull_number: pr.number, per_page: 100 });
}

/** The review's findings; a review that fails (the HUD's database down) leaves the check to the syntax, with a note. */
async function reviewed(
  review: ChangeReviewer | undefined,
  after: Allowlist,
  diff: AllowlistDiff,
  path: string,
  log: Logger,
): Promise<ChangeFindings | undefined> {
  if (!review) return undefined;
  try {
    return await review(after, diff, path);
  } catch (error) {
    log.warn({ err: String(error) }, "could not review the promoted backends' health");
    return { summary: "\n> The promoted backends' health could not be measured right now (the HUD's database did not answer); push again to retry.\n", annotations: [] };
  }
}

async function readAt(octokit: GitHubClient, pr: AllowlistPullRequest, path: string, ref: string): Promise<string | undefined> {
  const read = await readRepoFile(octokit, { owner: pr.owner, repo: pr.repo, path, ref, maxBytes: MAX_ALLOWLIST_BYTES });
  return read.kind === "content" ? read.text : undefined;
}

/** Creates the completed check run; annotations beyond GitHub's 50 per request follow in updates. */
async function postCheckRun(octokit: GitHubClient, pr: AllowlistPullRequest, result: AllowlistCheckResult): Promise<void> {
  const batches: (typeof result.annotations)[] = [];
  for (let i = 0; i < result.annotations.length; i += ANNOTATIONS_PER_REQUEST) {
    batches.push(result.annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  }
  const output = { title: result.title, summary: result.summary };
  const { data } = await octokit.rest.checks.create({
    owner: pr.owner,
    repo: pr.repo,
    name: ALLOWLIST_CHECK_NAME,
    head_sha: pr.headSha,
    status: "completed",
    conclusion: result.conclusion,
    output: { ...output, annotations: batches[0] ?? [] },
  });
  for (const batch of batches.slice(1)) {
    await octokit.rest.checks.update({
      owner: pr.owner,
      repo: pr.repo,
      check_run_id: data.id,
      output: { ...output, annotations: batch },
    });
  }
}
