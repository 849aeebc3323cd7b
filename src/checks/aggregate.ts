// The backend's aggregate check run on the upstream PR (pure rendering). One per (backend, head sha),
// named `<prefix> / <name>`; created queued at dispatch time, later moved along by callbacks.
import type { AllowlistEntry } from "../allowlist/types.js";
import type { GitHubRequest } from "../domain/github-request.js";

/**
 * How check runs are named. The relay's own names: `<RELAY_CHECK_PREFIX> / <backend>` for the aggregate,
 * `… / <workflow> / <job>` for a job. With `crcrNames` (RELAY_PROFILE=pytorch) the production relay's:
 * `crcr/<owner>/<repo>/<workflow>/<job>`, which PyTorch's merge bot, oncall bot and Dr.CI recognise by
 * the prefix and the downstream repo in segments 1–2 (torchci lib/bot/crcrOncallBot.ts
 * downstreamRepoFromCheckRunName: at least four segments after `crcr/`); the aggregate is
 * `crcr/<owner>/<repo>/<backend>/all jobs`, so those tools see it too (pending until the run is over).
 */
export interface CheckNaming {
  checkPrefix: string;
  crcrNames?: boolean;
}

/** The job name the aggregate has in the crcr naming. */
export const CRCR_AGGREGATE_JOB = "all jobs";

export function aggregateCheckName(naming: CheckNaming, entry: { name: string; repo: string }): string {
  return naming.crcrNames ? crcrName(entry.repo, entry.name, CRCR_AGGREGATE_JOB) : `${naming.checkPrefix} / ${entry.name}`;
}

export function jobCheckName(naming: CheckNaming, entry: { name: string; repo: string }, workflowName: string, jobName: string): string {
  return naming.crcrNames ? crcrName(entry.repo, workflowName, jobName) : `${aggregateCheckName(naming, entry)} / ${workflowName} / ${jobName}`;
}

function crcrName(repo: string, workflow: string, job: string): string {
  return `crcr/${repo}/${workflow}/${job}`;
}

/**
 * `external_id` of a check run about downstream run `runId` (0: none reported yet). Relay naming:
 * `run:<repo>:<run id>` (`dispatch:<delivery>:<repo>` before any run). crcr naming: the production relay's
 * `<run id>:<PR number>`, which torchci's oncall bot reads the PR number from when GitHub lists none (forks).
 */
export function checkExternalId(naming: CheckNaming, target: { downstreamRepo: string; runId: number; prNumber: number | null; deliveryId: string }): string {
  if (naming.crcrNames) return target.prNumber === null ? String(target.runId) : `${target.runId}:${target.prNumber}`;
  return target.runId === 0 ? `dispatch:${target.deliveryId}:${target.downstreamRepo.toLowerCase()}` : `run:${target.downstreamRepo.toLowerCase()}:${target.runId}`;
}

/** Outbox key of a backend's aggregate check run: one per (upstream repo, backend, head sha). */
export function aggregateCheckKey(upstreamRepo: string, backendName: string, headSha: string): string {
  return `check:${upstreamRepo.toLowerCase()}:${backendName.toLowerCase()}:${headSha}`;
}

/** The (lower-cased) backend a check-run task key belongs to: aggregate and job keys both start with the aggregate's. */
export function checkKeyBackend(key: string): string | undefined {
  const [kind, _repo, backend] = key.split(":");
  return kind === "check" ? backend : undefined;
}

export interface QueuedAggregateInput {
  upstreamRepo: string;
  headSha: string;
  prNumber: number;
  entry: Pick<AllowlistEntry, "repo" | "name" | "level" | "policy">;
  naming: CheckNaming;
  deliveryId: string;
  /** Web URL of the downstream repo's Actions page, built from the configured GitHub host. */
  detailsUrl: string;
}

export function queuedAggregateRequest(input: QueuedAggregateInput): GitHubRequest {
  const [owner, repo] = input.upstreamRepo.split("/");
  const { entry } = input;
  const blocking = entry.policy.block_pr
    ? "This check is expected on every PR and fails if the backend fails or never reports."
    : "This check is informational.";
  return {
    route: "POST /repos/{owner}/{repo}/check-runs",
    params: {
      owner,
      repo,
      name: aggregateCheckName(input.naming, entry),
      head_sha: input.headSha,
      status: "queued",
      // Lets a re-request find the dispatch (and, once reported, the downstream run) behind this check.
      external_id: checkExternalId(input.naming, { downstreamRepo: entry.repo, runId: 0, prNumber: input.prNumber, deliveryId: input.deliveryId }),
      details_url: input.detailsUrl,
      output: {
        title: `Dispatched to ${entry.repo}`,
        summary: `The relay sent this commit to \`${entry.repo}\` (${entry.level}) and is waiting for its CI to report. ${blocking}`,
      },
    },
  };
}

/**
 * Roll-up order for a backend's aggregate check run, worst first. Every "did not pass" conclusion outranks
 * neutral, which outranks success. `skipped` ranks lowest: like a GitHub workflow run whose skipped jobs
 * do not change its success, an aggregate is `skipped` only when every job was skipped.
 */
export const CONCLUSION_PRECEDENCE = [
  "failure",
  "timed_out",
  "cancelled",
  "action_required",
  "neutral",
  "success",
  "skipped",
] as const;

/**
 * The aggregate conclusion of completed jobs: the worst by CONCLUSION_PRECEDENCE. A conclusion GitHub does not
 * accept (e.g. "stale", "startup_failure") counts as "failure", so the aggregate never shows green for it.
 * Throws on an empty list: "no job reported" is the caller's decision (the sweeper's timed_out), never a
 * default that could pass a required check.
 */
export function worstConclusion(conclusions: readonly string[]): string {
  if (conclusions.length === 0) throw new RangeError("worstConclusion needs at least one conclusion");
  let worst = CONCLUSION_PRECEDENCE.length - 1;
  for (const conclusion of conclusions) {
    const rank = (CONCLUSION_PRECEDENCE as readonly string[]).indexOf(conclusion);
    worst = Math.min(worst, rank === -1 ? 0 : rank);
  }
  return CONCLUSION_PRECEDENCE[worst] as string;
}
