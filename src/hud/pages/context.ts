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
}
