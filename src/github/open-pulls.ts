// The upstream's open pull requests, most recently updated first, read a page at a time with ETags: a
// page GitHub answers 304 Not Modified does not count against the rate limit (GitHub REST docs, "Use
// conditional requests if appropriate"), and the copy kept from the last read is used instead.
import { z } from "zod";
import { describeIssues } from "../validation/describe-issues.js";
import { httpStatus, type GitHubClient } from "./client.js";
import type { RepoName } from "./repo-name.js";

const Sha = z.string().regex(/^[0-9a-f]{40}$/);

/** The fields of a "list pull requests" item the relay reads (the same as a pull_request webhook's). */
const OpenPullSchema = z.object({
  number: z.int().positive(),
  state: z.string(),
  html_url: z.string(),
  title: z.string(),
  draft: z.boolean().optional(),
  author_association: z.string(),
  user: z.object({ login: z.string() }).nullable(),
  labels: z.array(z.object({ name: z.string() })),
  head: z.object({ sha: Sha, ref: z.string(), repo: z.object({ full_name: z.string() }).nullable() }),
  base: z.object({ sha: Sha, ref: z.string() }),
  updated_at: z.iso.datetime({ offset: true }),
});

export type OpenPull = z.infer<typeof OpenPullSchema>;

const PER_PAGE = 100;

interface KeptPage {
  etag: string;
  items: unknown[];
}

export interface OpenPullsPage {
  pulls: OpenPull[];
  /** Items GitHub sent that do not have the expected shape (skipped), with why. */
  invalid: string[];
  /** The page came from the kept copy (GitHub answered 304). */
  unchanged: boolean;
  /** More pages follow. */
  more: boolean;
}

/** Reads pages of one repo's open pull requests; keeps each page's ETag and items (at most `maxPages`). */
export class OpenPullsReader {
  readonly #pages = new Map<number, KeptPage>();

  constructor(
    private readonly repo: RepoName,
    private readonly maxPages: number,
  ) {}

  /** Page `page` (1-based) of the open PRs, sorted by last update, newest first. */
  async page(client: GitHubClient, page: number): Promise<OpenPullsPage> {
    if (page > this.maxPages) return { pulls: [], invalid: [], unchanged: true, more: false };
    const kept = this.#pages.get(page);
    let items: unknown[];
    let unchanged = false;
    try {
      const response = await client.request("GET /repos/{owner}/{repo}/pulls", {
        ...this.repo,
        state: "open",
        sort: "updated",
        direction: "desc",
        per_page: PER_PAGE,
        page,
        ...(kept && { headers: { "if-none-match": kept.etag } }),
      });
      items = Array.isArray(response.data) ? response.data : [];
      const etag = response.headers.etag;
      if (etag) this.#pages.set(page, { etag, items });
      else this.#pages.delete(page);
    } catch (error) {
      if (httpStatus(error) !== 304 || !kept) throw error;
      items = kept.items;
      unchanged = true;
    }
    const pulls: OpenPull[] = [];
    const invalid: string[] = [];
    for (const item of items) {
      const parsed = OpenPullSchema.safeParse(item);
      if (parsed.success) pulls.push(parsed.data);
      else invalid.push(describeIssues(parsed.error, ""));
    }
    return { pulls, invalid, unchanged, more: items.length === PER_PAGE && page < this.maxPages };
  }
}
