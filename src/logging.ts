// The relay's logger: pino with the secrets it could ever see redacted, handed to Probot too, so its
// Octokit request logging (request bodies at debug) and every `app.log` line pass the same redaction.
import type { Writable } from "node:stream";
import { getTransformStream } from "@probot/pino";
import { pino, type Logger } from "pino";

const SECRET_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-hub-signature", "x-hub-signature-256", "x-hud-internal-bot"];
// Where headers appear: a logged `headers` object, `req.headers`/`res.headers`, `err.request.headers`.
const HEADER_HOLDERS = ["headers", "*.headers", "*.*.headers"];
const SECRET_FIELDS = ["ticket", "token", "access_token", "secret", "password", "privateKey", "private_key", "connectionString"];

/** Paths whose values are replaced by "[redacted]" in every log line (pino `redact`, one level of `*`). */
export const REDACTED_PATHS: readonly string[] = [
  ...HEADER_HOLDERS.flatMap((holder) => SECRET_HEADERS.map((header) => `${holder}["${header}"]`)),
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
  // Octokit's debug line spreads a dispatch body (`client_payload.ticket`); a RequestError carries the
  // serialized body (a string, so nothing inside it can be picked out).
  "*.client_payload.ticket",
  "request.body",
  "*.request.body",
  // Webhook payloads: @octokit/webhooks attaches the event (with its payload) to handler errors.
  "payload",
  "event.payload",
  "*.event.payload",
];

export interface LogSettings {
  level: string;
  /** "json" (one object a line) or "pretty" (Probot's human format). */
  format: string;
}

/**
 * pino appends a child's bindings to its parent's, and Probot names its child logger "probot": a line
 * through `app.log` would carry `"name"` twice. Each line keeps one, the relay's; components are told apart
 * by `component`.
 */
export function oneName(line: string): string {
  const first = line.indexOf('"name":');
  if (first === -1 || line.indexOf('"name":', first + 1) === -1) return line;
  const { name: _names, ...rest } = JSON.parse(line) as Record<string, unknown>;
  return `${JSON.stringify({ name: "relay", ...rest })}\n`;
}

/**
 * The root logger (`name: "relay"`) writing to stdout, or to `destination` (tests capture it);
 * components log through `log.child({ component })`.
 */
export async function createLogger(settings: LogSettings, destination?: Writable): Promise<Logger> {
  const options = {
    name: "relay",
    level: settings.level,
    redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    hooks: { streamWrite: oneName },
  };
  if (settings.format !== "pretty") return destination ? pino(options, destination) : pino(options);
  const pretty = await getTransformStream({ logFormat: "pretty" });
  pretty.pipe(destination ?? process.stdout);
  return pino(options, pretty);
}
