// Unauthenticated clients that send webhook bodies at full speed to just under the cap and then hold
// them cannot make the relay keep more than the shared body budget: the next body gets 503 `busy`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConnection, sign, startCapturedRelay, webhookHead, within, type CapturedRelay, type RawConnection } from "./http-harness.js";

const MiB = 1024 * 1024;
let relay: CapturedRelay;
beforeAll(async () => {
  relay = await startCapturedRelay({ RELAY_WEBHOOK_MAX_BYTES: String(MiB), RELAY_WEBHOOK_INFLIGHT_BYTES: String(2 * MiB) });
});
afterAll(() => relay.relay.stop());

/** Declares a 1 MiB body and sends all of it but the last byte, then holds the connection. */
async function heldBody(delivery: string): Promise<RawConnection> {
  const connection = await rawConnection(relay.port);
  const body = "x".repeat(MiB - 1);
  connection.socket.write(webhookHead({ "content-length": String(MiB), "x-github-event": "push", "x-github-delivery": delivery, "x-hub-signature-256": sign("{}") }));
  connection.socket.write(body);
  return connection;
}

const bytesInFlight = async () => {
  const metrics = await (await fetch(`${relay.relay.url}/metrics`)).text();
  return Number(/^relay_webhook_body_bytes_in_flight (\d+)/m.exec(metrics)?.[1]);
};

describe("the shared webhook body budget", () => {
  it("holds at most the budget for bodies that never finish, refuses the next with 503, and frees it when they go", async () => {
    const held = [await heldBody("held-1"), await heldBody("held-2")];
    // Both bodies are in memory (all but their last byte): almost the whole 2 MiB budget.
    await expect.poll(bytesInFlight, { timeout: 10_000, interval: 20 }).toBe(2 * (MiB - 1));

    const third = await heldBody("held-3");
    await within(10_000, third.receivedText("\r\n\r\n"), "the 503");
    expect(third.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(third.received().toLowerCase()).toContain("retry-after: 5");
    await within(10_000, third.closed, "the server closing the refused connection");
    expect(await bytesInFlight()).toBe(2 * (MiB - 1));
    expect(relay.lines().filter((line) => line.includes("held-3")).map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ reason: "busy", status: 503, event: "push" }),
    ]);

    for (const connection of held) connection.socket.destroy();
    await expect.poll(bytesInFlight, { timeout: 10_000, interval: 20 }).toBe(0);
    // A delivery that fits is read again (here refused for its signature, after the body was read).
    const body = JSON.stringify({ zen: "again" });
    const answer = await fetch(`${relay.relay.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "after", "x-hub-signature-256": sign(body, "wrong") },
      body,
    });
    expect(answer.status).toBe(401);
  });
});
