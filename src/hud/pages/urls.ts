// Every URL the HUD pages link to: the relay's own pages, their JSON mirrors, and GitHub.
import type { PageContext } from "./context.js";

function withDays(path: string, days: number | undefined): string {
  return days === undefined ? path : `${path}?days=${days}`;
}

/** `owner/repo` with each segment path-encoded. */
function repoPath(repo: string): string {
  return repo.split("/").map(encodeURIComponent).join("/");
}

function withSha(path: string, sha: string | null | undefined): string {
  return sha ? `${path}?sha=${encodeURIComponent(sha)}` : path;
}

export const hudPath = {
  summary: (days?: number) => withDays("/hud", days),
  l4: (days?: number) => withDays("/hud/l4", days),
  trunk: (days?: number) => withDays("/hud/trunk", days),
  health: (weeks?: number) => (weeks === undefined ? "/hud/health" : `/hud/health?weeks=${weeks}`),
  backend: (downstreamRepo: string, days?: number) => withDays(`/hud/${repoPath(downstreamRepo)}`, days),
  pr: (prNumber: number, sha?: string | null) => withSha(`/hud/pr/${prNumber}`, sha),
};

export const apiPath = {
  summary: (days: number) => `/api/hud/summary?days=${days}`,
  healthWeekly: (weeks: number) => `/api/hud/health/weekly?weeks=${weeks}`,
  backend: (downstreamRepo: string, days: number) => `/api/hud/backends/${repoPath(downstreamRepo)}?days=${days}`,
  pr: (prNumber: number, sha?: string | null) => withSha(`/api/hud/pr/${prNumber}`, sha),
  trunk: (days: number, level: string | null) =>
    `/api/hud/trunk?days=${days}${level === null ? "" : `&level=${encodeURIComponent(level)}`}`,
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
