// What every HUD page needs besides its view: where links point and when the page was made.

export interface PageContext {
  /** `owner/repo` of the upstream, e.g. pytorch/pytorch. */
  upstreamRepo: string;
  /** GitHub's web origin (https://github.com or a GHES host), for PR, commit, repo and user links. */
  webBaseUrl: string;
  /** When the page was rendered (ISO); relative times ("3h ago") are measured from it. */
  generatedAt: string;
  /** The selected range in days, kept in the nav links of pages that have no window of their own. */
  days?: number;
  /**
   * How a downstream repo is written on the pages, in text and links: the allowlist's spelling (GitHub
   * names are case-insensitive, and the data keeps them in lower case). The rule is HudService.repoName;
   * without it, as the view has it. Pages read it through repoName() below.
   */
  repoName?: (repo: string) => string;
}

/** A downstream repo as the pages write it (see PageContext.repoName). */
export function repoName(ctx: PageContext, repo: string): string {
  return ctx.repoName?.(repo) ?? repo;
}
