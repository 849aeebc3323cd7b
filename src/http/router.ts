// A minimal method+path router for the relay's own routes, mounted through Probot's `addHandler`.
import type { IncomingMessage, ServerResponse } from "node:http";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface Route {
  method: "GET" | "POST";
  path: string;
  handler: RouteHandler;
}

/**
 * Returns a Probot handler: true when the request was for one of `routes` (answered here, 405 for a
 * known path with another method), false to let Probot continue to its next handler (404).
 */
export function createRouter(routes: readonly Route[]) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://relay.invalid");
    const forPath = routes.filter((route) => route.path === url.pathname);
    if (forPath.length === 0) return false;
    const route = forPath.find((candidate) => candidate.method === req.method);
    if (!route) {
      sendJson(res, 405, { error: `method ${req.method ?? "?"} not allowed on ${url.pathname}` }, {
        allow: forPath.map((candidate) => candidate.method).join(", "),
      });
      return true;
    }
    await route.handler(req, res, url);
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
