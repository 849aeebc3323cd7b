// Every response carries X-Content-Type-Options: nosniff, whichever handler answered it.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCapturedRelay, type CapturedRelay } from "./http-harness.js";

let relay: CapturedRelay;
beforeAll(async () => {
  relay = await startCapturedRelay();
});
afterAll(() => relay.relay.stop());

it.each([
  ["GET", "/healthz"],
  ["GET", "/readyz"],
  ["GET", "/metrics"],
  ["GET", "/hud"],
  ["GET", "/no/such/page"],
  ["GET", "/api/github/webhooks"],
  ["POST", "/api/github/webhooks"],
  ["POST", "/relay/callback"],
])("%s %s answers with nosniff", async (method, path) => {
  const response = await fetch(`${relay.relay.url}${path}`, { method, ...(method === "POST" && { body: "{}" }) });
  await response.arrayBuffer();
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
});

it("answers an unknown path with 404", async () => {
  expect((await fetch(`${relay.relay.url}/no/such/page`)).status).toBe(404);
});
