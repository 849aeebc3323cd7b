// The backend's aggregate check run on the upstream PR (pure rendering). One per (backend, head sha),
// named `<prefix> / <name>`; created queued at dispatch time, later moved along by callbacks.
import type { AllowlistEntry } from "../allowlist/types.js";
import type { GitHubRequest } from "../store/store.js";

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
