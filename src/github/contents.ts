// Reading one file from a repository through the contents API (raw media type), with optional ETag.
import { httpStatus, type GitHubClient } from "./client.js";
import type { RepoName } from "./repo-name.js";

export type RepoFileRead =
  | { kind: "content"; text: string; etag?: string }
  | { kind: "unchanged" }
  | { kind: "missing" };

export interface RepoFileRequest extends RepoName {
  path: string;
  /** Branch, tag or sha; undefined reads the default branch. */
  ref?: string;
  /** ETag of the copy already held: GitHub answers 304, which costs no rate limit. */
  etag?: string;
  maxBytes: number;
}

export async function readRepoFile(octokit: GitHubClient, request: RepoFileRequest): Promise<RepoFileRead> {
  const { owner, repo, path, ref, etag, maxBytes } = request;
  const where = `${owner}/${repo}:${path}@${ref ?? "default branch"}`;
  try {
    const response = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo,
      path,
      ...(ref && { ref }),
      headers: { accept: "application/vnd.github.raw+json", ...(etag && { "if-none-match": etag }) },
    });
    // With the raw media type a file comes back as its text; a directory comes back as a JSON listing.
    if (typeof response.data !== "string") throw new Error(`${where} is not a file`);
    if (Buffer.byteLength(response.data) > maxBytes) throw new Error(`${where} is larger than ${maxBytes} bytes`);
    return { kind: "content", text: response.data, ...(response.headers.etag && { etag: response.headers.etag }) };
  } catch (error) {
    const status = httpStatus(error);
    if (status === 304) return { kind: "unchanged" };
    if (status === 404) return { kind: "missing" };
    throw error;
  }
}
