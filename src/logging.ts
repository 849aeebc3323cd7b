// The relay's logger: pino with the secrets it could ever see redacted, handed to Probot too, so its
// Octokit request logging (request bodies at debug) and every `app.log` line pass the same redaction.
// @clickhouse/client logs through it as well (clickHouseLog), instead of its own multi-line console blocks.
import type { Writable } from "node:stream";
import { ClickHouseLogLevel, type ErrorLogParams, type Logger as ClickHouseLogger, type LogParams, type WarnLogParams } from "@clickhouse/client";
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

/** @clickhouse/client's `log` option (`createClient({ log })`). */
export interface ClickHouseLogOption {
  LoggerClass: new () => ClickHouseLogger;
  level: ClickHouseLogLevel;
}

/** Which ClickHouse a client reaches: the relay's HUD or the crcr export's table (src/export/). */
export type ClickHouseUse = "hud" | "crcr-export";

const CLICKHOUSE_LEVELS: Readonly<Record<string, ClickHouseLogLevel>> = {
  trace: ClickHouseLogLevel.TRACE,
  debug: ClickHouseLogLevel.DEBUG,
  // The client's only INFO line is "Log level is set to …", written by every client it creates.
  info: ClickHouseLogLevel.WARN,
  warn: ClickHouseLogLevel.WARN,
  error: ClickHouseLogLevel.ERROR,
};

/**
 * Hands @clickhouse/client's log lines to `log` (a logger without a `component`: this binds "clickhouse"):
 * one JSON line each at the pino level named like the client's, its module and arguments as fields, its
 * error as `err`. The client is told to skip what `log` would drop (everything at fatal or silent).
 */
export function clickHouseLog(log: Logger, use: ClickHouseUse): ClickHouseLogOption {
  const child = log.child({ component: "clickhouse", use });
  const write = (level: "trace" | "debug" | "info" | "warn" | "error", { module, message, args, err }: LogParams & { err?: Error }) =>
    child[level](
      { module, ...(args !== undefined && { args: withoutUrlCredentials(args) }), ...(err !== undefined && { err: errorWithoutUrlCredentials(err) }) },
      withoutUrlCredentials(message),
    );
  // The client instantiates the class itself, without arguments.
  class PinoClickHouseLogger implements ClickHouseLogger {
    trace(params: LogParams) {
      write("trace", params);
    }
    debug(params: LogParams) {
      write("debug", params);
    }
    info(params: LogParams) {
      write("info", params);
    }
    warn(params: WarnLogParams) {
      write("warn", params);
    }
    error(params: ErrorLogParams) {
      write("error", params);
    }
  }
  return { LoggerClass: PinoClickHouseLogger, level: CLICKHOUSE_LEVELS[child.level] ?? ClickHouseLogLevel.OFF };
}

/** `user:password@` of every URL in strings, however deep, replaced by `***@` (field names are pino's to redact). */
function withoutUrlCredentials<T>(value: T): T {
  if (typeof value === "string") return value.replace(/\/\/[^/@\s]*@/g, "//***@") as T;
  if (Array.isArray(value)) return value.map(withoutUrlCredentials) as T;
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withoutUrlCredentials(inner)])) as T;
  }
  return value;
}

/** A copy of `err` (same class and own fields, for pino's serializer) whose message and stack name no URL credentials. */
function errorWithoutUrlCredentials(err: Error): Error {
  return Object.assign(Object.create(Object.getPrototypeOf(err) as object) as Error, err, {
    message: withoutUrlCredentials(err.message),
    ...(err.stack !== undefined && { stack: withoutUrlCredentials(err.stack) }),
  });
}
