// The health audit's decisions (pure): each backend's weekly verdicts against its level, the allowlist
// and the audit's open issues → the issues to create, update and close, with their exact text. GitHub
// holds the audit's state: an issue carries the audit's label and a hidden marker naming its backend, so
// a run knows what earlier runs did without a store. The I/O is src/levels/audit-job.ts; docs/levels.md.
import { LEVELS, type Allowlist, type AllowlistEntry, type LevelRequirements } from "../allowlist/types.js";
import { describeRequirement, formatRequirementValue, METRIC_REQUIREMENTS } from "../hud/pages/requirements.js";
import type { HealthTrendView, TimeWindow, WeekHealth } from "../hud/views.js";

/** The label the audit's issues carry (and are listed by). */
export const AUDIT_LABEL = "relay-health";

const MARKER = /<!-- relay-health:(\S+) -->/;

/** The hidden first line of a backend's audit issue. */
export function auditMarker(repoKey: string): string {
  return `<!-- relay-health:${repoKey} -->`;
}

/** An open issue carrying the audit's label, as GitHub lists it. */
export interface AuditIssue {
  number: number;
  title: string;
  body: string;
}

export type CloseCause = "recovered" | "removed" | "no_requirements" | "duplicate";

export type AuditAction =
  | { kind: "create"; repo: string; title: string; body: string; labels: string[] }
  | { kind: "update"; repo: string; number: number; title: string; body: string }
  | { kind: "close"; repo: string; number: number; cause: CloseCause; comment: string; stateReason: "completed" | "not_planned" };

export interface AuditInput {
  /** HudService.healthByWeek over `windows` weeks, judged with `allowlist`. */
  trend: HealthTrendView;
  allowlist: Allowlist;
  issues: readonly AuditIssue[];
  /** Consecutive failing weeks (the latest included) before an issue is opened. */
  windows: number;
}

type Measured = Exclude<keyof LevelRequirements, "window_days">;

/** The requirements a level sets, in display order; window_days is not one (the audit judges weeks). */
function measuredRequirements(allowlist: Allowlist, level: string): Array<[Measured, number]> {
  const requirements: LevelRequirements = (allowlist.requirements as Record<string, LevelRequirements>)[level] ?? {};
  return METRIC_REQUIREMENTS.flatMap((key) => {
    const threshold = requirements[key];
    return threshold === undefined ? [] : [[key, threshold] as [Measured, number]];
  });
}

/**
 * What to do, creates first (new proposals), then closes, then updates (refreshed evidence), each in
 * allowlist order: the job carries them out in this order until its write bound.
 */
export function planAudit({ trend, allowlist, issues, windows }: AuditInput): AuditAction[] {
  const creates: AuditAction[] = [];
  const closes: AuditAction[] = [];
  const updates: AuditAction[] = [];
  const close = (issue: AuditIssue, repo: string, cause: CloseCause, comment: string) =>
    closes.push({ kind: "close", repo, number: issue.number, cause, comment, stateReason: cause === "recovered" ? "completed" : "not_planned" });

  // The oldest issue of a backend is the one kept; another with the same marker is a duplicate.
  const kept = new Map<string, AuditIssue>();
  for (const issue of [...issues].sort((a, b) => a.number - b.number)) {
    const repo = MARKER.exec(issue.body)?.[1]?.toLowerCase();
    if (repo === undefined) continue;
    const first = kept.get(repo);
    if (first) close(issue, repo, "duplicate", `The relay's health audit keeps #${first.number} for \`${repo}\`: closing this duplicate.`);
    else kept.set(repo, issue);
  }
  for (const [repo, issue] of kept) {
    if (!allowlist.byRepo.has(repo)) close(issue, repo, "removed", `\`${repo}\` is no longer in the allowlist: nothing to audit, closing.`);
  }

  const rows = new Map(trend.backends.map((row) => [row.downstreamRepo, row.weeks]));
  for (const entry of allowlist.entries) {
    const requirements = measuredRequirements(allowlist, entry.level);
    const open = kept.get(entry.key);
    if (requirements.length === 0) {
      if (open) close(open, entry.key, "no_requirements", `${entry.name}'s level, ${entry.level}, sets no requirements now: nothing to audit, closing.`);
      continue;
    }
    const weeks = rows.get(entry.key) ?? [];
    const latest = weeks.at(-1);
    if (open) {
      if (latest?.verdict === "meets") {
        const week = weekLabel(trend.windows.at(-1)!);
        close(open, entry.key, "recovered", `${entry.name} meets ${entry.level}'s requirements in the latest week (${week}, UTC): closing. The health audit opens a new issue if it misses its level ${inARow(windows)} again.`);
        continue;
      }
      const issue = renderIssue(entry, requirements, trend.windows, weeks, windows);
      if (issue.title !== open.title || issue.body !== normalized(open.body)) updates.push({ kind: "update", repo: entry.key, number: open.number, ...issue });
    } else if (weeks.length >= windows && weeks.slice(-windows).every((week) => week.verdict === "fails")) {
      creates.push({ kind: "create", repo: entry.key, ...renderIssue(entry, requirements, trend.windows, weeks, windows), labels: [AUDIT_LABEL] });
    }
  }
  return [...creates, ...closes, ...updates];
}

