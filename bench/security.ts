// Security benchmark: the relay's server (`node lib/server/main.js`, built by `npm run build`) as a child
// process on loopback, under the attacks docs/security.md bounds, with the child's RSS sampled alone. It
// measures and prints a markdown table for docs/security.md "Measured"; it asserts nothing. See bench/README.md.
//
//   npm run bench:security
//   node scripts/run-ts.mjs bench/security.ts [--slow 200] [--callbacks 500] [--oversized 100] [--held 40]
//
// Two relay processes, one after the other (each with a fresh DATA_DIR and log file):
//   run 1, default limits: a. slow clients (timeouts 10 s / 30 s), b(i) unauthenticated callbacks,
//          b(ii) authenticated ~1 MiB callbacks at the default rate limit (120/min), c. oversized webhooks,
//          d. webhook bodies sent fast to just under 25 MiB and held until the request timeout
//   run 2, RELAY_CALLBACK_RATE_LIMIT=100000 and short HTTP timeouts (2 s / 5 s): a. slow clients again,
//          b(ii) authenticated ~1 MiB callbacks with every body read, parsed and validated
// Nothing talks to GitHub: GHE_HOST is a closed loopback port; the OIDC issuer runs in this process.
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { MAX_CALLBACK_BYTES } from "../src/callback/route.js";
import { parseCallbackBody } from "../src/callback/schema.js";
import { startOidcIssuer, type OidcIssuer } from "../test/helpers/oidc-issuer.js";
import { freePort } from "../test/helpers/server.js";
import { startRelayProcess, type RelayProcess } from "./relay-process.js";
import { webhookHead } from "../test/security/http-harness.js";

const HOST = "127.0.0.1";
const BACKEND = "bench/backend";
const WEBHOOK_PATH = "/api/github/webhooks";
const SAMPLE_MS = 100;
/** Quiet time after each scenario before the "after" RSS is read. */
const SETTLE_MS = 3000;
/** The whole run is abandoned (child killed, sockets closed) past this. */
const WATCHDOG_MS = 6 * 60_000;
const MiB = 1024 * 1024;
/** RELAY_WEBHOOK_MAX_BYTES's default (GitHub's cap): a declared size the relay accepts and starts reading. */
const WEBHOOK_MAX_BYTES = 25 * MiB;
const OVERSIZED_BYTES = 100 * MiB;
const CALLBACK_CONCURRENCY = 32;
const OVERSIZED_CONCURRENCY = 16;
/** Slowloris: one byte of a header line every this many ms. */
const SLOWLORIS_INTERVAL_MS = 3000;
/** Slow body: this many bytes every second. */
const TRICKLE_BYTES = 1024;
const TRICKLE_INTERVAL_MS = 1000;

// ---------------------------------------------------------------------------------------------------
// Parameters

const USAGE = "usage: node scripts/run-ts.mjs bench/security.ts [--slow N] [--callbacks N] [--oversized N] [--held N]";

interface Parameters {
  /** Connections of each slow kind (slowloris heads, trickled webhook bodies). */
  slow: number;
  callbacks: number;
  oversized: number;
  /** Webhook bodies sent fast to just under 25 MiB and held (scenario d). */
  held: number;
}

function parameters(): Parameters {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        slow: { type: "string", default: "200" },
        callbacks: { type: "string", default: "500" },
        oversized: { type: "string", default: "100" },
        held: { type: "string", default: "40" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const count = (name: string, max: number): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1 || value > max) {
      process.stderr.write(`--${name} must be a whole number from 1 to ${max}\n${USAGE}\n`);
      process.exit(2);
    }
    return value;
  };
  // The caps keep the run bounded (and under the relay's 1000-connection cap for the slow clients).
  return { slow: count("slow", 450), callbacks: count("callbacks", 5000), oversized: count("oversized", 1000), held: count("held", 200) };
}

// ---------------------------------------------------------------------------------------------------
// Everything this process opens, so it can all be closed on any exit path

const openHandles = new Set<{ destroy(): unknown }>();

function track<T extends { destroy(): unknown }>(handle: T): T {
  openHandles.add(handle);
  return handle;
}

