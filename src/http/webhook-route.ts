// POST <WEBHOOK_PATH>: GitHub webhooks, checked before any handler sees them. The body is bounded before it is
// read, its signature is checked against every receiver's secrets (rotation: current and previous), and
// the answer is 200 only after the handlers resolved, i.e. after they stored their work.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { readBody } from "./body.js";
import type { BodyLease, ByteBudget } from "./byte-budget.js";
import { sendJson, type Route } from "./router.js";
import { markLogged } from "./access-log.js";
import { signatureMatches } from "./webhook-signature.js";

/** An App whose deliveries this route accepts: the first receiver with a matching secret gets the event. */
export interface WebhookReceiver {
  name: string;
  secrets: readonly string[];
  webhooks: { receive(event: { id: string; name: string; payload: unknown }): Promise<void> };
}

export interface WebhookRouteOptions {
  path: string;
  maxBytes: number;
  /** Shared by every delivery being read or handled: bounds what unauthenticated bodies can hold. */
  budget: ByteBudget;
  receivers: readonly WebhookReceiver[];
  log: Logger;
  /** Observes each delivery's time to answer, by status (relay_webhook_seconds). */
  latency?: { startTimer(): (labels: { status: string }) => number };
}

const BUSY_RETRY_SECONDS = 5;
const JSON_CONTENT_TYPE = /^\s*application\/json\s*(?:;|$)/i;
const REQUIRED_HEADERS = ["x-github-event", "x-github-delivery", "x-hub-signature-256"] as const;

interface Refusal {
  status: number;
  reason: string;
  error: string;
}

export function webhookRoute(options: WebhookRouteOptions): Route {
  return { method: "POST", path: options.path, handler: (req, res) => handleDelivery(options, req, res) };
}

async function handleDelivery(options: WebhookRouteOptions, req: IncomingMessage, res: ServerResponse) {
  const lease = options.budget.lease();
  const timer = options.latency?.startTimer();
  try {
    await readAndReceive(options, req, res, lease);
  } finally {
    lease.release();
    timer?.({ status: String(res.statusCode) });
  }
}

async function readAndReceive({ maxBytes, receivers, log }: WebhookRouteOptions, req: IncomingMessage, res: ServerResponse, lease: BodyLease) {
  const delivery = header(req, "x-github-delivery");
  const event = header(req, "x-github-event");
  // Node has checked it is a number; absent for a chunked body.
  const declaredSize = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
  /** Answers with one warn line (never the body); `connection: close` when the body was left unread. */
  const refuse = ({ status, reason, error }: Refusal, size: number | undefined, bodyRead: boolean) => {
    log.warn({ delivery, event, reason, status, size }, `webhook delivery refused: ${reason}`);
    markLogged(res);
    sendJson(res, status, { error }, bodyRead ? {} : { connection: "close" });
  };

  const early = checkHeaders(req, declaredSize ?? 0, maxBytes);
  if (early) return refuse(early, declaredSize, false);
  const body = await readBody(req, maxBytes, lease);
  if (body === "aborted") return; // the client left; the access log records it (aborted: true)
  if (body === "too_large") return refuse(tooLarge(maxBytes), declaredSize, false);
  if (body === "over_budget") {
    // GitHub marks the delivery failed; it is redelivered (by the recovery job or by hand) once memory frees.
    log.warn({ delivery, event, reason: "busy", status: 503, size: declaredSize }, "webhook delivery refused: busy");
    markLogged(res);
    sendJson(res, 503, { error: "too many webhook bodies in flight; retry later" }, { connection: "close", "retry-after": String(BUSY_RETRY_SECONDS) });
    return;
  }

  const signature = header(req, "x-hub-signature-256")!;
  const receiver = receivers.find(({ secrets }) => secrets.some((secret) => signatureMatches(secret, body, signature)));
  if (!receiver) {
    return refuse({ status: 401, reason: "bad_signature", error: "signature does not match; check the App's webhook secret" }, body.length, true);
  }
  const payload = parseObject(body);
  if (payload === undefined) return refuse({ status: 400, reason: "not_json", error: "body is not a JSON object" }, body.length, true);

  try {
    await receiver.webhooks.receive({ id: delivery!, name: event!, payload });
  } catch (error) {
    // The message only: handler errors carry the event, and with it the payload.
    const message = error instanceof Error ? error.message : String(error);
    log.error({ delivery, event, receiver: receiver.name, reason: "handler_failed", status: 500, size: body.length, error: message }, "webhook handlers failed");
    markLogged(res);
    sendJson(res, 500, { error: "handling the delivery failed; GitHub may redeliver it" });
    return;
  }
  sendJson(res, 200, { ok: true });
}

/** What is wrong with the request before its body is read, if anything. */
function checkHeaders(req: IncomingMessage, declaredSize: number, maxBytes: number): Refusal | undefined {
  if (declaredSize > maxBytes) return tooLarge(maxBytes);
  if (!JSON_CONTENT_TYPE.test(req.headers["content-type"] ?? "")) {
    return { status: 415, reason: "content_type", error: 'content-type must be "application/json"' };
  }
  const missing = REQUIRED_HEADERS.filter((name) => header(req, name) === undefined);
  if (missing.length > 0) return { status: 400, reason: "missing_headers", error: `required headers missing: ${missing.join(", ")}` };
  return undefined;
}

const tooLarge = (maxBytes: number): Refusal => ({ status: 413, reason: "too_large", error: `body larger than ${maxBytes} bytes` });

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function parseObject(body: Buffer): object | undefined {
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
