// /hud: one section per level, each a table of its backends' health against the level's requirements.
import type { BackendHealth, SummaryView } from "../views.js";
import { repoName, type PageContext } from "./context.js";
import { attrs, externalLink, html, type SafeHtml } from "./html.js";
import { renderLayout } from "./layout.js";
import { emptyNote, judgement, levelBadge, notInAllowlistTag, relativeTime, tag, windowNote } from "./parts.js";
import {
  describeRequirement,
  formatMetric,
  METRIC_REQUIREMENTS,
  renderRequirements,
  requirementLabel,
  WEBHOOK_ONLY,
} from "./requirements.js";
import { apiPath, githubUrl, hudPath } from "./urls.js";

type SummaryLevel = SummaryView["levels"][number];

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

const HEADERS = [
  "Backend",
  "Downstream repo",
  "Verdict",
  ...METRIC_REQUIREMENTS.map((key) => capitalize(requirementLabel(key))),
  "Dispatches",
  "PRs",
  "Last run",
];

/** A measured value; highlighted, with the threshold in its tooltip, when it fails the level's requirement. */
function metricCell(key: (typeof METRIC_REQUIREMENTS)[number], health: BackendHealth): SafeHtml {
  const check = health.checks.find((candidate) => candidate.requirement === key);
  const title = check && `requirement: ${describeRequirement(key, check.threshold, "key")}`;
  // The ✗ says "fails" without relying on colour.
  const failing = check?.verdict === "fails";
  return html`<td${attrs({ class: failing ? "num fail" : "num", title })}>${formatMetric(key, health.stats)}${failing && " ✗"}</td>`;
}

function backendRow(health: BackendHealth, ctx: PageContext, days: number): SafeHtml {
  const { stats } = health;
  const repo = repoName(ctx, stats.downstreamRepo);
  const webhookOnly = !stats.collectsResults;
  const metrics = webhookOnly
    ? html`<td class="na" colspan="${METRIC_REQUIREMENTS.length}">${WEBHOOK_ONLY}</td>`
    : METRIC_REQUIREMENTS.map((key) => metricCell(key, health));
  const failedDispatches =
    stats.dispatchFailures > 0 && tag(`${stats.dispatchFailures} failed`, "bad", "dispatches the relay could not deliver");
  return html`<tr>
<th scope="row"><a href="${hudPath.backend(repo, days)}">${stats.backendName}</a>${!stats.inAllowlist && html` ${notInAllowlistTag()}`}</th>
<td>${externalLink(githubUrl.repo(ctx, repo), repo)}</td>
<td>${judgement(health)}</td>${metrics}
<td class="num">${stats.dispatches}${failedDispatches && html` ${failedDispatches}`}</td>
<td class="num">${webhookOnly ? "n/a" : stats.prs}</td>
<td>${relativeTime(stats.lastRunAt, ctx)}</td>
</tr>`;
}

function levelSection(level: SummaryLevel, ctx: PageContext, days: number): SafeHtml {
  const table =
    level.backends.length === 0
      ? emptyNote("No backends at this level.")
      : html`<div class="scroll"><table>
<thead><tr>${HEADERS.map((header) => html`<th scope="col">${header}</th>`)}</tr></thead>
<tbody>${level.backends.map((health) => backendRow(health, ctx, days))}</tbody>
</table></div>`;
  return html`<section id="level-${level.level}">
<h2>${levelBadge(level.level)} ${level.title}</h2>
${renderRequirements(level.requirements)}
${table}
</section>`;
}

export function renderSummaryPage(view: SummaryView, ctx: PageContext): string {
  const { days } = view.window;
  const body = html`<h1>Out-of-tree backends</h1>
${windowNote(view.window)}
${view.levels.map((level) => levelSection(level, ctx, days))}`;
  return renderLayout(
    { title: "Summary", nav: "summary", path: hudPath.summary(), days, jsonHref: apiPath.summary(days), body },
    ctx,
  );
}
