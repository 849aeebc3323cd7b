// The GitHub client type and small helpers shared by every module that talks to GitHub.
// Every call goes through the Octokit Probot configures (GHE_HOST aware); nothing builds API URLs itself.
import type { Probot, ProbotOctokit } from "probot";
import { parseRepoSlug } from "./repo-name.js";

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

/** HTTP status of an Octokit RequestError (duck-typed: the class lives in a transitive dependency). */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error === "object" && error !== null && "status" in error && typeof error.status === "number") {
    return error.status;
  }
  return undefined;
}

export interface RepoClientProvider {
  /** An installation client for the repo; looks the installation up once and caches it. */
  get(): Promise<GitHubClient>;
  /** Records the installation id from a webhook payload, saving the lookup. */
  remember(installationId: number): void;
}

export function repoClientProvider(probot: Probot, slug: string): RepoClientProvider {
  const { owner, repo } = parseRepoSlug(slug);
  let installationId: number | undefined;
  return {
    async get() {
      if (installationId === undefined) {
        const appClient = await probot.auth();
        // A token given to `probot receive` (-t, or GITHUB_TOKEN in a workflow) reads the repo itself:
        // only an App has installations. (A token's auth() ignores the requested type.)
        if (((await appClient.auth({ type: "app" })) as { type: string }).type === "token") return appClient;
        try {
          const { data } = await appClient.rest.apps.getRepoInstallation({ owner, repo });
          installationId = data.id;
        } catch (error) {
          if (httpStatus(error) === 404) throw new Error(`the App is not installed on ${owner}/${repo}`, { cause: error });
          throw error;
        }
      }
      return probot.auth(installationId);
    },
    remember(id) {
      installationId = id;
    },
  };
}
