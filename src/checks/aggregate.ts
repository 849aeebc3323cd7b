// The backend's aggregate check run on the upstream PR (pure rendering). One per (backend, head sha),
// named `<prefix> / <name>`; created queued at dispatch time, later moved along by callbacks.
import type { AllowlistEntry } from "../allowlist/types.js";
import type { GitHubRequest } from "../domain/github-request.js";

export function aggregateCheckName(checkPrefix: string, backendName: string): string {
  return `${checkPrefix} / ${backendName}`;
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
  entry: Pick<AllowlistEntry, "repo" | "name" | "level" | "policy">;
  checkPrefix: string;
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
      name: aggregateCheckName(input.checkPrefix, entry.name),
      head_sha: input.headSha,
      status: "queued",
      // Lets a re-request find the dispatch (and, once reported, the downstream run) behind this check.
      external_id: `dispatch:${input.deliveryId}:${entry.repo.toLowerCase()}`,
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
