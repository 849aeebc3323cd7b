// Concluding the relay's open check runs on a head sha (pure rendering): superseded by a new push,
// PR closed, or a backend that never reported.
import type { GitHubRequest, OutboxTask } from "../store/store.js";

/** The same check run, completed with `conclusion` and an explanation. */
export function concludedRequest(request: GitHubRequest, conclusion: string, title: string, summary: string): GitHubRequest {
  const { owner, repo, name, head_sha, external_id, details_url } = request.params;
  return {
    route: request.route,
    params: {
      owner,
      repo,
      name,
      head_sha,
      ...(external_id !== undefined && { external_id }),
      ...(details_url !== undefined && { details_url }),
      status: "completed",
      conclusion,
      completed_at: new Date().toISOString(),
      output: { title, summary },
    },
  };
}

/** Check-run tasks whose desired state is not final yet. */
export function openCheckRuns(tasks: readonly OutboxTask[]): OutboxTask[] {
  return tasks.filter((task) => task.request.params.status !== "completed");
}