function destroyAll(): void {
  for (const handle of openHandles) handle.destroy();
  openHandles.clear();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// The relay as a child process

interface RelaySettings {
  label: string;
  /** Extra environment (limits). */
  env: Record<string, string>;
}

/** A relay process (bench/relay-process.ts) and its temp dir. */
type Relay = RelayProcess;

const relays = new Set<Relay>();
/** Every relay's temp dir (DATA_DIR, allowlist, log), removed at the end. */
const tempDirs: string[] = [];

async function startRelay(root: string, issuer: OidcIssuer, settings: RelaySettings, secrets: Secrets): Promise<Relay> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "relay-bench-security-"));
  tempDirs.push(dir);
  const allowlist = path.join(dir, "allowlist.yml");
  writeFileSync(allowlist, `L2:\n  - ${BACKEND}\n`);
  const port = await freePort();
  // Nothing listens there: anything that tries to reach GitHub fails at once on loopback.
  const closedPort = await freePort();
  const relay = await startRelayProcess({
    root,
    dir,
    port,
    sampleMs: SAMPLE_MS,
    env: {
      APP_ID: "1",
      PRIVATE_KEY: secrets.privateKey,
      WEBHOOK_SECRET: secrets.webhookSecret,
      RELAY_TICKET_SECRET: secrets.ticketSecret,
      DATA_DIR: path.join(dir, "data"),
      ALLOWLIST_FILE: allowlist,
      GHE_HOST: `${HOST}:${closedPort}`,
      GHE_PROTOCOL: "http",
      GITHUB_OIDC_ISSUER: issuer.issuer,
      RELAY_PUBLIC_URL: `http://${HOST}:${port}`,
      RELAY_REDELIVERY_MINUTES: "0",
      RELAY_RECONCILE_MINUTES: "0",
      ...settings.env,
    },
  });
  relays.add(relay);
  return relay;
}

async function stopAllRelays(): Promise<void> {
  await Promise.all([...relays].map((relay) => relay.stop()));
}

interface Secrets {
  privateKey: string;
  webhookSecret: string;
  ticketSecret: string;
}

function makeSecrets(): Secrets {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privateKey, webhookSecret: "bench-webhook-secret", ticketSecret: "bench-ticket-secret-0123456789abcdef0123456789" };
}

// ---------------------------------------------------------------------------------------------------
// One HTTP request (node:http, one connection each): the status and a short reason, or the error code

interface SendOptions {
  port: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send `body` and leave the request unfinished (the declared Content-Length is larger). */
  partial?: boolean;
  timeoutMs: number;
}

interface SendResult {
  /** The HTTP status, or undefined when no answer came. */
  status?: number;
  /** "401 ticket malformed", "429", "413", or the client's error code ("EPIPE"). */
  label: string;
  /** The response body. */
  text?: string;
}

function send(options: SendOptions): Promise<SendResult> {
  return new Promise((resolve) => {
    let done = false;
    const req = track(request({ host: HOST, port: options.port, method: options.method, path: options.path, headers: options.headers, agent: false }));
    const finish = (result: SendResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      openHandles.delete(req);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ label: "no answer (client timeout)" }), options.timeoutMs);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      const answered = () => {
        const text = Buffer.concat(chunks).toString("utf8");
        finish({ status: res.statusCode, label: labelOf(res.statusCode ?? 0, text), text });
      };
      res.once("end", answered);
      res.once("error", answered);
      res.once("close", answered);
    });
    req.on("error", (error: NodeJS.ErrnoException) => finish({ label: error.code ?? error.message }));
    if (options.body === undefined) req.end();
    else if (options.partial) req.write(options.body);
    else req.end(options.body);
  });
}

/** The status, with the callback route's reason when it gives one (token reason, ticket reason). */
function labelOf(status: number, text: string): string {
  let body: { reason?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status alone
  }
  if (typeof body.reason === "string") return `${status} ${body.reason}`;
  const ticket = typeof body.error === "string" ? /^ticket rejected \(([\w-]+)\)/.exec(body.error) : null;
  if (ticket) return `${status} ticket ${ticket[1]!}`;
  return String(status);
}

/** Runs `count` tasks, at most `concurrency` at a time. */
async function pool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

function tally(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([label, count]) => `${label} ×${count}`)
    .join(", ");
}

// ---------------------------------------------------------------------------------------------------
// Scenario a: slow clients on raw sockets

