// The outbox worker on a real SQLite store against the GitHub stand-in: maximum age and dead letters.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutboxWorker } from "../../src/dispatch/outbox-worker.js";
import { writeLimiter } from "../../src/limits/sliding-window.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { InstallationDirectory } from "../../src/upstream/installations.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";

const HOUR = 3_600_000;
let github: GitHubStandIn;
let store: Store;
let worker: OutboxWorker | undefined;

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(11, ["acme/npu-backend"]);
  store = openSqliteStore(tempDir());
});
afterEach(async () => {
  await worker?.stop();
  store.close();
  await github.close();
});

function startWorker(maxAgeMs: number): OutboxWorker {
  const clients = installationClients(testProbot({ baseUrl: github.apiUrl }), createMetrics({ defaultMetrics: false }));
  worker = new OutboxWorker({
    store,
    clients,
    installations: new InstallationDirectory(store, clients, { log: testLog, recheckMs: HOUR }),
    limiter: writeLimiter({ perMinute: 80, perHour: 500 }),
    metrics: createMetrics({ defaultMetrics: false }),
    log: testLog,
    concurrency: 4,
    maxAgeMs,
    requestTimeoutMs: 5000,
  });
  worker.start();
  return worker;
}

function enqueue(createdAt: number): void {
  store.acceptDelivery(
    { id: "d1", event: "pull_request", payloadHash: "h" },
    {
      tasks: [
        {
          key: "dispatch:d1:acme/npu-backend",
          kind: "dispatch",
          repo: "acme/npu-backend",
          installationId: 11,
          request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu-backend", event_type: "t", client_payload: {} } },
          dispatch: { deliveryId: "d1", downstreamRepo: "acme/npu-backend" },
        },
      ],
      log: [
        {
          deliveryId: "d1",
          downstreamRepo: "acme/npu-backend",
          upstreamRepo: "up/stream",
          event: "pull_request",
          headSha: "a".repeat(40),
          backendName: "npu-backend",
          level: "L1",
          outcome: "pending",
          attempts: 0,
          createdAt,
        },
      ],
    },
    createdAt,
  );
}

describe("OutboxWorker", () => {
  it("dead-letters a task older than the maximum age without sending it", async () => {
    enqueue(Date.now() - 2 * HOUR);
    startWorker(HOUR);
    await expect.poll(() => store.dispatchLog("d1")[0]?.outcome).toBe("dead");
    expect(store.dispatchLog("d1")[0]?.reason).toMatch(/^max_age/);
    expect(github.find("POST", /\/dispatches$/)).toEqual([]);
    expect(store.outboxStats()).toMatchObject({ pending: 0, dead: 1 });
  });

  it("dead-letters a task whose next retry would fall past the maximum age", async () => {
    github.script("POST", "/repos/acme/npu-backend/dispatches", [{ status: 503, headers: { "retry-after": "7200" } }]);
    enqueue(Date.now());
    startWorker(HOUR);
    await expect.poll(() => store.dispatchLog("d1")[0]?.outcome).toBe("dead");
    expect(store.dispatchLog("d1")[0]).toMatchObject({ reason: "max_age after http_503", attempts: 1 });
  });

  it("sends with the installation's own token and records the outcome before stopping", async () => {
    github.setDelay("POST", /\/dispatches$/, 300);
    enqueue(Date.now());
    const running = startWorker(HOUR);
    await expect.poll(() => running.inFlight).toBe(1);
    await running.stop();
    expect(store.dispatchLog("d1")[0]).toMatchObject({ outcome: "sent", attempts: 1 });
    expect(github.find("POST", /\/dispatches$/)[0]).toMatchObject({ installationId: 11, status: 204 });
  });
});
