// POST /relay/callback (and, for the production relay's body, POST /github/callback: legacy.ts): downstream results. Every answer carries a specific message; nothing here
// crashes the process, and a 2xx is sent only after the state change is stored. The caller's token is
// verified and its repo's rate limit taken before a byte of the body is read, so unauthenticated or
// throttled callers never make the relay buffer anything.
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { readBody } from "../http/body.js";
import { sendJson, type Route } from "../http/router.js";
import type { RateBudget } from "../limits/sliding-window.js";
import { outcomeOf, type CallbackOutcome } from "../domain/callback-audit.js";
import type { OidcIdentity, OidcVerifier } from "./oidc.js";
import type { CallbackAnswer } from "./process.js";

/** Above the largest valid body even with every character JSON-escaped (about 1 MB). */
export const MAX_CALLBACK_BYTES = 1024 * 1024;
/** Not an HTTP answer: the client disconnected before its body arrived, so nothing is sent. */
const ABORTED = -1;
// The body was never read, so the connection cannot carry another request.
const UNREAD_BODY = { connection: "close" };

export interface CallbackRouteDependencies<Body> {
  /** Default /relay/callback. */
  path?: string;
  verifier: OidcVerifier;
  /** Per verified repo, shared by every kind of callback. */
  limiter: RateBudget<string>;
  /** Validates the JSON-decoded body (callback body v1: parseCallbackBody). */
  parse: (json: unknown) => { ok: true; body: Body } | { ok: false; message: string };
  process: (identity: OidcIdentity, body: Body) => Promise<CallbackAnswer>;
  /** Counts each answer per verified repo (undefined: not verified) and outcome. */
  audit: { record(repo: string | undefined, outcome: CallbackOutcome): void };
  /** Counts each answer by HTTP status (relay_callbacks_total, relay_legacy_callbacks_total). */
  answers: { inc(labels: { status: string }): void };
  /** Observes each answer's time by status (relay_callback_seconds, with this route's label bound). */
  latency?: { startTimer(): (labels: { status: string }) => number };
  log: Logger;
  now?: () => number;
}

interface RouteAnswer extends CallbackAnswer {
  headers?: Record<string, string>;
  /** The verified repo, once known. */
  repo?: string;
}

export function callbackRoute<Body>(deps: CallbackRouteDependencies<Body>): Route {
  return {
    method: "POST",
    path: deps.path ?? "/relay/callback",
    handler: async (req, res) => {
      const timer = deps.latency?.startTimer();
      let answer: RouteAnswer;
      try {
        answer = await handle(req, deps);
      } catch (error) {
        deps.log.error({ err: error instanceof Error ? error.message : String(error) }, "callback failed");
        answer = { status: 500, body: { error: "internal error; the report was not stored, retry later" }, outcome: "error" };
      }
      deps.audit.record(answer.repo, outcomeOf(answer));
      if (answer.status === ABORTED) return;
      deps.answers.inc({ status: String(answer.status) });
      timer?.({ status: String(answer.status) });
      sendJson(res, answer.status, answer.body, answer.headers);
    },
  };
}

async function handle<Body>(req: IncomingMessage, deps: CallbackRouteDependencies<Body>): Promise<RouteAnswer> {
  const auth = await deps.verifier.verify(req.headers.authorization);
  if (!auth.ok) {
    const outcome = auth.status === 503 ? "unavailable" : "bad_token";
    return { status: auth.status, body: { error: auth.message, reason: auth.reason }, outcome, headers: UNREAD_BODY };
  }
  const { repo } = auth.identity;

  const wait = await deps.limiter.tryAcquire(repo, (deps.now ?? Date.now)());
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    return {
      status: 429,
      body: { error: `too many callbacks from ${repo}; retry in ${seconds} s` },
      headers: { ...UNREAD_BODY, "retry-after": String(seconds) },
      repo,
    };
  }

  const raw = await readBody(req, MAX_CALLBACK_BYTES);
  if (raw === "aborted") return { status: ABORTED, body: {}, outcome: "aborted", repo };
  if (raw === "too_large") {
    return {
      status: 413,
      body: { error: `body larger than ${MAX_CALLBACK_BYTES} bytes; shorten the summary or the failed-test list` },
      headers: UNREAD_BODY,
      repo,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    // Not the parser's message: it quotes the body, and answers never echo what was sent.
    return { status: 400, body: { error: "body is not JSON; send the report as a JSON object (Content-Type: application/json)" }, repo };
  }
  const parsed = deps.parse(json);
  if (!parsed.ok) return { status: 400, body: { error: parsed.message }, repo };
  return { ...(await deps.process(auth.identity, parsed.body)), repo };
}
