// /hud/trunk and /hud/l4: the history grid of commits on trunk × every backend's jobs (L4 only for /hud/l4).
import type { TrunkView } from "../views.js";
import type { PageContext } from "./context.js";
import { renderHistoryGrid } from "./grid.js";
import { html } from "./html.js";
import { renderLayout } from "./layout.js";
import { windowNote } from "./parts.js";
import { apiPath, hudPath } from "./urls.js";

export function renderTrunkPage(view: TrunkView, ctx: PageContext): string {
  const { days } = view.window;
  const l4 = view.level === "L4";
  const title = l4 ? "Merge-gating backends on trunk" : "Trunk";
  const scope = l4
    ? "Level L4 backends only: their failures block merges."
    : view.level === null
      ? "Every backend."
      : `Level ${view.level} backends only.`;
  const body = html`<h1>${title}</h1>
<p>${scope} Columns are <em>backend · workflow / job</em>.</p>
${windowNote(view.window)}
${renderHistoryGrid(view.history, ctx, l4 ? hudPath.l4(days) : hudPath.trunk(days, view.level))}`;
  return renderLayout(
    {
      title,
      nav: l4 ? "l4" : "trunk",
      path: l4 ? hudPath.l4() : hudPath.trunk(undefined, view.level),
      days,
      jsonHref: apiPath.trunk(days, view.level),
      body,
    },
    ctx,
  );
}
