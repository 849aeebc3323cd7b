// The real relay server on loopback with its logs captured in memory (JSON lines, level trace), and raw
// sockets for what fetch cannot do: partial headers, huge declared bodies, stalled uploads.
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../../src/logging.js";
import { startRelay, tempDir, WEBHOOK_SECRET, type RunningRelay } from "../helpers/server.js";

export interface CapturedRelay {
  relay: RunningRelay;
  host: string;
  port: number;
  /** Every log line written so far. */
  lines: () => string[];
}

/** The relay with an empty allowlist (no GitHub calls at startup) and its logs captured. */
export async function startCapturedRelay(env: Record<string, string> = {}): Promise<CapturedRelay> {
  const captured: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      captured.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""));
      done();
    },
  });
  const log = await createLogger({ level: "trace", format: "json" }, sink);
  const allowlist = path.join(tempDir(), "allowlist.yml");
  writeFileSync(allowlist, "");
  // Nothing should reach GitHub; if something tries, it fails fast on a closed loopback port.
  const relay = await startRelay(
    { ALLOWLIST_FILE: allowlist, ...env },
    { log, baseUrl: "http://127.0.0.1:9" },
  );
  const { hostname, port } = new URL(relay.url);
  return { relay, host: hostname, port: Number(port), lines: () => [...captured] };
}

export function sign(body: string | Buffer, secret = WEBHOOK_SECRET): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Headers of a GitHub delivery, as a raw HTTP/1.1 request head (ends with the blank line). */
export function webhookHead(headers: Record<string, string>): string {
  const lines = Object.entries({ host: "relay.test", "content-type": "application/json", ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `POST /api/github/webhooks HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received: () => string;
  /** Resolves when the server sent something containing `text`. */
  receivedText: (text: string) => Promise<void>;
  /** Resolves when the socket closed, with the ms since it was opened. */
  closed: Promise<number>;
}

export function rawConnection(port: number, host = "127.0.0.1"): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const opened = performance.now();
    const socket = connect({ port, host });
    let data = "";
    const waiters: Array<() => void> = [];
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1");
      waiters.forEach((wake) => wake());
    });
    socket.on("error", () => {}); // a reset by the server is an expected outcome; "close" follows
    const closed = new Promise<number>((done) => socket.once("close", () => done(performance.now() - opened)));
    const receivedText = (text: string) =>
      new Promise<void>((done, fail) => {
        const check = () => data.includes(text) && done();
        waiters.push(check);
        check();
        void closed.then(() => (data.includes(text) ? done() : fail(new Error(`closed without sending ${JSON.stringify(text)}; got ${JSON.stringify(data.slice(0, 200))}`))));
      });
    socket.once("connect", () => resolve({ socket, received: () => data, receivedText, closed }));
    socket.once("error", reject);
  });
}

/** Rejects after `ms` (an upper bound on an event the test waits for, never a timing assertion). */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