interface SlowConnection {
  kind: "slowloris" | "trickle";
  socket: Socket;
  opened: number;
  /** ms from connect to the server's close; undefined while open or when the bench closed it. */
  droppedAfter?: number;
  /** The bench closed it (still open at the deadline). */
  benchClosed: boolean;
  received: string;
}

function openSlow(port: number, kind: SlowConnection["kind"], head: string): Promise<SlowConnection> {
  return new Promise((resolve, reject) => {
    const socket = track(connect({ port, host: HOST }));
    const connection: SlowConnection = { kind, socket, opened: performance.now(), benchClosed: false, received: "" };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      if (connection.received.length < 200) connection.received += chunk.toString("latin1");
    });
    socket.on("error", () => {}); // a reset by the server is an expected outcome; "close" follows
    socket.once("close", () => {
      openHandles.delete(socket);
      if (!connection.benchClosed) connection.droppedAfter = performance.now() - connection.opened;
    });
    socket.once("connect", () => {
      connection.opened = performance.now();
      socket.write(head);
      resolve(connection);
    });
    socket.once("error", reject);
  });
}

interface SlowResult {
  detail: string[];
  statuses: string;
  loadText: string;
  drops: Array<{ kind: string; opened: number; dropped: number; p50: number; max: number; answered408: number }>;
}

async function slowClients(port: number, count: number, timeouts: { headersS: number; requestS: number }): Promise<SlowResult> {
  // Slowloris: a request head that never ends, one more byte of a header value every few seconds.
  const partialHead = `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: bench-slowloris\r\nX-Pad: `;
  // A webhook the route accepts to read (declared 25 MiB: not over the limit; all required headers; the
  // signature is only checked once the whole body is in), whose body then trickles in.
  const trickleHead = (index: number) =>
    webhookHead({
      "content-length": String(WEBHOOK_MAX_BYTES),
      "x-github-event": "push",
      "x-github-delivery": `bench-trickle-${index}`,
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
    });
  const connections: SlowConnection[] = [];
  // Interleaved, in batches, so both kinds are open at once.
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, offset) => start + offset);
    connections.push(...(await Promise.all(batch.flatMap((index) => [openSlow(port, "slowloris", partialHead), openSlow(port, "trickle", trickleHead(index))]))));
  }
  const open = (kind: SlowConnection["kind"]) => connections.filter((c) => c.kind === kind && !c.socket.destroyed);
  const write = (kind: SlowConnection["kind"], data: string | Buffer) => {
    for (const connection of open(kind)) connection.socket.write(data);
  };
  const chunk = Buffer.alloc(TRICKLE_BYTES, "a");
  const loris = setInterval(() => write("slowloris", "a"), SLOWLORIS_INTERVAL_MS);
  const trickle = setInterval(() => write("trickle", chunk), TRICKLE_INTERVAL_MS);
  // Bounded: the server should drop everything by the request timeout (+ its 1 s check interval).
  const deadline = performance.now() + (Math.max(timeouts.headersS, timeouts.requestS) + 10) * 1000;
  try {
    while (performance.now() < deadline && connections.some((c) => !c.socket.destroyed)) await sleep(100);
  } finally {
    clearInterval(loris);
    clearInterval(trickle);
  }
  const stillOpen = connections.filter((c) => !c.socket.destroyed).length;
  for (const connection of connections) {
    if (!connection.socket.destroyed) connection.benchClosed = true;
    connection.socket.destroy();
  }

  const drops = (["slowloris", "trickle"] as const).map((kind) => {
    const mine = connections.filter((c) => c.kind === kind);
    const times = mine.flatMap((c) => (c.droppedAfter === undefined ? [] : [c.droppedAfter]));
    return {
      kind,
      opened: mine.length,
      dropped: times.length,
      p50: times.length === 0 ? NaN : quantile(times, 0.5),
      max: times.length === 0 ? NaN : Math.max(...times),
      answered408: mine.filter((c) => c.received.startsWith("HTTP/1.1 408")).length,
    };
  });
  const statuses = drops
    .map((d) => `${d.kind}: ${d.dropped}/${d.opened} dropped by the server (${d.answered408} with 408), p50 ${seconds(d.p50)}, max ${seconds(d.max)}`)
    .join("; ");
  return {
    detail: [`${stillOpen} connections were still open at the bench's deadline (closed by the bench)`],
    statuses,
    loadText: `${count} slowloris (partial head, 1 B / ${SLOWLORIS_INTERVAL_MS / 1000} s) + ${count} webhook bodies (declared 25 MiB, ${TRICKLE_BYTES} B / s)`,
    drops,
  };
}

