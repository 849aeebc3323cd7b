// Unauthenticated callers cannot make the relay buffer bodies: the token is checked before a byte of
// the body is read, and the answer comes at once, closing the connection.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCallbackRig, type CallbackRig } from "./callback-rig.js";

const MIB = 1024 * 1024;
let rig: CallbackRig;

beforeAll(async () => {
  rig = await startCallbackRig({ allowlist: 'L4:\n  - beta/tpu-backend: "@tpu-oncall"\n' });
});
afterAll(() => rig?.close());

/** Sends the head of a callback of `length` bytes and 1 KiB of its body, never the rest; resolves with the raw answer. */
function halfSentCallback(authorization?: string, length = MIB): Promise<{ head: string; ms: number; closed: boolean }> {
  const { hostname, port } = new URL(rig.relay.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve({ head: answer.split("\r\n\r\n")[0] ?? "", ms: Date.now() - started, closed: true }));
    socket.write(
      [
        "POST /relay/callback HTTP/1.1",
        `Host: ${hostname}:${port}`,
        "Content-Type: application/json",
        `Content-Length: ${length}`,
        ...(authorization === undefined ? [] : [`Authorization: ${authorization}`]),
        "",
        "",
      ].join("\r\n"),
    );
    socket.write(`{"summary":"${"x".repeat(1024)}`);
  });
}

describe("unauthenticated callbacks", () => {
  it("answers 100 concurrent half-sent bodies 401 at once, closes them, and buffers nothing", async () => {
    const before = process.memoryUsage();
    const answers = await Promise.all(Array.from({ length: 100 }, () => halfSentCallback()));
    const after = process.memoryUsage();

    for (const answer of answers) {
      expect(answer.head).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer.head.toLowerCase()).toContain("connection: close");
      expect(answer.closed).toBe(true);
      expect(answer.ms).toBeLessThan(5000);
    }
    // The relay runs in this process; 100 bodies of 1 MiB buffered would be 100 MiB.
    expect(after.rss - before.rss).toBeLessThan(64 * MIB);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(32 * MIB);
  });

  it("gives each malformed Authorization header its own message without reading the body", async () => {
    const cases: Array<[string, RegExp]> = [
      ["Basic dXNlcjpwYXNz", /Authorization header must be `Bearer <OIDC token>`/],
      ["Bearer not-a-jwt", /token is not a JWT/],
      [`Bearer ${"a".repeat(9000)}.b.c`, /longer than 8192 characters/],
    ];
    for (const [header, message] of cases) {
      const answer = await halfSentCallback(header);
      expect(answer.head).toMatch(/^HTTP\/1\.1 401 /);
      const response = await fetch(`${rig.relay.url}/relay/callback`, { method: "POST", headers: { authorization: header }, body: "{}" });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toMatch(message);
    }
  });

  it("answers a verified caller's oversized body 413 from its Content-Length, without reading it", async () => {
    const answer = await halfSentCallback(`Bearer ${await rig.oidc.mint({ repository: "beta/tpu-backend" })}`, MIB + 1);
    expect(answer.head).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.ms).toBeLessThan(5000);
  });
});
