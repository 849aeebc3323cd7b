// One log line per request: method, path (never the query string), status, duration, delivery id.
// Never headers: they carry bearer tokens and signatures.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";

// Responses whose handler already wrote the request's one line (a refused webhook delivery, say).
const loggedByHandler = new WeakSet<ServerResponse>();

/** Marks `res` as logged by its handler, so the access log adds no second line for it. */
export function markLogged(res: ServerResponse): void {
  loggedByHandler.add(res);
}

export function logAccess(log: Logger, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  res.once("close", () => {
    if (loggedByHandler.has(res)) return;
    const delivery = req.headers["x-github-delivery"];
    // Nothing was answered when the client left (or a timeout dropped it) before the headers went out.
    const status = res.headersSent ? res.statusCode : undefined;
    const line = {
      method: req.method,
      path: (req.url ?? "/").split("?")[0],
      status,
      ms: Math.round(performance.now() - started),
      ...(typeof delivery === "string" && { delivery }),
      ...(!res.writableFinished && { aborted: true }),
    };
    log.info(line, `${line.method} ${line.path} ${status ?? "aborted"} - ${line.ms}ms`);
  });
}
