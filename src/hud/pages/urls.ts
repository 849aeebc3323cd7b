// Every URL the HUD pages link to: the relay's own pages, their JSON mirrors, and GitHub.
import type { PageContext } from "./context.js";

/** `path`, with or without a query already, with one more parameter. */
export function withParam(path: string, name: string, value: string): string {
  return `${path}${path.includes("?") ? "&" : "?"}${name}=${encodeURIComponent(value)}`;
}

/** `path` with the parameters that have a value, in order. */
function withParams(path: string, params: Record<string, string | number | null | undefined>): string {
  return Object.entries(params).reduce((url, [name, value]) => (value === null || value === undefined || value === "" ? url : withParam(url, name, String(value))), path);
}

/** `owner/repo` with each segment path-encoded. */
function repoPath(repo: string): string {
  return repo.split("/").map(encodeURIComponent).join("/");
}

export const hudPath = {
  summary: (days?: number) => withParams("/hud", { days }),
  l4: (days?: number) => withParams("/hud/l4", { days }),
  trunk: (days?: number, level?: string | null) => withParams("/hud/trunk", { days, level }),
  health: (weeks?: number) => withParams("/hud/health", { weeks }),
  backend: (downstreamRepo: string, days?: number) => withParams(`/hud/${repoPath(downstreamRepo)}`, { days }),
  pr: (prNumber: number, sha?: string | null) => withParams(`/hud/pr/${prNumber}`, { sha }),
};

export const apiPath = {
  summary: (days: number) => withParams("/api/hud/summary", { days }),
  healthWeekly: (weeks: number) => withParams("/api/hud/health/weekly", { weeks }),
  backend: (downstreamRepo: string, days: number) => withParams(`/api/hud/backends/${repoPath(downstreamRepo)}`, { days }),
  pr: (prNumber: number, sha?: string | null) => withParams(`/api/hud/pr/${prNumber}`, { sha }),
  trunk: (days: number, level: string | null) => withParams("/api/hud/trunk", { days, level }),
};

/** GitHub web URLs; the caller passes them through httpUrl() like any other (the base is configuration). */
export const githubUrl = {
  repo: (ctx: PageContext, repo: string) => `${ctx.webBaseUrl}/${repoPath(repo)}`,
  pr: (ctx: PageContext, prNumber: number) => `${ctx.webBaseUrl}/${repoPath(ctx.upstreamRepo)}/pull/${prNumber}`,
  commit: (ctx: PageContext, sha: string) =>
    `${ctx.webBaseUrl}/${repoPath(ctx.upstreamRepo)}/commit/${encodeURIComponent(sha)}`,
  /** A user (`name`) or a team (`org/team`), as oncalls are written in the allowlist. */
  handle: (ctx: PageContext, handle: string) => {
    const [org, team] = handle.split("/");
    return team === undefined
      ? `${ctx.webBaseUrl}/${encodeURIComponent(handle)}`
      : `${ctx.webBaseUrl}/orgs/${encodeURIComponent(org ?? "")}/teams/${encodeURIComponent(team)}`;
  },
};
