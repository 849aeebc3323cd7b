// /hud/<owner>/<repo>: one backend's cards, requirement checks, daily charts and history grid.
import type { BackendStats, BackendView } from "../views.js";
import { repoName, type PageContext } from "./context.js";
import { formatDuration, formatPercent } from "./format.js";
import { externalLink, html, join, type SafeHtml } from "./html.js";
import { renderHistoryGrid } from "./grid.js";
import { renderLayout } from "./layout.js";
import { judgement, levelBadge, notInAllowlistTag, relativeTime, windowNote } from "./parts.js";
import { renderChecks, WEBHOOK_ONLY } from "./requirements.js";
import { renderAvailabilityChart, renderPassRateChart, renderQueueChart, renderRunTimeChart } from "./svg.js";
import { apiPath, githubUrl, hudPath } from "./urls.js";

interface Card {
  label: string;
  value: string;
  detail: string;
  /** Measured from callbacks, so not applicable to a webhook-only backend. */
  fromCallbacks: boolean;
}

function cards(stats: BackendStats): Card[] {
  const percentiles = (p: BackendStats["queueMs"]) => `p50 ${formatDuration(p.p50)} · p90 ${formatDuration(p.p90)} · ${p.samples} jobs`;
  const otherFailures = stats.testFailures + stats.infraFailures - stats.timedOut;
  return [
    {
      label: "Test pass rate",
      value: formatPercent(stats.testPassRate),
      detail: `${stats.succeeded} passed, ${stats.testFailures} broke tests`,
      fromCallbacks: true,
    },
    {
      label: "Infra availability",
      value: formatPercent(stats.infraAvailability),
      detail: `${stats.available} of ${stats.available + stats.unavailable} dispatches`,
      fromCallbacks: true,
    },
    { label: "PRs", value: String(stats.prs), detail: `${stats.jobs} jobs`, fromCallbacks: true },
    {
      label: "Failures + timed out",
      value: `${otherFailures} + ${stats.timedOut}`,
      detail: `${stats.testFailures} test, ${stats.infraFailures - stats.timedOut} infra`,
      fromCallbacks: true,
    },
    {
      label: "Avg queue (dispatch to start)",
      value: formatDuration(stats.queueMs.avg),
      detail: percentiles(stats.queueMs),
      fromCallbacks: true,
    },
    {
      label: "Avg execution",
      value: formatDuration(stats.executionMs.avg),
      detail: percentiles(stats.executionMs),
      fromCallbacks: true,
    },
    { label: "Timeout rate", value: formatPercent(stats.timeoutRate), detail: `${stats.timedOut} of ${stats.completed} finished jobs timed out`, fromCallbacks: true },
    {
      label: "Dispatches",
      value: String(stats.dispatches),
      detail: `${stats.dispatchFailures} could not be delivered`,
      fromCallbacks: false,
    },
  ];
}

function renderCards(stats: BackendStats): SafeHtml {
  const webhookOnly = !stats.collectsResults;
  return html`<div class="cards">${cards(stats).map((card) => {
    const na = webhookOnly && card.fromCallbacks;
    return html`<div class="card"><div class="label">${card.label}</div><div class="value${na ? " na" : ""}">${na ? WEBHOOK_ONLY : card.value}</div>${!na && html`<div class="detail">${card.detail}</div>`}</div>`;
  })}</div>`;
}

function oncallLinks(oncalls: readonly string[], ctx: PageContext): SafeHtml {
  if (oncalls.length === 0) return html`<span class="muted">none listed</span>`;
  return join(
    oncalls.map((handle) => externalLink(githubUrl.handle(ctx, handle), `@${handle}`)),
    ", ",
  );
}

export function renderBackendPage(view: BackendView, ctx: PageContext): string {
  const { stats } = view.health;
  const { days } = view.window;
  const repo = repoName(ctx, stats.downstreamRepo);
  const body = html`<h1>${stats.backendName} ${levelBadge(stats.level)} ${judgement(view.health)}${!stats.inAllowlist && html` ${notInAllowlistTag()}`}</h1>
<p>Downstream ${externalLink(githubUrl.repo(ctx, repo), repo)} · Oncalls: ${oncallLinks(view.oncalls, ctx)} · Last run ${relativeTime(stats.lastRunAt, ctx)}</p>
${windowNote(view.window)}
${renderCards(stats)}
<h2>Requirements</h2>
${renderChecks(view.health.checks)}
<h2>Daily</h2>
${
  !stats.collectsResults
    ? html`<p class="muted">${WEBHOOK_ONLY}: this backend receives webhooks and reports no results.</p>`
    : html`<div class="charts">${renderPassRateChart(view.daily)}${renderAvailabilityChart(view.daily)}${renderQueueChart(view.daily)}${renderRunTimeChart(view.daily)}</div>`
}
<h2>Recent runs</h2>
${renderHistoryGrid(view.history, ctx, hudPath.backend(repo, days))}`;
  return renderLayout(
    {
      title: stats.backendName,
      nav: null,
      path: hudPath.backend(repo),
      days,
      jsonHref: apiPath.backend(repo, days),
      body,
    },
    ctx,
  );
}
