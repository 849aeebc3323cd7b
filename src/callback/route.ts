// POST /relay/callback: downstream results. Every answer carries a specific message; nothing here
// crashes the process, and a 2xx is sent only after the state change is stored.
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { sendJson, type Route } from "../http/router.js";
import type { SlidingWindowLimiter } from "../limits/sliding-window.js";
import type { RelayMetrics } from "../metrics.js";
import type { OidcIdentity, OidcVerifier } from "./oidc.js";
import type { CallbackAnswer } from "./process.js";
import { parseCallbackBody, type CallbackBody } from "./schema.js";

/** Above the largest valid body even with every character JSON-escaped (about 1 MB). */
export const MAX_CALLBACK_BYTES = 1024 * 1024;
/** Not an HTTP answer: the client disconnected before its body arrived, so nothing is sent or counted. */
const ABORTED = -1;

export interface CallbackRouteDependencies {
  verifier: OidcVerifier;
  /** Per verified repo, shared by every kind of callback. */
  limiter: SlidingWindowLimiter<string>;
  process: (identity: OidcIdentity, body: CallbackBody) => Promise<CallbackAnswer>;
  metrics: RelayMetrics;
  log: Logger;
  now?: () => number;
}

export function callbackRoute(deps: CallbackRouteDependencies): Route {
  return {
    method: "POST",
    path: "/relay/callback",
    handler: async (req, res) => {
      let answer: CallbackAnswer & { headers?: Record<string, string> };
      try {
        answer = await handle(req, deps);
      } catch (error) {
        deps.log.error({ err: error instanceof Error ? error.message : String(error) }, "callback failed");
        answer = { status: 500, body: { error: "internal error; the report was not stored, retry later" } };
      }
      if (req.destroyed && answer.status === ABORTED) return;
      deps.metrics.callbacks.inc({ status: String(answer.status) });
      sendJson(res, answer.status, answer.body, answer.headers);
    },
  };
}

async function handle(req: IncomingMessage, deps: CallbackRouteDependencies): Promise<CallbackAnswer & { headers?: Record<string, string> }> {
  const raw = await readBody(req, MAX_CALLBACK_BYTES);
  if (raw === "aborted") return { status: ABORTED, body: {} };
  if (raw === "too_large") {
    // The rest of the body is never read, so the connection cannot carry another request.
    return {
      status: 413,
      body: { error: `body larger than ${MAX_CALLBACK_BYTES} bytes; shorten the summary or the failed-test list` },
      headers: { connection: "close" },
    };
  }

  const auth = await deps.verifier.verify(req.headers.authorization);
  if (!auth.ok) return { status: auth.status, body: { error: auth.message, reason: auth.reason } };

  const now = (deps.now ?? Date.now)();
  const wait = deps.limiter.tryAcquire(auth.identity.repo, now);
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    return { status: 429, body: { error: `too many callbacks from ${auth.identity.repo}; retry in ${seconds} s` }, headers: { "retry-after": String(seconds) } };
  }

  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    // Not the parser's message: it quotes the body, and answers never echo what was sent.
    return { status: 400, body: { error: "body is not JSON; send the report as a JSON object (Content-Type: application/json)" } };
  }
  const parsed = parseCallbackBody(json);
  if (!parsed.ok) return { status: 400, body: { error: parsed.message } };
  return deps.process(auth.identity, parsed.body);
}

/** The body; "too_large" when it exceeds `limit` (declared or streamed); "aborted" when the client left. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too_large" | "aborted"> {
  if (Number(req.headers["content-length"] ?? 0) > limit) return "too_large";
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) return "too_large";
      chunks.push(chunk);
    }
  } catch {
    return "aborted";
  }
  return Buffer.concat(chunks);
}

