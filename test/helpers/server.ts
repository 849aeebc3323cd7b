// Starts the relay on loopback through its own server entry (src/server/), as `npm start` does.
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import type { DispatchService } from "../../src/dispatch/service.js";
import { startServer } from "../../src/server/start.js";
import { TestOctokit, testLog, testPrivateKey } from "./probot.js";

export const WEBHOOK_SECRET = "test-webhook-secret";
export const TICKET_SECRET = "test-ticket-secret-0123456789abcdef0123456789";

export interface RunningRelay {
  url: string;
  dispatch?: DispatchService;
  stop(): Promise<void>;
}

export interface RelayOptions {
  /** GitHub API base URL (a stand-in's apiUrl); default api.github.com, for nock. */
  baseUrl?: string;
  /** Port on 127.0.0.1; default a free one (pick it yourself to know RELAY_PUBLIC_URL up front). */
  port?: number;
  /** Default: testLog (silent unless TEST_LOG_LEVEL is set). */
  log?: Logger;
}

export async function startRelay(env: Record<string, string | undefined>, options: RelayOptions = {}): Promise<RunningRelay> {
  const running = await startServer({
    env: {
      WEBHOOK_SECRET,
      RELAY_TICKET_SECRET: TICKET_SECRET,
      RELAY_REDELIVERY_MINUTES: "0",
      // The reconciler lists open PRs at start: only the tests about it turn it on.
      RELAY_RECONCILE_MINUTES: "0",
      DATA_DIR: tempDir(),
      ...env,
    },
    log: options.log ?? testLog,
    probot: {
      appId: 1,
      privateKey: testPrivateKey(),
      secret: WEBHOOK_SECRET,
      ...(options.baseUrl && { baseUrl: options.baseUrl }),
      Octokit: TestOctokit,
    },
    host: "127.0.0.1",
    port: options.port ?? 0,
  });
  return { url: running.url, ...(running.relay && { dispatch: running.relay.dispatch }), stop: () => running.stop() };
}

/**
 * The relay wired to a GitHub stand-in (as a GitHub Enterprise host) with `allowlist` as its local
 * allowlist file, and optionally a local OIDC issuer for callbacks.
 */
export async function startRelayAgainst(
  github: { host: string; apiUrl: string },
  allowlist: string,
  env: Record<string, string> = {},
): Promise<RunningRelay> {
  const file = path.join(tempDir(), "allowlist.yml");
  writeFileSync(file, allowlist);
  return startRelay({ ALLOWLIST_FILE: file, GHE_HOST: github.host, GHE_PROTOCOL: "http", ...env }, { baseUrl: github.apiUrl });
}

/** Delivers a webhook the way GitHub does: JSON body signed with the webhook secret. */
export async function deliver(relay: { url: string }, name: string, payload: unknown, id = "delivery-1"): Promise<Response> {
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

/** A fresh directory under the OS temp dir (tests never write into the working tree). */
export function tempDir(prefix = "relay-test-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
