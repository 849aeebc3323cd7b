// A GitHub REST request as the outbox stores it and the worker sends it through Octokit.
export interface GitHubRequest {
  /** Octokit route, e.g. "POST /repos/{owner}/{repo}/dispatches". */
  route: string;
  params: Record<string, unknown>;
}
