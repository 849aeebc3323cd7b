// The HUD's HTTP surface: server-rendered pages under /hud and their JSON mirrors under /api/hud.
// Query strings are validated (zod) and answered 400 with the problem; a ClickHouse outage is a 503.
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import { LEVELS } from "../allowlist/types.js";
import { isRepoSlug } from "../github/repo-name.js";
import { daysParam, parseQuery } from "../http/query.js";
import { sendJson, type Route, type RouteParams } from "../http/router.js";
import { ChdbMissingError } from "./clickhouse.js";
import { CURSOR_PATTERN, NEWEST, parseCursor, type PageRequest, type RowKey } from "./grid.js";
import type { PageContext } from "./pages/context.js";
import { renderBackendPage } from "./pages/backend-page.js";
import { renderErrorPage } from "./pages/error-page.js";
import { renderPrPage } from "./pages/pr-page.js";
import { renderSummaryPage } from "./pages/summary-page.js";
import { renderTrunkPage } from "./pages/trunk-page.js";
import { renderHealthPage } from "./pages/health-page.js";
import type { HudService } from "./service.js";

export interface HudRouteOptions {
  service: HudService;
  upstreamRepo: string;
  webBaseUrl: string;
  log: Pick<Logger, "error">;
  now?: () => number;
}

export const DEFAULT_DAYS = 7;
const MAX_DAYS = 90;

const Days = daysParam(MAX_DAYS, DEFAULT_DAYS);
const WindowQuery = z.strictObject({ days: Days });

/** `before`/`after`: a history-grid cursor, as the "Older →" and "← Newer" links (and the JSON's page) give it. */
function cursorParam(name: "before" | "after") {
  const problem = `${name} must be a row cursor as the ${name === "before" ? "Older" : "Newer"} link gives it: <time in ms>_<PR number, 0 for a push>_<head sha>`;
  return z
    .string()
    .regex(CURSOR_PATTERN, { error: problem })
    .transform((text): RowKey => parseCursor(text)!)
    .optional();
}
/** Grid pages take the window and at most one cursor. */
type Cursors = { before?: RowKey | undefined; after?: RowKey | undefined };
const Paging = { before: cursorParam("before"), after: cursorParam("after") };
const oneCursor = (query: Cursors) => !(query.before && query.after);
const ONE_CURSOR = { error: "give before or after, not both" };
const pageOf = ({ before, after }: Cursors): PageRequest => (before ? { before } : after ? { after } : NEWEST);
const GridQuery = z.strictObject({ days: Days, ...Paging }).refine(oneCursor, ONE_CURSOR);
const TrunkQuery = z
  .strictObject({ days: Days, level: z.enum(LEVELS, { error: `level must be one of ${LEVELS.join(", ")}` }).optional(), ...Paging })
  .refine(oneCursor, ONE_CURSOR);
const PrQuery = z.strictObject({ sha: z.string().regex(/^[0-9a-f]{7,40}$/i, { error: "sha must be 7 to 40 hexadecimal characters" }).optional() });
const PrNumber = z.coerce.number().int().positive().max(2 ** 31 - 1);
/** Weeks of the health trend: up to 13 (a quarter; the callback audit keeps 90 days). */
const WEEKS_PROBLEM = { error: "weeks must be a whole number of weeks from 1 to 13" };
const TrendQuery = z.strictObject({ weeks: z.coerce.number(WEEKS_PROBLEM).int(WEEKS_PROBLEM).min(1, WEEKS_PROBLEM).max(13, WEEKS_PROBLEM).default(8) });

class BadRequest extends Error {}
class NotFound extends Error {}

/** The validated query string; a problem is a 400. */
function queryOf<T extends z.ZodType>(schema: T, url: URL): z.output<T> {
  const parsed = parseQuery(schema, url);
  if (!parsed.ok) throw new BadRequest(parsed.problem);
  return parsed.value;
}

function prNumber(params: RouteParams): number {
  const parsed = PrNumber.safeParse(params.number);
  if (!parsed.success) throw new BadRequest(`${JSON.stringify(params.number)} is not a pull request number`);
  return parsed.data;
}

function repoOf(params: RouteParams): string {
  const repo = `${params.owner}/${params.repo}`;
  if (!isRepoSlug(repo)) throw new BadRequest(`${JSON.stringify(repo)} is not an owner/repo name`);
  return repo;
}

// Pages carry no script and load nothing: the policy forbids both, so injected markup could not run.
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-cache",
};

