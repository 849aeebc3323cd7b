// `cross-repo-ci-relay health` output (pure): the health view as an aligned text table or a GitHub markdown table,
// one row per backend, with what keeps it from its level and from the next.
import { formatMetric, describeRequirement, METRIC_REQUIREMENTS, requirementLabel } from "../hud/pages/requirements.js";
import type { BackendHealth, HealthView, RequirementCheck } from "../hud/views.js";

/** The figures shown, in this order: availability, pass and success rates, timeouts, the p90 durations, signal validity. */
const FIGURES = METRIC_REQUIREMENTS.filter((key) => !key.endsWith("_p50"));

const HEADERS = ["backend", "repo", "level", "verdict", "next", ...FIGURES.map(requirementLabel), "misses"];

/** "test pass rate ≥ 95% (91.2%)" for each failing check; "" when none fails. */
function misses(checks: readonly RequirementCheck[]): string {
  return checks
    .filter((check) => check.verdict === "fails")
    .map((check) => describeRequirement(check.requirement, check.threshold, "label"))
    .join("; ");
}

function row(health: BackendHealth): string[] {
  const { stats, next } = health;
  const missing = [misses(health.checks), next && misses(next.checks) ? `for ${next.level}: ${misses(next.checks)}` : ""].filter(Boolean);
  return [
    stats.backendName,
    stats.downstreamRepo + (stats.inAllowlist ? "" : " (not in the allowlist)"),
    stats.level,
    health.verdict.replace("_", " "),
    next ? `${next.level}: ${next.verdict.replace("_", " ")}` : "-",
    ...FIGURES.map((key) => (stats.collectsResults || key === "min_signal_validity" ? formatMetric(key, stats) : "n/a")),
    missing.join("; ") || "-",
  ];
}

function heading(view: HealthView): string {
  return `Backend health over ${view.window.days} day${view.window.days === 1 ? "" : "s"} (${view.window.from} to ${view.window.to})`;
}

/** Columns padded to their widest cell; the misses column last, unpadded. */
export function formatHealthTable(view: HealthView): string {
  if (view.backends.length === 0) return `${heading(view)}\n\nNo backends in the allowlist and no results in the window.\n`;
  const rows = [HEADERS, ...view.backends.map(row)];
  const widths = HEADERS.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ");
  return `${heading(view)}\n\n${rows.map(line).join("\n")}\n`;
}

/** A GitHub-flavoured table (for an issue, a PR comment or a job summary). */
export function formatHealthMarkdown(view: HealthView): string {
  const escape = (cell: string) => cell.replaceAll("|", "\\|");
  const lines = [
    `### ${heading(view)}`,
    "",
    `| ${HEADERS.join(" | ")} |`,
    `|${HEADERS.map(() => "---").join("|")}|`,
    ...view.backends.map((health) => `| ${row(health).map(escape).join(" | ")} |`),
  ];
  if (view.backends.length === 0) lines.push("", "No backends in the allowlist and no results in the window.");
  return `${lines.join("\n")}\n`;
}
