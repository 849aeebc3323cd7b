// The history grid (backend, trunk and L4 pages): rows of PR heads or commits × job columns, one glyph per
// cell, 50 rows a page with "← Newer" and "Older →" links.
import type { HistoryGrid, HistoryRow } from "../views.js";
import { columnLabels } from "./column-labels.js";
import type { PageContext } from "./context.js";
import { shorten } from "./format.js";
import { attrs, externalLink, html, type SafeHtml } from "./html.js";
import { jobGlyph, renderLegend } from "./job.js";
import { emptyNote, missingLabel, shortTime, tag } from "./parts.js";
import { githubUrl, hudPath, withParam } from "./urls.js";

const TITLE_SHOWN = 60;

/** Time, sha, title (with the missing marker when some cells did report), PR and author. */
function rowHeader(row: HistoryRow, ctx: PageContext, marker: SafeHtml | null): SafeHtml {
  const title =
    row.title === null
      ? html`<span class="muted">${row.eventType}</span>`
      : html`<span title="${row.title}">${shorten(row.title, TITLE_SHOWN)}</span>`;
  const pr =
    row.prNumber === null
      ? html`<span class="muted">–</span>`
      : html`${externalLink(githubUrl.pr(ctx, row.prNumber), `#${row.prNumber}`, { title: "on GitHub" })} <a href="${hudPath.pr(row.prNumber, row.headSha)}" title="out-of-tree CI of this head">hud</a>`;
  const sha = externalLink(githubUrl.commit(ctx, row.headSha), row.headSha.slice(0, 7), { title: row.headSha });
  return html`<td>${shortTime(row.at)}</td><td class="sha">${sha}</td><td class="title">${title}${marker && html` ${marker}`}</td><td>${pr}</td><td class="author">${row.author ?? ""}</td>`;
}

function renderRow(row: HistoryRow, columns: readonly string[], ctx: PageContext): SafeHtml {
  // hasOwn: column keys are downstream-chosen names, and "__proto__" or "constructor" must not reach Object.prototype.
  const cells = columns.map((column) => (Object.hasOwn(row.cells, column) ? row.cells[column] : undefined));
  const cellsHtml = cells.map((cell) => html`<td class="cell">${cell && jobGlyph(cell, true)}</td>`);
  if (row.missing === null) return html`<tr>${rowHeader(row, ctx, null)}${cellsHtml}</tr>`;
  // A forward-only backend's rows are expected to stay empty: a quiet note, not a warning.
  const quiet = row.missing.kind === "not_expected";
  const marker = tag(missingLabel(row.missing.kind), quiet ? "muted" : "warn", row.missing.detail);
  // Nothing came back at all (the usual case): the marker spans the row; otherwise it goes next to the title.
  const reportedNothing = cells.every((cell) => cell === undefined);
  const rowClass = quiet ? null : "missing";
  return reportedNothing
    ? html`<tr${attrs({ class: rowClass })}>${rowHeader(row, ctx, null)}<td class="missing-note" colspan="${Math.max(1, columns.length)}">${marker}</td></tr>`
    : html`<tr${attrs({ class: rowClass })}>${rowHeader(row, ctx, marker)}${cellsHtml}</tr>`;
}

/** Which column header shows what: the shortened label and the full `<workflow> / <job>`; nothing when no label is shortened. */
function columnLegend(columns: readonly string[], labels: ReturnType<typeof columnLabels>): SafeHtml | false {
  const shortened = labels.prefix !== "" || labels.labels.some((label, index) => label !== columns[index]);
  return (
    shortened &&
    html`<details class="columns"><summary>Column names${labels.prefix && html` (all start with <code>${labels.prefix}</code>)`}</summary><dl>${columns.map(
      (column, index) => html`<div><dt>${labels.labels[index]}</dt><dd>${column}</dd></div>`,
    )}</dl></details>`
  );
}

/** "← Newer" and "Older →" within the window; `path` is the page's own (with its days and level). */
function pager(page: HistoryGrid["page"], path: string): SafeHtml | false {
  if (page.newer === null && page.older === null) return false;
  return html`<nav class="pager" aria-label="Grid pages">${page.newer !== null && html`<a href="${withParam(path, "after", page.newer)}" rel="prev">← Newer</a>`}${
    page.older !== null && html`<a href="${withParam(path, "before", page.older)}" rel="next">Older →</a>`
  }</nav>`;
}

/**
 * The legend and the grid, in a scroll box so wide grids scroll sideways under a sticky header, and the
 * page links. Column headers are short and distinct (column-labels.ts), each with its full name as its
 * tooltip and in the column legend.
 */
export function renderHistoryGrid(grid: HistoryGrid, ctx: PageContext, path: string): SafeHtml {
  if (grid.rows.length === 0) return html`${emptyNote("No runs in this window.")}${pager(grid.page, path)}`;
  const labels = columnLabels(grid.columns);
  const columnHeaders =
    grid.columns.length === 0
      ? html`<th scope="col">Jobs</th>`
      : grid.columns.map((column, index) => html`<th scope="col" class="col" title="${column}"><span>${labels.labels[index]}</span></th>`);
  return html`${renderLegend()}${columnLegend(grid.columns, labels)}<div class="scroll"><table class="grid">
<thead><tr><th scope="col">Time</th><th scope="col">SHA</th><th scope="col">Title</th><th scope="col">PR</th><th scope="col" class="author">Author</th>${columnHeaders}</tr></thead>
<tbody>${grid.rows.map((row) => renderRow(row, grid.columns, ctx))}</tbody>
</table></div>${pager(grid.page, path)}`;
}