/** Compared as text: line-end differences (CRLF from a browser edit, a trimmed end) are no reason to write. */
const normalized = (body: string) => body.replace(/\r\n/g, "\n").trimEnd();

const inARow = (windows: number) => (windows === 1 ? "for a week" : `${windows} weeks in a row`);

/** "2026-11-13 to 2026-11-19": the UTC days a window covers (its end is exclusive). */
function weekLabel(window: TimeWindow): string {
  const lastDay = new Date(Date.parse(window.to) - 1).toISOString().slice(0, 10);
  return `${window.from.slice(0, 10)} to ${lastDay}`;
}

const VERDICT = { meets: "meets", fails: "fails", no_data: "no data" } as const;

/** The issue's title and body: the headline, the proposal, the oncalls and the evidence table. */
function renderIssue(
  entry: AllowlistEntry,
  requirements: ReadonlyArray<[Measured, number]>,
  windows: readonly TimeWindow[],
  weeks: readonly WeekHealth[],
  needed: number,
): { title: string; body: string } {
  const { name, level } = entry;
  const failing = weeks.length - (weeks.findLastIndex((week) => week.verdict !== "fails") + 1);
  const headline =
    failing === 0
      ? `**${name}** (\`${entry.key}\`) missed the requirements of its level, **${level}**, and the latest week has no results to judge: this issue stays open until a week meets them.`
      : `**${name}** (\`${entry.key}\`) missed the requirements of its level, **${level}**, in ${failing === 1 ? "the latest week" : `each of the last ${failing} weeks`}.`;
  const below = LEVELS[LEVELS.indexOf(entry.level) - 1];
  const proposal = below
    ? `**Proposed:** demote ${name} from ${level} to ${below}, by a pull request to the allowlist. The upstream's maintainers decide; the relay changes nothing on its own.`
    : `**Proposed:** consider removing ${name} from the allowlist (${level} is the lowest level). The upstream's maintainers decide; the relay changes nothing on its own.`;
  const oncalls = entry.oncalls.length > 0 ? entry.oncalls.map((handle) => `@${handle}`).join(", ") : "none listed in the allowlist";
  const rows = weeks.map((week, index) => {
    const cells = requirements.map(([key]) => {
      const check = week.checks.find((candidate) => candidate.requirement === key);
      if (!check || check.actual === null) return "n/a";
      return `${formatRequirementValue(key, check.actual)}${check.verdict === "fails" ? " ✗" : ""}`;
    });
    return `| ${weekLabel(windows[index]!)} | ${VERDICT[week.verdict]} | ${cells.join(" | ")} |`;
  });
  const body = [
    auditMarker(entry.key),
    headline,
    "",
    proposal,
    "",
    `**Oncalls:** ${oncalls}`,
    "",
    "### Evidence",
    "",
    `Each week (UTC) judged on its own against ${level}'s requirements; ✗ marks a missed requirement, n/a a figure with nothing to measure.`,
    "",
    `| week | verdict | ${requirements.map(([key, threshold]) => describeRequirement(key, threshold, "label")).join(" | ")} |`,
    `|---|---|${requirements.map(() => "---|").join("")}`,
    ...rows,
    "",
    `_Kept by the relay's health audit: opened after ${needed === 1 ? "a failing week" : `${needed} failing weeks in a row`}, updated while ${name} misses ${level}, closed once the latest week meets it again. How each figure is measured: docs/levels.md in the relay's repository._`,
  ].join("\n");
  return { title: `Health audit: ${name} (${entry.key}) misses ${level}'s requirements`, body };
}
