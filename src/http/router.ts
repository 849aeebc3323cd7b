// A minimal method+path router for the relay's own routes, mounted through Probot's `addHandler`.
// Paths are literal (`/readyz`) or have `:name` segments (`/hud/:owner/:repo`); where both match, the
// route with more literal segments wins (`/hud/pr/:number` over `/hud/:owner/:repo`).
import type { IncomingMessage, ServerResponse } from "node:http";

export type RouteParams = Readonly<Record<string, string>>;

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL, params: RouteParams) => void | Promise<void>;

export interface Route {
  method: "GET" | "POST";
  path: string;
  handler: RouteHandler;
}

/** The route's parameters when `pathname` matches its path, else undefined. */
function match(path: string, pathname: string): RouteParams | undefined {
  const want = path.split("/");
  const got = pathname.split("/");
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of want.entries()) {
    const actual = got[index]!;
    if (!segment.startsWith(":")) {
      if (segment !== actual) return undefined;
      continue;
    }
    if (actual === "") return undefined;
    try {
      params[segment.slice(1)] = decodeURIComponent(actual);
    } catch {
      return undefined; // malformed percent-encoding: no route matches
    }
  }
  return params;
}

const literalSegments = (path: string) => path.split("/").filter((segment) => !segment.startsWith(":")).length;

/**
 * Returns a Probot handler: true when the request was for one of `routes` (answered here, 405 for a
 * known path with another method), false to let Probot continue to its next handler (404).
 */
export function createRouter(routes: readonly Route[]) {
  const ordered = [...routes].sort((a, b) => literalSegments(b.path) - literalSegments(a.path));
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://relay.invalid");
    const matched = ordered.flatMap((route) => {
      const params = match(route.path, url.pathname);
      return params ? [{ route, params }] : [];
    });
    if (matched.length === 0) return false;
    // Only routes as specific as the best match count (a literal path shadows a parameterised one).
    const best = literalSegments(matched[0]!.route.path);
    const candidates = matched.filter(({ route }) => literalSegments(route.path) === best);
    const found = candidates.find(({ route }) => route.method === req.method);
    if (!found) {
      sendJson(res, 405, { error: `method ${req.method ?? "?"} not allowed on ${url.pathname}` }, {
        allow: [...new Set(candidates.map(({ route }) => route.method))].join(", "),
      });
      return true;
    }
    await found.route.handler(req, res, url, found.params);
    return true;
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}
