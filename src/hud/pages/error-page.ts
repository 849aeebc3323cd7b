// The HTML error page of the HUD routes (not found, bad range, ClickHouse unavailable, …).
import { STATUS_CODES } from "node:http";
import type { PageContext } from "./context.js";
import { html } from "./html.js";
import { renderLayout } from "./layout.js";
import { hudPath } from "./urls.js";

export function renderErrorPage(status: number, message: string, ctx: PageContext): string {
  const heading = `${status} ${STATUS_CODES[status] ?? "Error"}`;
  const body = html`<h1>${heading}</h1>
<p>${message}</p>
<p><a href="${hudPath.summary(ctx.days)}">Back to the summary</a></p>`;
  return renderLayout({ title: heading, nav: null, path: hudPath.summary(), jsonHref: null, body }, ctx);
}
