// Pure rendering of the `allowlist / validate` check run on config-repo pull requests.
import { capText } from "../github/text-limits.js";
import { diffAllowlists, formatDiffMarkdown, type AllowlistDiff } from "./diff.js";
import { formatIssue, parseAllowlist } from "./parse.js";
import { LEVELS, type Allowlist, type AllowlistIssue } from "./types.js";

export const ALLOWLIST_CHECK_NAME = "allowlist / validate";

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: "notice" | "warning" | "failure";
  title: string;
  message: string;
}

/**
 * What a review of the change adds to a valid allowlist's check (the promoted backends' measured
 * health: src/levels/promotion-review.ts): a summary section, annotations on entries' lines, and the
 * conclusion it asks for (none: success).
 */
export interface ChangeFindings {
  conclusion?: "neutral" | "failure";
  /** Appended to the check's title when there is a conclusion, e.g. "needs an L4 approver's approval". */
  headline?: string;
  summary: string;
  annotations: CheckAnnotation[];
}

export interface AllowlistCheckResult {
  conclusion: "success" | "neutral" | "failure";
  title: string;
  summary: string;
  annotations: CheckAnnotation[];
}

export function invalidResult(path: string, issues: readonly AllowlistIssue[]): AllowlistCheckResult {
  const list = issues.map((issue) => `- \`${formatIssue(issue, path)}\``).join("\n");
  return {
    conclusion: "failure",
    title: `${path}: ${issues.length} problem${issues.length === 1 ? "" : "s"}`,
    summary: capText(
      `\`${path}\` is not valid. The relay would keep using the last good version, so this change would have no effect.\n\n${list}\n\nRun \`npx cross-repo-ci-relay validate-allowlist ${path}\` in a checkout of the relay to check a fix.`,
    ),
    annotations: issues.map((issue) => annotation(path, issue)),
  };
}

export function validResult(
  path: string,
  allowlist: Allowlist,
  diff: AllowlistDiff,
  baseNote?: string,
  findings?: ChangeFindings,
): AllowlistCheckResult {
  const counts = LEVELS.map((level) => `${level}: ${allowlist.entries.filter((entry) => entry.level === level).length}`);
  const note = baseNote ? `\n\n> ${baseNote}` : "";
  const review = findings ? `\n${findings.summary}` : "";
  const title = `${path} is valid (${allowlist.entries.length} backends)`;
  return {
    conclusion: findings?.conclusion ?? "success",
    title: findings?.conclusion && findings.headline ? `${title}; ${findings.headline}` : title,
    summary: capText(`\`${path}\` is valid — ${counts.join(", ")}.${note}\n\n${formatDiffMarkdown(diff)}${review}`),
    annotations: findings?.annotations ?? [],
  };
}

const EMPTY: Allowlist = { entries: [], byRepo: new Map(), requirements: {} };

/**
 * The changes a valid allowlist makes to the base version, `path` as it is `where` (undefined: it does not
 * exist there). The base is read leniently, with no profile: a base torchci could not read must not keep
 * its fix from merging. A base that is missing or invalid is compared as an empty allowlist, with a note.
 */
export function diffAgainstBase(
  path: string,
  baseText: string | undefined,
  after: Allowlist,
  where = "on the base branch",
): { diff: AllowlistDiff; baseNote?: string } {
  const base = baseText === undefined ? undefined : parseAllowlist(baseText);
  const diff = diffAllowlists(base?.ok ? base.allowlist : EMPTY, after);
  if (base === undefined) return { diff, baseNote: `\`${path}\` does not exist ${where}; every backend is new.` };
  if (!base.ok) return { diff, baseNote: `\`${path}\` ${where} is invalid; changes are listed against an empty allowlist.` };
  return { diff };
}

export function unchangedResult(path: string): AllowlistCheckResult {
  return {
    conclusion: "success",
    title: `${path} not changed`,
    summary: `This pull request does not change \`${path}\`.`,
    annotations: [],
  };
}

export function removedResult(path: string): AllowlistCheckResult {
  return {
    conclusion: "failure",
    title: `${path} is deleted`,
    summary: `This pull request deletes \`${path}\`. The relay would keep the last good version it loaded and report the file as missing; remove backends by editing the file instead.`,
    annotations: [],
  };
}

function annotation(path: string, issue: AllowlistIssue): CheckAnnotation {
  // GitHub accepts columns only when the annotation starts and ends on the same line.
  const sameLine = issue.line === issue.endLine;
  return {
    path,
    start_line: issue.line,
    end_line: issue.endLine,
    ...(sameLine && { start_column: issue.col, end_column: Math.max(issue.col, issue.endCol) }),
    annotation_level: "failure",
    title: "Invalid allowlist",
    message: issue.message,
  };
}