export function hudRoutes(options: HudRouteOptions): Route[] {
  const { service } = options;
  const context = (days?: number): PageContext => ({
    upstreamRepo: options.upstreamRepo,
    webBaseUrl: options.webBaseUrl,
    generatedAt: new Date((options.now ?? Date.now)()).toISOString(),
    repoName: (repo) => service.repoName(repo),
    ...(days !== undefined && { days }),
  });

  /** One page and its JSON mirror from one view loader. */
  function pair<V>(
    paths: { page: string; api: string },
    load: (url: URL, params: RouteParams) => Promise<{ view: V; days?: number }>,
    render: (view: V, ctx: PageContext) => string,
  ): Route[] {
    return [
      { method: "GET", path: paths.page, handler: (_req, res, url, params) => answer(res, "page", () => load(url, params), render) },
      { method: "GET", path: paths.api, handler: (_req, res, url, params) => answer(res, "json", () => load(url, params), render) },
    ];
  }

  async function answer<V>(
    res: ServerResponse,
    kind: "page" | "json",
    load: () => Promise<{ view: V; days?: number }>,
    render: (view: V, ctx: PageContext) => string,
  ): Promise<void> {
    let status = 200;
    let loaded: { view: V; days?: number } | undefined;
    let message = "";
    try {
      loaded = await load();
    } catch (error) {
      if (error instanceof BadRequest) [status, message] = [400, error.message];
      else if (error instanceof NotFound) [status, message] = [404, error.message];
      else if (error instanceof ChdbMissingError) [status, message] = [503, error.message];
      else {
        options.log.error({ err: error }, "HUD query failed");
        [status, message] = [503, "the HUD database is unavailable right now; results are kept and will appear once it is back"];
      }
    }
    if (kind === "json") {
      sendJson(res, status, loaded ? loaded.view : { error: message });
      return;
    }
    const body = loaded ? render(loaded.view, context(loaded.days)) : renderErrorPage(status, message, context());
    res.writeHead(status, { ...PAGE_HEADERS, "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  return [
    // The relay's front page is the HUD (a configured relay has no other page to show at its root).
    {
      method: "GET",
      path: "/",
      handler: (_req, res) => {
        res.writeHead(302, { location: "/hud", "content-length": 0, "cache-control": "no-store" });
        res.end();
      },
    },
    // JSON only: `cross-repo-ci-relay health` and scripts read it; the pages show the same figures per level and backend.
    {
      method: "GET",
      path: "/api/hud/health",
      handler: (_req, res, url) =>
        answer(
          res,
          "json",
          async () => {
            const { days } = queryOf(WindowQuery, url);
            return { view: await service.health(days), days };
          },
          () => "",
        ),
    },
    ...pair(
      { page: "/hud/health", api: "/api/hud/health/weekly" },
      async (url) => ({ view: await service.healthByWeek(queryOf(TrendQuery, url).weeks) }),
      renderHealthPage,
    ),
    ...pair(
      { page: "/hud", api: "/api/hud/summary" },
      async (url) => {
        const { days } = queryOf(WindowQuery, url);
        return { view: await service.summary(days), days };
      },
      renderSummaryPage,
    ),
    ...pair(
      { page: "/hud/trunk", api: "/api/hud/trunk" },
      async (url) => {
        const { days, level, ...cursor } = queryOf(TrunkQuery, url);
        return { view: await service.trunk(days, level, pageOf(cursor)), days };
      },
      renderTrunkPage,
    ),
    ...pair(
      { page: "/hud/l4", api: "/api/hud/l4" },
      async (url) => {
        const { days, ...cursor } = queryOf(GridQuery, url);
        return { view: await service.trunk(days, "L4", pageOf(cursor)), days };
      },
      renderTrunkPage,
    ),
    ...pair(
      { page: "/hud/pr/:number", api: "/api/hud/pr/:number" },
      async (url, params) => {
        const number = prNumber(params);
        const { sha } = queryOf(PrQuery, url);
        return { view: await service.pr(number, sha?.toLowerCase()) };
      },
      renderPrPage,
    ),
    ...pair(
      { page: "/hud/:owner/:repo", api: "/api/hud/backends/:owner/:repo" },
      async (url, params) => {
        const repo = repoOf(params);
        const { days, ...cursor } = queryOf(GridQuery, url);
        const view = await service.backend(repo, days, pageOf(cursor));
        if (!view) throw new NotFound(`${repo} is not in the allowlist and has no results in the last ${days} days`);
        return { view, days };
      },
      renderBackendPage,
    ),
  ];
}
