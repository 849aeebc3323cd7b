// Reads the allowlist from the config repo with the App's installation token, using conditional requests:
// a 304 answer costs no rate limit and means nothing changed.
import type { GitHubClient } from "../github/client.js";
import { readRepoFile } from "../github/contents.js";
import type { RepoName } from "../github/repo-name.js";
import { MAX_ALLOWLIST_BYTES } from "./parse.js";
import type { AllowlistFetcher, FetchOutcome } from "./source.js";

export interface RepoFetcherOptions {
  repo: RepoName;
  path: string;
  /** Branch or ref to read; undefined reads the repo's default branch. */
  ref?: string;
  client: () => Promise<GitHubClient>;
}

export function repoFetcher({ repo, path, ref, client }: RepoFetcherOptions): AllowlistFetcher {
  // ETags are per ref: the branch and a pinned push sha are different resources.
  const etags = new Map<string, string>();
  const slug = `${repo.owner}/${repo.repo}`;
  return {
    kind: "repo",
    description: `repo ${slug}:${path}@${ref ?? "default branch"}`,
    displayPath: path,
    async fetch(pinnedRef?: string): Promise<FetchOutcome> {
      const readRef = pinnedRef ?? ref;
      const etagKey = readRef ?? "";
      const read = await readRepoFile(await client(), {
        ...repo,
        path,
        ...(readRef && { ref: readRef }),
        ...(etags.has(etagKey) && { etag: etags.get(etagKey) }),
        maxBytes: MAX_ALLOWLIST_BYTES,
      });
      if (read.kind === "missing") {
        throw new Error(`${path} not found in ${slug}@${readRef ?? "default branch"} (is the App installed there with contents: read?)`);
      }
      if (read.kind === "content" && read.etag) etags.set(etagKey, read.etag);
      return read;
    },
  };
}