/**
 * Beyond the brief's scenarios: webhook bodies sent at full speed up to one byte short of the declared
 * 25 MiB, then held. The relay buffers each body whole before it can check the signature, so until the
 * request timeout every such connection holds ~25 MiB of the relay's memory.
 */
async function heldBodies(port: number, count: number, timeouts: { requestS: number }): Promise<{ statuses: string; load: string }> {
  const chunk = Buffer.alloc(MiB, "a");
  const connections = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      openSlow(
        port,
        "trickle",
        webhookHead({
          "content-length": String(WEBHOOK_MAX_BYTES),
          "x-github-event": "push",
          "x-github-delivery": `bench-held-${index}`,
          "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
        }),
      ),
    ),
  );
  // The same 1 MiB buffer queued 24 times plus one short of a MiB: the client holds no copies.
  for (const connection of connections) {
    for (let sent = 0; sent < WEBHOOK_MAX_BYTES / MiB - 1; sent += 1) connection.socket.write(chunk);
    connection.socket.write(chunk.subarray(0, MiB - 1));
  }
  const deadline = performance.now() + (timeouts.requestS + 10) * 1000;
  while (performance.now() < deadline && connections.some((c) => !c.socket.destroyed)) await sleep(100);
  for (const connection of connections) {
    if (!connection.socket.destroyed) connection.benchClosed = true;
    connection.socket.destroy();
  }
  const times = connections.flatMap((c) => (c.droppedAfter === undefined ? [] : [c.droppedAfter]));
  const answered408 = connections.filter((c) => c.received.startsWith("HTTP/1.1 408")).length;
  return {
    load: `${count} webhook bodies (declared 25 MiB) sent at full speed to 1 byte short, then held`,
    statuses: `${times.length}/${count} dropped by the server (${answered408} with 408), p50 ${seconds(times.length === 0 ? NaN : quantile(times, 0.5))}, max ${seconds(times.length === 0 ? NaN : Math.max(...times))}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// Scenario b: maximum-size callbacks

/**
 * A callback body just under the 1 MiB cap that passes the callback schema (so the relay parses and
 * validates all of it) and then fails on its bogus ticket: a 60,000-character summary and 200 failed
 * tests of 500 characters, every character JSON-escaped (6 bytes each), plus 30 environment entries.
 */
function maximumCallbackBody(): Buffer {
  const escaped = (length: number) => "\\u00e9".repeat(length);
  const environment = Array.from({ length: 30 }, (_, index) => `"key_${index}":"${escaped(200)}"`).join(",");
  const failedTests = Array.from({ length: 200 }, () => `"${escaped(500)}"`).join(",");
  const head = JSON.stringify({
    schema_version: 1,
    ticket: `v1.${"A".repeat(300)}.${"B".repeat(43)}`,
    status: "completed",
    conclusion: "failure",
    failure_kind: "test",
    workflow: { name: "pytorch-pr", run_id: 9_876_543_210, run_attempt: 1, url: `https://github.com/${BACKEND}/actions/runs/9876543210` },
    job: { name: "test (bench, 1/1)", url: `https://github.com/${BACKEND}/actions/runs/9876543210/job/1` },
    tests: { total: 100_000, passed: 99_000, failed: 200, skipped: 800 },
  });
  const text = `${head.slice(0, -1)},"summary":"${escaped(60_000)}","failed_tests":[${failedTests}],"environment":{${environment}}}`;
  const body = Buffer.from(text, "utf8");
  if (body.length > MAX_CALLBACK_BYTES) throw new Error(`callback body is ${body.length} bytes, over the relay's cap`);
  const parsed = parseCallbackBody(JSON.parse(text));
  if (!parsed.ok) throw new Error(`the callback body does not pass the schema, so it would not reach the ticket check: ${parsed.message}`);
  return body;
}

interface FloodResult {
  labels: string[];
  ms: number;
}

