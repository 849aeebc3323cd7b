// /hud/health: each backend's verdict week by week (against its level, and the next), with the figures
// behind it: a trend a maintainer reads before promoting or demoting a backend (docs/levels.md).
import type { HealthTrendView, WeekHealth } from "../views.js";
import { repoName, type PageContext } from "./context.js";
import { formatDuration, formatPercent, formatShortTime } from "./format.js";
import { attrs, html, type SafeHtml } from "./html.js";
import { renderLayout } from "./layout.js";
import { emptyNote, judgement, levelBadge, notInAllowlistTag, verdictBadge } from "./parts.js";
import { apiPath, hudPath } from "./urls.js";

const VERDICT_TEXT = { meets: "meets", fails: "fails", no_data: "no data" } as const;

/** One week's cell: the verdict, test pass rate and availability; every figure in the tooltip. */
function weekCell(week: WeekHealth, nextLevel: string | null, collectsResults: boolean): SafeHtml {
  const title = [
    `infra availability ${formatPercent(week.infraAvailability)}`,
    `test pass rate ${formatPercent(week.testPassRate)}`,
    `queue p90 ${formatDuration(week.queueP90Ms)}`,
    `PR time p90 ${formatDuration(week.prTimeP90Ms)}`,
    `signal validity ${formatPercent(week.signalValidity)}`,
    `${week.jobs} jobs, ${week.dispatches} dispatches`,
    ...(nextLevel && week.next ? [`against ${nextLevel}: ${VERDICT_TEXT[week.next]}`] : []),
  ].join(" · ");
  const figures = collectsResults ? html`<br><span class="muted">${formatPercent(week.testPassRate)} pass · ${formatPercent(week.infraAvailability)} avail</span>` : "";
  return html`<td${attrs({ class: week.verdict === "fails" ? "fail" : undefined, title })}>${judgement(week)}${figures}</td>`;
}

export function renderHealthPage(view: HealthTrendView, ctx: PageContext): string {
  const weeks = view.windows.length;
  const header = view.windows.map((window) => html`<th scope="col" title="${window.from} to ${window.to}">week to ${formatShortTime(window.to)}</th>`);
  const rows = view.backends.map((backend) => {
    const latest = backend.weeks.at(-1);
    const next = backend.nextLevel && latest?.next ? html`${levelBadge(backend.nextLevel)} ${verdictBadge(latest.next)}` : html`<span class="muted">—</span>`;
    return html`<tr>
<th scope="row"><a href="${hudPath.backend(repoName(ctx, backend.downstreamRepo))}">${backend.backendName}</a>${!backend.inAllowlist && html` ${notInAllowlistTag()}`}</th>
<td>${levelBadge(backend.level)}</td>${backend.weeks.map((week) => weekCell(week, backend.nextLevel, backend.collectsResults))}
<td>${next}</td>
</tr>`;
  });
  const table =
    view.backends.length === 0
      ? emptyNote("No backends in the allowlist and no results in these weeks.")
      : html`<div class="scroll from-end"><table class="weeks">
<thead><tr><th scope="col">Backend</th><th scope="col">Level</th>${header}<th scope="col">Next level (latest week)</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
  const body = html`<h1>Backend health, week by week</h1>
<p class="muted">Each backend against its level's requirements over each of the last ${weeks} weeks (oldest first), and against the next level's over the latest week. Hover a week for its figures; how they are computed is in the relay's docs/levels.md.</p>
${table}`;
  return renderLayout({ title: "Health", nav: "health", path: hudPath.health(), jsonHref: apiPath.healthWeekly(weeks), body }, ctx);
}
