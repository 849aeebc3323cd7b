// The allowlist's level requirements as the pages show them: labels, thresholds, measured values and
// the per-backend checks. Thresholds and check values use the allowlist's units (rates as fractions,
// durations in seconds); BackendStats durations are milliseconds.
import type { LevelRequirements } from "../../allowlist/types.js";
import type { BackendStats, RequirementCheck } from "../views.js";
import { formatDuration, formatPercent, NA } from "./format.js";
import { html, join, type SafeHtml } from "./html.js";
import { verdictBadge } from "./parts.js";

export type RequirementKey = keyof LevelRequirements;

interface RequirementInfo {
  label: string;
  op: "≥" | "≤" | "=";
  unit: "rate" | "seconds" | "days";
}

/** In display order. */
const REQUIREMENTS: Record<RequirementKey, RequirementInfo> = {
  min_infra_availability: { label: "infra availability", op: "≥", unit: "rate" },
  min_test_pass_rate: { label: "test pass rate", op: "≥", unit: "rate" },
  min_success_rate: { label: "success rate", op: "≥", unit: "rate" },
  max_timeout_rate: { label: "timeout rate", op: "≤", unit: "rate" },
  max_queue_time_p50: { label: "queue p50", op: "≤", unit: "seconds" },
  max_queue_time_p90: { label: "queue p90", op: "≤", unit: "seconds" },
  max_run_time_p50: { label: "run p50", op: "≤", unit: "seconds" },
  max_run_time_p90: { label: "run p90", op: "≤", unit: "seconds" },
  max_pr_time_p90: { label: "PR time p90", op: "≤", unit: "seconds" },
  min_signal_validity: { label: "signal validity", op: "≥", unit: "rate" },
  window_days: { label: "window", op: "=", unit: "days" },
};

/** The measured requirements, in the order the summary table shows them as columns. */
export const METRIC_REQUIREMENTS = Object.keys(REQUIREMENTS).filter((key) => key !== "window_days") as Array<
  Exclude<RequirementKey, "window_days">
>;

/** Forward-only (L1) backends are sent webhooks and never call back: nothing measured from callbacks applies. */
export const WEBHOOK_ONLY = "n/a (webhook-only)";

export function requirementLabel(key: RequirementKey): string {
  return REQUIREMENTS[key].label;
}

/** A threshold or a measured value in the requirement's unit: "95%", "5m 00s", "7 days". */
export function formatRequirementValue(key: RequirementKey, value: number): string {
  const { unit } = REQUIREMENTS[key];
  if (unit === "rate") return formatPercent(value);
  if (unit === "seconds") return formatDuration(value * 1000);
  return `${value} days`;
}

/** "≥ 95%": the requirement's bound. */
export function requirementBound(key: RequirementKey, threshold: number): string {
  return `${REQUIREMENTS[key].op} ${formatRequirementValue(key, threshold)}`;
}

/** "min_test_pass_rate ≥ 95%" (style "key", as in the allowlist) or "test pass rate ≥ 95%" (style "label"). */
export function describeRequirement(key: RequirementKey, threshold: number, style: "key" | "label"): string {
  const { label, op } = REQUIREMENTS[key];
  return `${style === "key" ? key : label} ${op} ${formatRequirementValue(key, threshold)}`;
}

/** A backend's measured value for a requirement, formatted for a table cell. */
export function formatMetric(key: Exclude<RequirementKey, "window_days">, stats: BackendStats): string {
  switch (key) {
    case "min_infra_availability":
      return formatPercent(stats.infraAvailability);
    case "min_test_pass_rate":
      return formatPercent(stats.testPassRate);
    case "min_success_rate":
      return formatPercent(stats.successRate);
    case "max_timeout_rate":
      return formatPercent(stats.timeoutRate);
    case "max_queue_time_p50":
      return formatDuration(stats.queueMs.p50);
    case "max_queue_time_p90":
      return formatDuration(stats.queueMs.p90);
    case "max_run_time_p50":
      return formatDuration(stats.executionMs.p50);
    case "max_run_time_p90":
      return formatDuration(stats.executionMs.p90);
    case "max_pr_time_p90":
      return formatDuration(stats.prTimeMs.p90);
    case "min_signal_validity":
      return formatPercent(stats.signalValidity);
  }
}

/** A level's requirements on one line: "test pass rate ≥ 95% · queue p50 ≤ 5m 00s · window = 7 days". */
export function renderRequirements(requirements: LevelRequirements): SafeHtml {
  const parts = (Object.keys(REQUIREMENTS) as RequirementKey[]).flatMap((key) => {
    const threshold = requirements[key];
    return threshold === undefined ? [] : [html`<span title="${key}">${describeRequirement(key, threshold, "label")}</span>`];
  });
  return parts.length === 0
    ? html`<p class="requirements muted">No requirements set for this level.</p>`
    : html`<p class="requirements"><span class="muted">Requirements:</span> ${join(parts, " · ")}</p>`;
}

/** The backend page's list of requirement checks, each with its verdict and measured value. */
export function renderChecks(checks: readonly RequirementCheck[]): SafeHtml {
  if (checks.length === 0) return html`<p class="muted">No requirements set for this level.</p>`;
  return html`<ul class="checks">${checks.map(
    (check) =>
      html`<li class="check-${check.verdict}">${verdictBadge(check.verdict)} <span title="${check.requirement}">${describeRequirement(
        check.requirement,
        check.threshold,
        "label",
      )}</span> <span class="muted">measured</span> ${check.actual === null ? NA : formatRequirementValue(check.requirement, check.actual)}</li>`,
  )}</ul>`;
}
