// The page shell: head with the inline stylesheet, the top nav and range selector, and the footer.
import type { PageContext } from "./context.js";
import { formatTime } from "./format.js";
import { attrs, externalLink, html, raw, type SafeHtml } from "./html.js";
import { STYLESHEET } from "./styles.js";
import { githubUrl, hudPath, withParam } from "./urls.js";

export type NavKey = "summary" | "l4" | "trunk" | "health";

export interface Page {
  title: string;
  /** The nav entry this page is (marked as current), if any. */
  nav: NavKey | null;
  /** The page's own path (with the query that picks what it shows, if any); the range selector links to it with each range. */
  path: string;
  /** The window shown, in days; undefined for pages without one (they get no range selector). */
  days?: number;
  /** The page's JSON mirror, linked from the footer. */
  jsonHref: string | null;
  body: SafeHtml;
}

const RANGES = [1, 7, 30];

const NAV: Array<{ key: NavKey; label: string; href: (days?: number) => string }> = [
  { key: "summary", label: "Summary", href: hudPath.summary },
  { key: "l4", label: "Main (L4)", href: hudPath.l4 },
  { key: "trunk", label: "Trunk", href: hudPath.trunk },
  { key: "health", label: "Health", href: () => hudPath.health() },
];

function rangeSelector(path: string, days: number): SafeHtml {
  return html`<div class="range">Range: ${RANGES.map((range) =>
    range === days
      ? html`<span aria-current="true"><strong>${range}d</strong></span>`
      : html`<a href="${withParam(path, "days", String(range))}">${range}d</a>`,
  )}</div>`;
}

export function renderLayout(page: Page, ctx: PageContext): string {
  const days = page.days ?? ctx.days;
  const nav = NAV.map(
    ({ key, label, href }) => html`<a${attrs({ href: href(days), "aria-current": key === page.nav ? "page" : null })}>${label}</a>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · Out-of-tree CI HUD</title>
<style>${raw(STYLESHEET)}</style>
</head>
<body>
<header class="top"><span class="brand">Out-of-tree CI · ${ctx.upstreamRepo}</span><nav aria-label="HUD pages">${nav}</nav>${page.days !== undefined && rangeSelector(page.path, page.days)}</header>
<main>
${page.body}
</main>
<footer>${page.jsonHref !== null && html`<a href="${page.jsonHref}">JSON</a> · `}Generated <time datetime="${ctx.generatedAt}">${formatTime(ctx.generatedAt)}</time> for ${externalLink(githubUrl.repo(ctx, ctx.upstreamRepo), ctx.upstreamRepo)}</footer>
</body>
</html>
`.markup;
}
