// Slow and surplus clients on the real server: partial headers, a stalled body, more connections than the
// cap. Each test waits for the server's own "close", bounded generously; nothing sleeps.
import { afterEach, expect, it } from "vitest";
import { rawConnection, startCapturedRelay, webhookHead, within, type CapturedRelay } from "./http-harness.js";

let relay: CapturedRelay | undefined;
afterEach(async () => {
  await relay?.relay.stop();
  relay = undefined;
});

it("closes a connection that sends its headers a byte at a time after the header timeout", async () => {
  relay = await startCapturedRelay({ RELAY_HTTP_HEADERS_TIMEOUT_SECONDS: "1", RELAY_HTTP_REQUEST_TIMEOUT_SECONDS: "30" });
  const connection = await rawConnection(relay.port);
  const head = "GET /healthz HTTP/1.1\r\nHost: relay.test\r\nX-Padding: ";
  let sent = 0;
  const drip = setInterval(() => {
    if (!connection.socket.destroyed) connection.socket.write(head[sent++ % head.length]!);
  }, 100);
  try {
    const openFor = await within(15_000, connection.closed, "the server closing the slow connection");
    // 1 s of header timeout, checked every second; the rest is slack for a loaded machine.
    expect(openFor).toBeLessThan(10_000);
  } finally {
    clearInterval(drip);
  }
});

it("closes a connection whose body stalls after the request timeout", async () => {
  relay = await startCapturedRelay({ RELAY_HTTP_HEADERS_TIMEOUT_SECONDS: "1", RELAY_HTTP_REQUEST_TIMEOUT_SECONDS: "2" });
  const connection = await rawConnection(relay.port);
  const head = webhookHead({ "content-length": "1000", "x-github-event": "ping", "x-github-delivery": "stalled-body", "x-hub-signature-256": `sha256=${"0".repeat(64)}` });
  connection.socket.write(`${head}{"zen":`);
  const openFor = await within(20_000, connection.closed, "the server closing the stalled upload");
  expect(openFor).toBeLessThan(12_000);
  await expect.poll(() => relay!.lines().filter((line) => line.includes("stalled-body")), { timeout: 5000 }).toHaveLength(1);
  expect(JSON.parse(relay.lines().find((line) => line.includes("stalled-body"))!)).toMatchObject({ aborted: true, delivery: "stalled-body" });
});

it("refuses connections beyond RELAY_HTTP_MAX_CONNECTIONS while the others are held", async () => {
  relay = await startCapturedRelay({ RELAY_HTTP_MAX_CONNECTIONS: "5", RELAY_HTTP_KEEPALIVE_TIMEOUT_SECONDS: "120" });
  const port = relay.port;
  const get = "GET /healthz HTTP/1.1\r\nHost: relay.test\r\n\r\n";
  // Five keep-alive connections, each proven accepted by an answered request.
  const held = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const connection = await rawConnection(port);
      connection.socket.write(get);
      await within(10_000, connection.receivedText('{"status":"ok"}'), "a held connection's answer");
      return connection;
    }),
  );
  const sixth = await rawConnection(port);
  sixth.socket.write(get);
  await within(10_000, sixth.closed, "the server closing the sixth connection");
  expect(sixth.received()).toBe("");
  expect(held.every((connection) => !connection.socket.destroyed)).toBe(true);

  // Once one is released, a new connection is served again.
  held[0]!.socket.destroy();
  await expect
    .poll(
      async () => {
        const next = await rawConnection(port);
        next.socket.write("GET /healthz HTTP/1.1\r\nHost: relay.test\r\nConnection: close\r\n\r\n");
        await next.closed;
        return next.received().startsWith("HTTP/1.1 200");
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  held.forEach((connection) => connection.socket.destroy());
});
