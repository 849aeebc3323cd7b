// /hud/pr/<n>[?sha=]: the PR's "Out-of-Tree Backends" boxes for one head sha, like torchci's PR page.
import type { PrBackendBox, PrJobCell, PrView, TrunkMark } from "../views.js";
import { repoName, type PageContext } from "./context.js";
import { formatDuration, shorten } from "./format.js";
import { externalLink, html, type SafeHtml } from "./html.js";
import { formatTests, jobGlyph, jobHref, jobKind } from "./job.js";
import { renderLayout } from "./layout.js";
import { emptyNote, levelBadge, missingExplanation, tag } from "./parts.js";
import { apiPath, githubUrl, hudPath } from "./urls.js";

const FAILED_TESTS_SHOWN = 3;

const STATE_TAGS: Record<PrBackendBox["state"], SafeHtml> = {
  failing: tag("failing", "bad"),
  running: tag("running", "run"),
  passed: tag("passed", "ok"),
  missing: tag("expected, not reporting", "warn"),
};

/** "also failing on trunk" or "new failure", with the trunk commit it was compared with. */
function trunkBadge(mark: TrunkMark, ctx: PageContext): SafeHtml {
  const commit = externalLink(githubUrl.commit(ctx, mark.trunkSha), mark.trunkSha.slice(0, 7), { title: mark.trunkSha });
  if (mark.kind === "new") return html`${tag("new failure", "bad")} <span class="muted small">passes on trunk ${commit}</span>`;
  const newTests = mark.newTests.length;
  return html`${tag("also failing on trunk", "warn")} <span class="muted small">${commit}${mark.trunkUrl !== undefined && html` (${externalLink(mark.trunkUrl, "trunk job")})`}${
    newTests > 0 && `, ${newTests} new failed test${newTests === 1 ? "" : "s"}`
  }</span>`;
}

function jobLine(job: PrJobCell, ctx: PageContext): SafeHtml {
  const facts = [
    job.status === "in_progress" ? "running" : formatDuration(job.executionMs),
    job.tests && formatTests(job.tests),
    job.runAttempt > 1 && `attempt ${job.runAttempt}`,
  ].filter((fact): fact is string => typeof fact === "string");
  // When trunk fails some of the tests, the ones new with this PR come first and say so.
  const fresh = new Set(job.trunk?.kind === "partly" ? job.trunk.newTests : []);
  const tests = [...job.failedTests].sort((a, b) => Number(fresh.has(b)) - Number(fresh.has(a)));
  const failedTests = ["failure", "infra"].includes(jobKind(job)) ? tests.slice(0, FAILED_TESTS_SHOWN) : [];
  return html`<li>${jobGlyph(job, false)} ${externalLink(jobHref(job), `${job.workflowName} / ${job.jobName}`)} <span class="muted small">${facts.join(" · ")}</span>${
    job.trunk && html` ${trunkBadge(job.trunk, ctx)}`
  }${
    failedTests.length > 0 &&
    html`<div class="failed-tests">${failedTests.map((test) => html`<div title="${test}">${shorten(test, 90)}${fresh.has(test) && html` ${tag("new", "bad")}`}</div>`)}</div>`
  }</li>`;
}

/** One backend: its own level (never a default), its state, and its jobs or why there are none. */
function backendBox(box: PrBackendBox, ctx: PageContext): SafeHtml {
  // A box with `missing` set is "expected, not reporting" whatever else it has.
  const state = box.missing === null ? box.state : "missing";
  const jobs =
    box.jobs.length > 0
      ? html`<ul class="jobs">${box.jobs.map((job) => jobLine(job, ctx))}</ul>`
      : box.missing === null && emptyNote("No jobs reported.");
  const repo = repoName(ctx, box.downstreamRepo);
  return html`<section class="box state-${state}" aria-label="${box.backendName}">
<header><h3><a href="${hudPath.backend(repo, ctx.days)}">${box.backendName}</a></h3>${levelBadge(box.level)}${STATE_TAGS[state]}<span class="muted small">${repo}</span></header>
${box.missing && html`<p>${missingExplanation(box.missing)}</p>`}${
    box.trunk && html`<p class="muted small">${box.trunk.alsoOnTrunk} of ${box.trunk.failing} failure${box.trunk.failing === 1 ? "" : "s"} also on trunk</p>`
  }${jobs}
</section>`;
}

function header(view: PrView, ctx: PageContext): SafeHtml {
  const heads = view.shas.map((sha) =>
    sha === view.headSha
      ? html`<span aria-current="true" title="${sha}"><strong>${sha.slice(0, 7)}</strong></span>`
      : html`<a href="${hudPath.pr(view.prNumber, sha)}" title="${sha}">${sha.slice(0, 7)}</a>`,
  );
  return html`<h1>PR #${view.prNumber}${view.title !== null && html`: ${view.title}`}</h1>
<p>${view.author !== null && html`by ${externalLink(githubUrl.handle(ctx, view.author), view.author)} · `}${
    view.headSha !== null &&
    html`head ${externalLink(githubUrl.commit(ctx, view.headSha), view.headSha.slice(0, 7), { title: view.headSha })} · `
  }${externalLink(githubUrl.pr(ctx, view.prNumber), "open on GitHub")}</p>
${view.shas.length > 1 && html`<p class="shas">Heads (newest first): ${heads}</p>`}`;
}

export function renderPrPage(view: PrView, ctx: PageContext): string {
  // The PR's own repository, should it ever differ from the relay's default upstream.
  const prCtx = { ...ctx, upstreamRepo: view.upstreamRepo };
  const boxes = (list: readonly PrBackendBox[]) => html`<div class="boxes">${list.map((box) => backendBox(box, prCtx))}</div>`;
  const results =
    view.headSha === null
      ? emptyNote("No out-of-tree CI has been recorded for this PR.")
      : html`<section><h2>Out-of-Tree Backends</h2>
${view.gating.length === 0 ? emptyNote("No merge-gating (L4) or check-run (L3) backend ran on this head.") : boxes(view.gating)}
</section>
${view.hudOnly.length > 0 && html`<section class="hud-only"><h2>HUD only (L2)</h2><p class="muted small">Callback-only backends: their results are shown here, never on the PR.</p>${boxes(view.hudOnly)}</section>`}`;
  // Without ?sha= the page shows the newest head; the JSON link mirrors whichever head is shown.
  const pinnedSha = view.headSha !== null && view.headSha !== view.shas[0] ? view.headSha : null;
  return renderLayout(
    {
      title: `PR #${view.prNumber}`,
      nav: null,
      path: hudPath.pr(view.prNumber),
      jsonHref: apiPath.pr(view.prNumber, pinnedSha),
      body: html`${header(view, prCtx)}${results}`,
    },
    prCtx,
  );
}
