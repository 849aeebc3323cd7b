// One job attempt as a glyph (history-grid cells and PR boxes): its kind, colour, tooltip and link.
import type { JobCell } from "../views.js";
import { formatDuration, formatShortTime, shorten } from "./format.js";
import { attrs, html, httpUrl, type SafeHtml } from "./html.js";

export type JobKind = "success" | "failure" | "infra" | "timed_out" | "running" | "cancelled" | "skipped" | "neutral";

/** In legend order. */
const KINDS: Record<JobKind, { glyph: string; label: string }> = {
  success: { glyph: "✓", label: "success" },
  failure: { glyph: "✗", label: "failure" },
  infra: { glyph: "⚠", label: "infra failure" },
  timed_out: { glyph: "⊠", label: "timed out" },
  running: { glyph: "◷", label: "in progress" },
  cancelled: { glyph: "⊘", label: "cancelled" },
  skipped: { glyph: "–", label: "skipped" },
  neutral: { glyph: "○", label: "neutral" },
};

const FAILED_TESTS_SHOWN = 5;
const SUMMARY_SHOWN = 200;

/**
 * Any conclusion not named here (action_required, stale, startup_failure, or none on a completed job)
 * shows as a failure, as the check-run roll-up counts it: never green for something that did not pass.
 */
export function jobKind(job: JobCell): JobKind {
  if (job.status === "in_progress") return "running";
  switch (job.conclusion) {
    case "success":
    case "timed_out":
    case "cancelled":
    case "skipped":
    case "neutral":
      return job.conclusion;
    default:
      return job.failureKind === "infra" ? "infra" : "failure";
  }
}

/** The job's own page, else its workflow run's; null when neither is an http(s) URL. */
export function jobHref(job: JobCell): string | null {
  return httpUrl(job.jobUrl) ?? httpUrl(job.workflowUrl);
}

/** "125/128 passed, 3 failed, 0 skipped". */
export function formatTests(tests: NonNullable<JobCell["tests"]>): string {
  return `${tests.passed}/${tests.total} passed, ${tests.failed} failed, ${tests.skipped} skipped`;
}

/** Plain-text tooltip, one fact per line (browsers show the newlines). */
function jobTooltip(job: JobCell): string {
  const failed = job.failedTests.slice(0, FAILED_TESTS_SHOWN);
  const more = job.failedTests.length - failed.length;
  const lines = [
    `${job.workflowName} / ${job.jobName}`,
    `status: ${job.status}${job.conclusion === null ? "" : `, conclusion: ${job.conclusion}`} (attempt ${job.runAttempt})`,
    job.status === "in_progress"
      ? `started: ${job.startedAt === null ? "not yet" : formatShortTime(job.startedAt)}`
      : `duration: ${formatDuration(job.executionMs)}`,
    `queue: ${formatDuration(job.queueMs)}`,
    job.tests && `tests: ${formatTests(job.tests)}`,
    job.failureKind && `failure kind: ${job.failureKind}`,
    failed.length > 0 && `failed tests:\n  ${failed.join("\n  ")}${more > 0 ? `\n  (+${more} more)` : ""}`,
    job.summary && `summary: ${shorten(job.summary, SUMMARY_SHOWN)}`,
    Object.keys(job.environment).length > 0 && `ran on: ${Object.entries(job.environment).map(([key, value]) => `${key}=${value}`).join(", ")}`,
    job.artifactUrl && `artifacts: ${job.artifactUrl}`,
  ];
  return lines.filter((line): line is string => typeof line === "string" && line !== "").join("\n");
}

/** The coloured glyph with its tooltip; `linked` makes it the link to the job (grid cells). */
export function jobGlyph(job: JobCell, linked: boolean): SafeHtml {
  const kind = jobKind(job);
  const { glyph, label } = KINDS[kind];
  const href = linked ? jobHref(job) : null;
  const attributes = attrs({
    href,
    class: `glyph k-${kind}`,
    title: jobTooltip(job),
    // A span needs a role for screen readers to announce its label.
    role: href === null ? "img" : null,
    "aria-label": `${label}, attempt ${job.runAttempt}`,
  });
  return href === null ? html`<span${attributes}>${glyph}</span>` : html`<a${attributes}>${glyph}</a>`;
}

/** What the glyphs mean, plus the marker of rows whose backend never reported. */
export function renderLegend(): SafeHtml {
  return html`<p class="legend">${(Object.keys(KINDS) as JobKind[]).map(
    (kind) => html`<span><span class="glyph k-${kind}" aria-hidden="true">${KINDS[kind].glyph}</span> ${KINDS[kind].label}</span>`,
  )}<span><span class="missing-swatch" aria-hidden="true"></span> dispatched, no report</span></p>`;
}
