// Starts the relay on loopback through Probot's own Server, as `probot run` does.
import { createHmac } from "node:crypto";
import { Probot, ProbotOctokit, Server } from "probot";
import { createApp } from "../../src/index.js";
import { testLog, testPrivateKey } from "./probot.js";

export const WEBHOOK_SECRET = "test-webhook-secret";

export interface RunningRelay {
  url: string;
  stop(): Promise<void>;
}

export async function startRelay(env: Record<string, string | undefined>): Promise<RunningRelay> {
  const server = new Server({
    host: "127.0.0.1",
    port: 0,
    log: testLog,
    Probot: Probot.defaults({
      appId: 1,
      privateKey: testPrivateKey(),
      secret: WEBHOOK_SECRET,
      log: testLog,
      Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
    }),
  });
  await server.load(createApp({ env }));
  await server.start();
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

/** Delivers a webhook the way GitHub does: JSON body signed with the webhook secret. */
export async function deliver(relay: RunningRelay, name: string, payload: unknown, id = "delivery-1"): Promise<Response> {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;
  return fetch(`${relay.url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": id,
      "x-hub-signature-256": signature,
    },
    body,
  });
}
