// An allowlist pull request that promotes a backend, judged by the backend's measured health against the
// new level's requirements (as the pull request writes them): a section in the `allowlist / validate`
// summary and an annotation on the entry's line. What a miss does to the check is the operator's
// policy (RELAY_PROMOTION_HEALTH): neutral (default) or failure. The figures: docs/levels.md.
import type { AllowlistDiff } from "../allowlist/diff.js";
import type { ChangeReviewer } from "../allowlist/pr-check.js";
import type { ChangeFindings, CheckAnnotation } from "../allowlist/pr-check-output.js";
import type { Allowlist, AllowlistEntry, LevelRequirements } from "../allowlist/types.js";
import { AUDIT_RETENTION_DAYS } from "../domain/callback-audit.js";
import { checkRequirements } from "../hud/health.js";
import { describeRequirement, formatRequirementValue, requirementBound, requirementLabel } from "../hud/pages/requirements.js";
import type { BackendStats, HealthView, RequirementCheck, Verdict } from "../hud/views.js";

export type PromotionHealthPolicy = "neutral" | "failure";

/** The window a level is judged over when its requirements set no window_days. */
export const DEFAULT_REVIEW_DAYS = 14;
/** The longest window looked at: the callback audit keeps 90 days (AUDIT_RETENTION_DAYS), as the HUD's API offers. */
const MAX_REVIEW_DAYS = AUDIT_RETENTION_DAYS;

export interface PromotionVerdict {
  entry: AllowlistEntry;
  from: string;
  days: number;
  verdict: Verdict;
  checks: RequirementCheck[];
  stats: BackendStats | undefined;
}

/** Judges each promoted backend; `statsFor(days)` gives the measured stats by lower-cased repo. */
export async function judgePromotions(
  after: Allowlist,
  diff: AllowlistDiff,
  statsFor: (days: number) => Promise<ReadonlyMap<string, BackendStats>>,
): Promise<PromotionVerdict[]> {
  const verdicts: PromotionVerdict[] = [];
  for (const { before, after: entry } of diff.promoted) {
    const requirements: LevelRequirements = after.requirements[entry.level] ?? {};
    const days = Math.min(requirements.window_days ?? DEFAULT_REVIEW_DAYS, MAX_REVIEW_DAYS);
    const stats = (await statsFor(days)).get(entry.key);
    const judged = stats ? checkRequirements(stats, requirements) : { checks: [], verdict: "no_data" as const };
    verdicts.push({ entry, from: before.level, days, stats, ...judged });
  }
  return verdicts;
}

const measured = (check: RequirementCheck): string => (check.actual === null ? "not measured" : formatRequirementValue(check.requirement, check.actual));

/** "test pass rate 91.2% (L4 requires ≥ 95%)" for each failing check. */
function misses(verdict: PromotionVerdict): string[] {
  return verdict.checks
    .filter((check) => check.verdict === "fails")
    .map((check) => `${requirementLabel(check.requirement)} ${measured(check)} (${verdict.entry.level} requires ${requirementBound(check.requirement, check.threshold)})`);
}

function annotate(path: string, verdict: PromotionVerdict, policy: PromotionHealthPolicy): CheckAnnotation {
  const { entry, days } = verdict;
  const line = entry.position.line;
  const base = { path, start_line: line, end_line: line };
  const over = `over the last ${days} days`;
  if (verdict.verdict === "fails") {
    return {
      ...base,
      annotation_level: policy === "failure" ? "failure" : "warning",
      title: `${entry.repo} misses ${entry.level}'s requirements`,
      message: `Measured ${over}: ${misses(verdict).join("; ")}.`,
    };
  }
  if (verdict.verdict === "no_data") {
    const active = verdict.stats !== undefined && (verdict.stats.jobs > 0 || verdict.stats.dispatches > 0);
    return {
      ...base,
      annotation_level: "warning",
      title: `No results to judge ${entry.repo} at ${entry.level}`,
      message: active
        ? `None of the figures ${entry.level}'s requirements name could be measured from ${entry.repo}'s results ${over}.`
        : `The relay has no results from ${entry.repo} ${over} to compare with ${entry.level}'s requirements.`,
    };
  }
  const met = verdict.checks.filter((check) => check.verdict === "meets").map((check) => `${describeRequirement(check.requirement, check.threshold, "label")} (${measured(check)})`);
  const message = met.length > 0 ? `Measured ${over}: ${met.join("; ")}.` : `${entry.level} sets no requirements to measure ${entry.repo} against.`;
  return { ...base, annotation_level: "notice", title: `${entry.repo} meets ${entry.level}'s requirements`, message };
}

/** The summary section and annotations for the promotions; the conclusion a miss asks for. */
export function promotionFindings(path: string, verdicts: readonly PromotionVerdict[], policy: PromotionHealthPolicy): ChangeFindings | undefined {
  if (verdicts.length === 0) return undefined;
  const rows = verdicts.map((verdict) => {
    const result = verdict.verdict === "fails" ? `misses: ${misses(verdict).join("; ")}` : verdict.verdict === "meets" ? "meets every requirement set" : "no results to judge";
    return `| \`${verdict.entry.repo}\` | ${verdict.from} → ${verdict.entry.level} | ${verdict.days} days | ${result} |`;
  });
  const toL4 = verdicts.some((verdict) => verdict.entry.level === "L4");
  const summary = [
    "### Health of promoted backends",
    "",
    "Each promoted backend's measured results against its new level's requirements as this pull request writes them (how each figure is measured: the relay's docs/levels.md).",
    "",
    "| backend | promotion | window | result |",
    "|---|---|---|---|",
    ...rows,
    ...(toL4 ? ["", "> Promotion to L4 makes the backend's check able to block merging: it needs approval by the upstream's core maintainers."] : []),
    "",
  ].join("\n");
  const short = verdicts.some((verdict) => verdict.verdict !== "meets");
  const failing = verdicts.some((verdict) => verdict.verdict === "fails");
  return {
    ...(short && { conclusion: failing ? policy : "neutral", headline: "a promoted backend misses its new level's requirements" }),
    summary,
    annotations: verdicts.map((verdict) => annotate(path, verdict, policy)),
  };
}

/** The reviewer the control plane runs on allowlist pull requests, reading a relay's own health view. */
export function promotionReviewer(options: { health: (days: number) => Promise<HealthView>; policy: PromotionHealthPolicy }): ChangeReviewer {
  return async (after, diff, path) => {
    if (diff.promoted.length === 0) return undefined;
    const byDays = new Map<number, Promise<ReadonlyMap<string, BackendStats>>>();
    const statsFor = (days: number) => {
      let stats = byDays.get(days);
      if (!stats) {
        stats = options.health(days).then((view) => new Map(view.backends.map((backend) => [backend.stats.downstreamRepo, backend.stats])));
        byDays.set(days, stats);
      }
      return stats;
    };
    return promotionFindings(path, await judgePromotions(after, diff, statsFor), options.policy);
  };
}