async function callbackFlood(port: number, count: number, headers: (index: number) => Record<string, string>, body: Buffer): Promise<FloodResult> {
  const started = performance.now();
  const results = await pool(count, CALLBACK_CONCURRENCY, (index) =>
    send({
      port,
      method: "POST",
      path: "/relay/callback",
      headers: { "content-type": "application/json", "content-length": String(body.length), ...headers(index) },
      body,
      timeoutMs: 60_000,
    }),
  );
  return { labels: results.map((r) => r.label), ms: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------------
// Scenario c: oversized webhooks

async function oversizedFlood(port: number, count: number, timeoutMs: number): Promise<FloodResult> {
  const chunk = Buffer.alloc(MiB, "{");
  const started = performance.now();
  const results = await pool(count, OVERSIZED_CONCURRENCY, (index) =>
    send({
      port,
      method: "POST",
      path: WEBHOOK_PATH,
      headers: {
        "content-type": "application/json",
        "content-length": String(OVERSIZED_BYTES),
        "x-github-event": "push",
        "x-github-delivery": `bench-oversized-${index}`,
        "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
      },
      body: chunk,
      partial: true,
      timeoutMs,
    }),
  );
  return { labels: results.map((r) => r.label), ms: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------------
// Measuring a scenario

interface Row {
  scenario: string;
  load: string;
  statuses: string;
  ms: number;
  /** Requests per second, when the scenario is a flood of requests. */
  rate?: number;
  before: number;
  peak: number;
  after: number;
  logBytes: number;
  /** The log lines the scenario produced, counted by level and message. */
  logLines: string;
  /** V8 heap and external memory after the settle time, from the relay's /metrics. */
  heapAfter: string;
}

async function measure(relay: Relay, scenario: string, work: () => Promise<{ load: string; statuses: string; requests?: number }>): Promise<Row> {
  process.stderr.write(`  ${scenario}…\n`);
  const before = relay.rss.current();
  const logBefore = relay.logBytes();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  await sleep(SETTLE_MS);
  const after = relay.rss.current();
  const heapAfter = await heapOf(relay);
  return {
    scenario,
    load: result.load,
    statuses: result.statuses,
    ms,
    ...(result.requests !== undefined && { rate: (result.requests * 1000) / ms }),
    before,
    peak: Math.max(relay.rss.peakSince(started), after),
    after,
    logBytes: relay.logBytes() - logBefore,
    logLines: logLinesSince(relay.logFile, logBefore),
    heapAfter,
  };
}

/** Heap used / total and external memory from the relay's own /metrics (prom-client's default metrics). */
async function heapOf(relay: Relay): Promise<string> {
  const result = await send({ port: relay.port, method: "GET", path: "/metrics", timeoutMs: 5000 });
  const value = (name: string) => {
    const match = new RegExp(`^relay_${name} ([0-9.e+]+)`, "m").exec(result.text ?? "");
    return match ? megabytes(Number(match[1])) : "?";
  };
  return `heap used ${value("nodejs_heap_size_used_bytes")} of ${value("nodejs_heap_size_total_bytes")}, external ${value("nodejs_external_memory_bytes")}`;
}

const LEVEL_NAMES: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** The lines written to `file` from byte `offset` on, counted by level and message. */
function logLinesSince(file: string, offset: number): string {
  const text = readFileSync(file).subarray(offset).toString("utf8");
  const lines = text.split("\n").filter((line) => line !== "");
  return tally(
    lines.map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        return `${LEVEL_NAMES[entry.level ?? 0] ?? String(entry.level)} "${(entry.msg ?? "").slice(0, 80)}"`;
      } catch {
        return `(not JSON) ${line.slice(0, 80)}`;
      }
    }),
  );
}

/** Wait for the freshly started relay to settle, and return its idle RSS. */
async function idleRss(relay: Relay): Promise<number> {
  await sleep(2000);
  return relay.rss.current();
}

// ---------------------------------------------------------------------------------------------------
// Output

const print = (line = "") => process.stdout.write(`${line}\n`);
const megabytes = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const seconds = (ms: number) => (Number.isNaN(ms) ? "–" : `${(ms / 1000).toFixed(1)} s`);
const kilobytes = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  print(`| ${headers.map(cell).join(" | ")} |`);
  print(`|${headers.map((_, index) => (index === 0 || index === 1 || index === 2 ? "---" : "---:")).join("|")}|`);
  for (const row of rows) print(`| ${row.map(cell).join(" | ")} |`);
}

// ---------------------------------------------------------------------------------------------------

