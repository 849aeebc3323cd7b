// Local development with WEBHOOK_PROXY_URL: the relay's server forwards a smee.io-style channel (a
// server-sent event stream, here on loopback) to its webhook route, so a signed delivery sent to the
// channel dispatches like one GitHub posts directly.
import { createHmac } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startRelayAgainst, WEBHOOK_SECRET, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const ALLOWLIST = 'L4:\n  - beta/tpu-backend: "@tpu-oncall"\n';

let github: GitHubStandIn | undefined;
let relay: RunningRelay | undefined;
let channel: ReturnType<typeof createServer> | undefined;
afterEach(async () => {
  await relay?.stop();
  await github?.close();
  channel?.closeAllConnections();
  await new Promise((resolve) => channel?.close(resolve));
});

it("forwards a delivery sent to the WEBHOOK_PROXY_URL channel to the webhook route, signature and all", async () => {
  github = await startGitHubStandIn();
  github.install(1, [UPSTREAM]);
  github.install(12, ["beta/tpu-backend"]);
  const listeners: ServerResponse[] = [];
  channel = createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    response.write(": ready\n\n");
    listeners.push(response);
  });
  await new Promise<void>((resolve) => channel!.listen(0, "127.0.0.1", resolve));
  const source = `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel`;
  relay = await startRelayAgainst(github, ALLOWLIST, { UPSTREAM_REPO: UPSTREAM, WEBHOOK_PROXY_URL: source });
  await expect.poll(() => listeners.length).toBe(1);

  const pr = webhookExample("pull_request", (payload) => payload.action === "opened" && payload.installation);
  pr.pull_request.author_association = "MEMBER";
  const body = JSON.stringify(pr);
  const message = {
    "x-github-event": "pull_request",
    "x-github-delivery": "via-smee-1",
    "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
    body: pr,
  };
  listeners[0]!.write(`data: ${JSON.stringify(message)}\n\n`);
  await expect.poll(() => github!.find("POST", /\/beta\/tpu-backend\/dispatches$/).length, { timeout: 20_000 }).toBe(1);
});
