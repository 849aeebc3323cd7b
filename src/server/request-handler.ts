// The top-level request handler: security headers and the access log for every response, then the
// handlers the app added (the relay's router, webhook route included), then 404.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { ApplicationFunctionOptions } from "probot";
import type { Logger } from "pino";
import { sendJson } from "../http/router.js";
import { logAccess } from "../http/access-log.js";

export type Handler = Parameters<ApplicationFunctionOptions["addHandler"]>[0];

export function createRequestHandler(handlers: readonly Handler[], log: Logger): RequestListener {
  const accessLog = log.child({ component: "http" });
  return (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    logAccess(accessLog, req, res);
    handle(handlers, req, res).catch((error: unknown) => {
      log.error({ err: error, method: req.method, path: (req.url ?? "/").split("?")[0] }, "request handler failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  };
}

async function handle(handlers: readonly Handler[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const handler of handlers) {
    if (await handler(req, res)) return;
  }
  if (!res.headersSent) sendJson(res, 404, { error: "not found" });
}
