// The health audit's I/O (the leader runs it on a timer, src/scheduler/jobs.ts): the weekly health from
// the HUD, the audit repo's open issues in one listing, then the actions the core decides
// (src/levels/audit.ts), one request at a time and at most `maxWrites` writes a run; the rest is left to
// the next run, which lists the issues again. docs/levels.md "Health audit".
import type { Logger } from "pino";
import type { Allowlist } from "../allowlist/types.js";
import type { GitHubClient } from "../github/client.js";
import { parseRepoSlug, type RepoName } from "../github/repo-name.js";
import type { HealthTrendView } from "../hud/views.js";
import type { RelayMetrics } from "../metrics.js";
import { AUDIT_LABEL, planAudit, type AuditAction, type AuditIssue } from "./audit.js";

/** Writes a run makes at most: the audit is a proposal, never worth a burst against GitHub's limits. */
export const AUDIT_MAX_WRITES = 10;
const DAY_MS = 86_400_000;

export interface HealthAuditOptions {
  /** owner/repo where the issues are opened. */
  repo: string;
  /** Consecutive failing weeks before an issue is opened. */
  windows: number;
  /** An installation client for `repo`. */
  client: () => Promise<GitHubClient>;
  /** HudService.healthByWeek: `weeks` weeks up to `end`. */
  healthByWeek: (weeks: number, end: number) => Promise<HealthTrendView>;
  allowlist: () => Allowlist | undefined;
  metrics: Pick<RelayMetrics, "healthAuditActions">;
  log: Pick<Logger, "info">;
  now?: () => number;
  maxWrites?: number;
}

/** One audit run; rejects on the first failed request (the run is then counted as failed). */
export async function runHealthAudit(options: HealthAuditOptions): Promise<void> {
  const allowlist = options.allowlist();
  // Not loaded yet (just started): every issue would look like a removed backend's.
  if (!allowlist) return;
  // Weeks end at the last UTC midnight, so every run of a day judges the same weeks and writes nothing new.
  const end = Math.floor((options.now ?? Date.now)() / DAY_MS) * DAY_MS;
  const trend = await options.healthByWeek(options.windows, end);
  const client = await options.client();
  const repo = parseRepoSlug(options.repo);
  const issues = await openIssues(client, repo);
  const actions = planAudit({ trend, allowlist, issues, windows: options.windows });
  const maxWrites = options.maxWrites ?? AUDIT_MAX_WRITES;
  let writes = 0;
  for (const [index, action] of actions.entries()) {
    const cost = action.kind === "close" ? 2 : 1;
    if (writes + cost > maxWrites) {
      const deferred = actions.slice(index);
      for (const later of deferred) options.metrics.healthAuditActions.inc({ action: later.kind, outcome: "deferred" });
      options.log.info({ deferred: deferred.length, maxWrites }, "health audit: write bound reached, the rest is left to the next run");
      return;
    }
    writes += cost;
    try {
      await perform(client, repo, action);
    } catch (error) {
      options.metrics.healthAuditActions.inc({ action: action.kind, outcome: "failed" });
      throw new Error(`health audit could not ${action.kind} the issue of ${action.repo} in ${options.repo}: ${String(error)}`, { cause: error });
    }
    options.metrics.healthAuditActions.inc({ action: action.kind, outcome: "done" });
    options.log.info({ action: action.kind, backend: action.repo, ...("number" in action && { issue: action.number }), ...(action.kind === "close" && { cause: action.cause }) }, "health audit");
  }
}

/** The open issues with the audit's label, in one paginated listing (pull requests are issues there too). */
async function openIssues(client: GitHubClient, repo: RepoName): Promise<AuditIssue[]> {
  const listed = await client.paginate("GET /repos/{owner}/{repo}/issues", { ...repo, labels: AUDIT_LABEL, state: "open", per_page: 100 });
  return listed.filter((issue) => !issue.pull_request).map((issue) => ({ number: issue.number, title: issue.title, body: issue.body ?? "" }));
}

async function perform(client: GitHubClient, repo: RepoName, action: AuditAction): Promise<void> {
  switch (action.kind) {
    case "create":
      await client.request("POST /repos/{owner}/{repo}/issues", { ...repo, title: action.title, body: action.body, labels: action.labels });
      return;
    case "update":
      await client.request("PATCH /repos/{owner}/{repo}/issues/{issue_number}", { ...repo, issue_number: action.number, title: action.title, body: action.body });
      return;
    case "close":
      // The comment first: a close that fails after it is retried next run, at worst with a second comment.
      await client.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...repo, issue_number: action.number, body: action.comment });
      await client.request("PATCH /repos/{owner}/{repo}/issues/{issue_number}", { ...repo, issue_number: action.number, state: "closed", state_reason: action.stateReason });
      return;
  }
}