async function main(root: string, params: Parameters): Promise<void> {
  const begun = performance.now();
  const cpus = os.cpus();
  print("Security benchmark: the relay's server as a child process (node lib/server/main.js), RSS from /proc/<pid>/status");
  print(
    `machine: nproc ${os.availableParallelism()} (${cpus[0]?.model.trim() ?? "unknown CPU"}), ${megabytes(os.totalmem())} RAM, ` +
      `${os.platform()} ${os.release()} ${os.arch()}; node ${process.version}`,
  );
  const issuer = await startOidcIssuer();
  try {
    await runAll(root, params, issuer, begun);
  } finally {
    await issuer.close();
  }
}

async function runAll(root: string, params: Parameters, issuer: OidcIssuer, begun: number): Promise<void> {
  const cpus = os.cpus();
  const secrets = makeSecrets();
  const body = maximumCallbackBody();
  print(`callback body: ${body.length.toLocaleString("en-US")} bytes (cap ${MAX_CALLBACK_BYTES.toLocaleString("en-US")}), passes the callback schema, bogus ticket`);
  const token = await issuer.mint({ repository: BACKEND }, { expiresIn: "30m" });
  const callbackLoad = `${params.callbacks} POST × ${body.length.toLocaleString("en-US")} B, ${CALLBACK_CONCURRENCY} concurrent`;
  const authenticated = () => ({ authorization: `Bearer ${token}` });
  const unauthenticated = (index: number): Record<string, string> => (index % 2 === 0 ? {} : { authorization: `Bearer garbage.${index}.token` });

  const rows: Row[] = [];
  const idle: string[] = [];
  const slowDetails: Array<{ run: string; result: SlowResult }> = [];

  const slowRow = async (relay: Relay, timeouts: { headersS: number; requestS: number }, label: string) => {
    let result: SlowResult | undefined;
    const row = await measure(relay, `a. slow clients, ${label}`, async () => {
      result = await slowClients(relay.port, params.slow, timeouts);
      return { load: result.loadText, statuses: result.statuses };
    });
    slowDetails.push({ run: label, result: result! });
    return row;
  };

  // Run 1: the defaults.
  {
    print();
    print("run 1: default limits (headers 10 s, request 30 s, RELAY_CALLBACK_RATE_LIMIT 120/min)");
    const relay = await startRelay(root, issuer, { label: "defaults", env: {} }, secrets);
    idle.push(`run 1 (defaults): idle RSS after start ${megabytes(await idleRss(relay))}`);
    rows.push(await slowRow(relay, { headersS: 10, requestS: 30 }, "default timeouts 10 s / 30 s"));
    rows.push(
      await measure(relay, "b(i). callbacks, no or garbage token", async () => {
        const flood = await callbackFlood(relay.port, params.callbacks, unauthenticated, body);
        return { load: callbackLoad, statuses: tally(flood.labels), requests: params.callbacks };
      }),
    );
    rows.push(
      await measure(relay, "b(ii). callbacks, valid token, bogus ticket, default rate limit (120/min)", async () => {
        const flood = await callbackFlood(relay.port, params.callbacks, authenticated, body);
        return { load: callbackLoad, statuses: tally(flood.labels), requests: params.callbacks };
      }),
    );
    rows.push(
      await measure(relay, "c. oversized webhooks (declared 100 MiB, 1 MiB sent)", async () => {
        const flood = await oversizedFlood(relay.port, params.oversized, 40_000);
        return { load: `${params.oversized} POST, ${OVERSIZED_CONCURRENCY} concurrent`, statuses: tally(flood.labels), requests: params.oversized };
      }),
    );
    rows.push(
      await measure(relay, "d. webhook bodies held just under 25 MiB", () => heldBodies(relay.port, params.held, { requestS: 30 })),
    );
    const how = await relay.stop();
    idle.push(`run 1 stopped on SIGTERM: ${how}; log ${kilobytes(statSync(relay.logFile).size)} in all`);
  }

  // Run 2: the body path really exercised, and short timeouts.
  {
    print("run 2: RELAY_CALLBACK_RATE_LIMIT=100000, RELAY_HTTP_HEADERS_TIMEOUT_SECONDS=2, RELAY_HTTP_REQUEST_TIMEOUT_SECONDS=5");
    const relay = await startRelay(
      root,
      issuer,
      {
        label: "short timeouts, high rate limit",
        env: { RELAY_CALLBACK_RATE_LIMIT: "100000", RELAY_HTTP_HEADERS_TIMEOUT_SECONDS: "2", RELAY_HTTP_REQUEST_TIMEOUT_SECONDS: "5" },
      },
      secrets,
    );
    idle.push(`run 2 (short timeouts, high rate limit): idle RSS after start ${megabytes(await idleRss(relay))}`);
    rows.push(await slowRow(relay, { headersS: 2, requestS: 5 }, "short timeouts 2 s / 5 s"));
    rows.push(
      await measure(relay, "b(ii). callbacks, valid token, bogus ticket, RELAY_CALLBACK_RATE_LIMIT=100000", async () => {
        const flood = await callbackFlood(relay.port, params.callbacks, authenticated, body);
        return { load: callbackLoad, statuses: tally(flood.labels), requests: params.callbacks };
      }),
    );
    const how = await relay.stop();
    idle.push(`run 2 stopped on SIGTERM: ${how}; log ${kilobytes(statSync(relay.logFile).size)} in all`);
  }

  print();
  print(`## Measured (${new Date().toISOString().slice(0, 10)}, \`npm run bench:security\`)`);
  print();
  print(
    `nproc ${os.availableParallelism()}, ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${megabytes(os.totalmem())} RAM, node ${process.version}, ` +
      `Linux ${os.release()}. The relay runs alone in a child process (\`node lib/server/main.js\`, LOG_LEVEL=warn, ` +
      `LOG_FORMAT=json); RSS is VmRSS sampled every ${SAMPLE_MS} ms; "after" is ${SETTLE_MS / 1000} s after the scenario ended.`,
  );
  print();
  markdownTable(
    ["Scenario", "Load", "Outcome", "Time", "Req/s", "RSS before", "RSS peak", "RSS after", "Log"],
    rows.map((row) => [
      row.scenario,
      row.load,
      row.statuses,
      seconds(row.ms),
      row.rate === undefined ? "–" : row.rate.toFixed(0),
      megabytes(row.before),
      megabytes(row.peak),
      megabytes(row.after),
      kilobytes(row.logBytes),
    ]),
  );
  print();
  print(
    "EPIPE / ECONNRESET: the relay answered without reading the body (401, 429, 413 with `Connection: close`) and " +
      "closed while this client was still uploading, so the client lost the answer. Req/s includes this client's own " +
      "work on the same CPUs.",
  );
  print();
  print("Slow clients: time from connect to the server closing the connection");
  print();
  markdownTable(
    ["Timeouts (headers / request)", "Kind", "Opened", "Dropped by server", "Answered 408", "p50", "max"],
    slowDetails.flatMap(({ run, result }) =>
      result.drops.map((d) => [run, d.kind, String(d.opened), String(d.dropped), String(d.answered408), seconds(d.p50), seconds(d.max)]),
    ),
  );
  print();
  for (const { run, result } of slowDetails) for (const line of result.detail) print(`- ${run}: ${line}`);
  print();
  print("V8 memory of the relay after each scenario's settle time (its /metrics)");
  print();
  for (const row of rows) print(`- ${row.scenario}: ${row.heapAfter}`);
  print();
  print("Log lines per scenario (level and message)");
  print();
  for (const row of rows) print(`- ${row.scenario}: ${row.logLines === "" ? "none" : row.logLines}`);
  print();
  for (const line of idle) print(`- ${line}`);
  print(`- total run time ${seconds(performance.now() - begun)}`);
}

// ---------------------------------------------------------------------------------------------------

const root = process.cwd();
if (!existsSync(path.join(root, "lib/server/main.js"))) {
  process.stderr.write("lib/server/main.js not found: run `npm run build` first, from the repository root (npm run bench:security does both)\n");
  process.exit(2);
}
const params = parameters();
const cleanUpSync = () => {
  for (const relay of relays) relay.child.kill("SIGKILL");
  destroyAll();
};
process.once("exit", cleanUpSync);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUpSync();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  process.stderr.write(`the benchmark ran longer than ${WATCHDOG_MS / 60_000} min; stopping\n`);
  cleanUpSync();
  process.exit(1);
}, WATCHDOG_MS);
try {
  await main(root, params);
} finally {
  clearTimeout(watchdog);
  await stopAllRelays();
  destroyAll();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
