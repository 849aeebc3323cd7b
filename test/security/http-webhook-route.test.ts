// The webhook route's contract with its receivers: the first receiver whose secret matches gets the
// event; the answer waits for its handlers (ack after durable); a failing handler is a 500 and one log line.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, expect, it } from "vitest";
import { ByteBudget } from "../../src/http/byte-budget.js";
import { createRouter } from "../../src/http/router.js";
import { createLogger } from "../../src/logging.js";
import { createRequestHandler } from "../../src/server/request-handler.js";
import { webhookRoute, type WebhookReceiver } from "../../src/http/webhook-route.js";
import { sign } from "./http-harness.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(receivers: WebhookReceiver[], budget = new ByteBudget(64 * 1024 * 1024)) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""));
      done();
    },
  });
  const log = await createLogger({ level: "trace", format: "json" }, sink);
  const route = webhookRoute({ path: "/hooks", maxBytes: 1024 * 1024, budget, receivers, log: log.child({ component: "webhooks" }) });
  server = createServer(createRequestHandler([createRouter([route])], log));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const deliver = (payload: unknown, secret: string, id = "d-1") => {
    const body = JSON.stringify(payload);
    return fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign(body, secret) },
      body,
    });
  };
  return { deliver, lines: () => [...lines] };
}

function recorder(name: string, secrets: string[], receive: WebhookReceiver["webhooks"]["receive"] = async () => {}) {
  const received: Array<{ id: string; name: string; payload: unknown }> = [];
  const receiver: WebhookReceiver = {
    name,
    secrets,
    webhooks: {
      receive: async (event) => {
        received.push(event);
        await receive(event);
      },
    },
  };
  return { receiver, received };
}

it("hands the event to the first receiver whose secret matches", async () => {
  const app = recorder("app", ["app-current", "app-previous"]);
  const downstream = recorder("downstream", ["downstream-secret"]);
  const { deliver } = await serve([app.receiver, downstream.receiver]);
  expect((await deliver({ n: 1 }, "app-previous", "to-app")).status).toBe(200);
  expect((await deliver({ n: 2 }, "downstream-secret", "to-downstream")).status).toBe(200);
  expect(app.received).toEqual([{ id: "to-app", name: "push", payload: { n: 1 } }]);
  expect(downstream.received).toEqual([{ id: "to-downstream", name: "push", payload: { n: 2 } }]);
});

it("answers only after the handlers resolved", async () => {
  let release!: () => void;
  const stored = new Promise<void>((resolve) => (release = resolve));
  const app = recorder("app", ["s"], () => stored);
  const { deliver } = await serve([app.receiver]);
  let answered = false;
  const response = deliver({ n: 1 }, "s").then((r) => ((answered = true), r));
  await expect.poll(() => app.received.length).toBe(1);
  expect(answered).toBe(false);
  release();
  expect((await response).status).toBe(200);
});

it("answers 500 with one log line and no payload when a handler throws", async () => {
  const app = recorder("app", ["s"], () =>
    Promise.reject(Object.assign(new Error("store unavailable"), { event: { payload: { marker: "PAYLOAD-MARKER" } } })),
  );
  const { deliver, lines } = await serve([app.receiver]);
  const response = await deliver({ marker: "PAYLOAD-MARKER" }, "s", "failing-delivery");
  expect(response.status).toBe(500);
  expect(await response.text()).not.toContain("store unavailable");
  await expect.poll(() => lines().filter((line) => line.includes("failing-delivery"))).toHaveLength(1);
  expect(JSON.parse(lines().find((line) => line.includes("failing-delivery"))!)).toMatchObject({
    level: 50,
    reason: "handler_failed",
    receiver: "app",
    error: "store unavailable",
  });
  expect(lines().join("\n")).not.toContain("PAYLOAD-MARKER");
});

it("refuses a delivery with 503 while the bodies in flight fill the shared budget, and frees it after", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const app = recorder("app", ["s"], (event) => (event.id === "held" ? held : Promise.resolve()));
  const budget = new ByteBudget(3000);
  const { deliver, lines } = await serve([app.receiver], budget);
  const padding = "x".repeat(2000);
  const first = deliver({ padding }, "s", "held");
  await expect.poll(() => app.received.length).toBe(1);
  expect(budget.inUse).toBeGreaterThan(2000);

  const refused = await deliver({ padding }, "s", "while-busy");
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("5");
  expect(JSON.parse(lines().find((line) => line.includes("while-busy"))!)).toMatchObject({ level: 40, reason: "busy", status: 503 });

  release();
  expect((await first).status).toBe(200);
  expect(budget.inUse).toBe(0);
  expect((await deliver({ padding }, "s", "after")).status).toBe(200);
  expect(budget.inUse).toBe(0);
  expect(app.received.map((event) => event.id)).toEqual(["held", "after"]);
});
