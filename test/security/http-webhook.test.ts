// The webhook route on the real server: bodies bounded before they are read, signatures checked against
// the current and previous secret, one log line per refused delivery and never a byte of its body.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_SECRET } from "../helpers/server.js";
import { rawConnection, sign, startCapturedRelay, webhookHead, within, type CapturedRelay } from "./http-harness.js";

const MiB = 1024 * 1024;
const PREVIOUS_SECRET = "previous-webhook-secret";

let relay: CapturedRelay;
beforeAll(async () => {
  relay = await startCapturedRelay({ RELAY_WEBHOOK_MAX_BYTES: String(MiB), WEBHOOK_SECRET_PREVIOUS: PREVIOUS_SECRET });
});
afterAll(() => relay.relay.stop());

const post = (body: string, headers: Record<string, string>) =>
  fetch(`${relay.relay.url}/api/github/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "ping", ...headers },
    body,
  });

const linesWith = (text: string) => relay.lines().filter((line) => line.includes(text));

describe("body size", () => {
  it("answers 413 to a declared 100 MiB body without reading it", async () => {
    const rss = process.memoryUsage().rss;
    const connection = await rawConnection(relay.port);
    const body = "x".repeat(64 * 1024);
    connection.socket.write(
      webhookHead({ "content-length": String(100 * MiB), "x-github-event": "push", "x-github-delivery": "huge-declared", "x-hub-signature-256": sign(body) }) + body,
    );
    await within(10_000, connection.receivedText("\r\n\r\n"), "the 413");
    expect(connection.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(connection.received().toLowerCase()).toContain("connection: close");
    await within(10_000, connection.closed, "the server closing the connection");
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * MiB);
    expect(linesWith("huge-declared")).toHaveLength(1);
    expect(JSON.parse(linesWith("huge-declared")[0]!)).toMatchObject({ level: 40, reason: "too_large", size: 100 * MiB, event: "push" });
  });

  it("stops reading a chunked body once it passes the cap and answers 413", async () => {
    const rss = process.memoryUsage().rss;
    const connection = await rawConnection(relay.port);
    const { socket } = connection;
    socket.write(webhookHead({ "transfer-encoding": "chunked", "x-github-event": "push", "x-github-delivery": "huge-chunked", "x-hub-signature-256": sign("") }));
    const chunk = Buffer.alloc(64 * 1024, "y");
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    let sent = 0;
    let answered = false;
    void connection.receivedText("\r\n\r\n").then(() => (answered = true), () => {});
    // Stream until the server answers, the connection closes, or 200 MiB went out (the server never cut off).
    while (!answered && !socket.destroyed && sent < 200 * MiB) {
      sent += frame.length;
      if (!socket.write(frame)) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), connection.closed, connection.receivedText("\r\n\r\n").catch(() => {})]);
    }
    await within(10_000, connection.closed, "the server closing the connection");
    expect(connection.received()).toMatch(/^HTTP\/1\.1 413 /);
    // The cap (1 MiB) plus what socket buffers on both ends hold while the server stops reading.
    expect(sent).toBeLessThan(64 * MiB);
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * MiB);
    expect(linesWith("huge-chunked")).toHaveLength(1);
    expect(JSON.parse(linesWith("huge-chunked")[0]!)).toMatchObject({ level: 40, reason: "too_large", status: 413 });
  });
});

describe("signatures", () => {
  it("answers 401 to a bad signature and logs one line without any of the body", async () => {
    const marker = "BODY-MARKER-7f3a9c";
    const body = JSON.stringify({ zen: marker, hook_id: 1 });
    const response = await post(body, { "x-github-delivery": "bad-signature-delivery", "x-hub-signature-256": sign(body, "not-the-secret") });
    expect(response.status).toBe(401);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await response.text()).not.toContain(marker);
    const lines = linesWith("bad-signature-delivery");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, reason: "bad_signature", status: 401, event: "ping", size: Buffer.byteLength(body) });
    expect(relay.lines().join("\n")).not.toContain(marker);
  });

  it("accepts the previous secret during a rotation and refuses an unknown one", async () => {
    const body = JSON.stringify({ zen: "rotation", hook_id: 2 });
    expect((await post(body, { "x-github-delivery": "current", "x-hub-signature-256": sign(body, WEBHOOK_SECRET) })).status).toBe(200);
    expect((await post(body, { "x-github-delivery": "previous", "x-hub-signature-256": sign(body, PREVIOUS_SECRET) })).status).toBe(200);
    expect((await post(body, { "x-github-delivery": "unknown", "x-hub-signature-256": sign(body, "some-other-secret") })).status).toBe(401);
    expect((await post(body, { "x-github-delivery": "malformed", "x-hub-signature-256": "sha256=zz" })).status).toBe(401);
  });

  it("requires GitHub's headers and JSON before reading anything", async () => {
    const body = JSON.stringify({ zen: "headers" });
    expect((await post(body, { "x-github-delivery": "no-signature" })).status).toBe(400);
    const form = await fetch(`${relay.relay.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-github-event": "ping", "x-github-delivery": "form", "x-hub-signature-256": sign(body) },
      body,
    });
    expect(form.status).toBe(415);
    const notJson = "[1,2]";
    expect((await post(notJson, { "x-github-delivery": "array", "x-hub-signature-256": sign(notJson) })).status).toBe(400);
  });
});
