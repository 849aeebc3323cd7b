// Promotions to L4 need approval by the upstream's core maintainers (the RFC): with RELAY_L4_APPROVERS set,
// the `allowlist / validate` check of a pull request that promotes (or adds) a backend to L4 passes only
// once one of them has approved the pull request. The decision is pure; the reviews come from GitHub.
import type { AllowlistDiff } from "./diff.js";
import type { ChangeFindings, CheckAnnotation } from "./pr-check-output.js";
import type { AllowlistEntry } from "./types.js";

/** A pull request review as GitHub lists them (oldest first). */
export interface PullRequestReview {
  user: { login: string } | null;
  state: string;
}

/** States that decide a reviewer's stance; a later comment does not undo an approval (GitHub's rule). */
const DECISIVE = new Set(["APPROVED", "CHANGES_REQUESTED", "DISMISSED"]);

/** The approvers (as configured) whose latest decisive review approves the pull request. */
export function approvingApprovers(reviews: readonly PullRequestReview[], approvers: readonly string[]): string[] {
  const latest = new Map<string, string>();
  for (const review of reviews) {
    if (review.user && DECISIVE.has(review.state)) latest.set(review.user.login.toLowerCase(), review.state);
  }
  return approvers.filter((approver) => latest.get(approver.toLowerCase()) === "APPROVED");
}

/** Backends the change brings to L4: promoted to it, or added at it. */
export function newAtL4(diff: AllowlistDiff): AllowlistEntry[] {
  return [...diff.promoted.map((change) => change.after), ...diff.added].filter((entry) => entry.level === "L4");
}

/** The check's part for L4 approval: passes with the approver named, fails on each entry's line until then. */
export function approvalFindings(path: string, entries: readonly AllowlistEntry[], approvers: readonly string[], approvedBy: readonly string[]): ChangeFindings {
  // Handles in code spans: the summary never @-mentions anyone.
  const named = approvers.map((approver) => `\`@${approver}\``).join(", ");
  if (approvedBy.length > 0) {
    return { summary: `\n### L4 approval\n\nApproved by ${approvedBy.map((approver) => `\`@${approver}\``).join(", ")} (L4 approvers: ${named}).\n`, annotations: [] };
  }
  const annotations: CheckAnnotation[] = entries.map((entry) => ({
    path,
    start_line: entry.position.line,
    end_line: entry.position.line,
    annotation_level: "failure",
    title: `${entry.repo} to L4 needs an L4 approver's approval`,
    message: `A backend at L4 can block merging upstream: one of ${approvers.map((approver) => `@${approver}`).join(", ")} must approve this pull request. The check runs again on each review.`,
  }));
  return {
    conclusion: "failure",
    headline: "needs an L4 approver's approval",
    summary: `\n### L4 approval\n\nNot approved yet: this pull request brings ${entries.map((entry) => `\`${entry.repo}\``).join(", ")} to L4, which needs the approval of one of ${named}. The check runs again on each review.\n`,
    annotations,
  };
}

/** Both reviews' findings as one: summaries and annotations in order, the stricter conclusion. */
export function combineFindings(...all: Array<ChangeFindings | undefined>): ChangeFindings | undefined {
  const present = all.filter((findings): findings is ChangeFindings => findings !== undefined);
  if (present.length === 0) return undefined;
  const conclusions = present.map((findings) => findings.conclusion);
  const conclusion = conclusions.includes("failure") ? "failure" : conclusions.includes("neutral") ? "neutral" : undefined;
  const headlines = present.filter((findings) => findings.conclusion && findings.headline).map((findings) => findings.headline!);
  return {
    ...(conclusion && { conclusion }),
    ...(headlines.length > 0 && { headline: headlines.join("; ") }),
    summary: present.map((findings) => findings.summary).join(""),
    annotations: present.flatMap((findings) => findings.annotations),
  };
}
