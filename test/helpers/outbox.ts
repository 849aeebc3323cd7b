// Outbox worker tests: dispatch tasks of one delivery, stored as the webhook path stores them, and a
// worker against a GitHub API (the stand-in) with the relay's default budget.
import { OutboxWorker, type OutboxWorkerOptions } from "../../src/dispatch/outbox-worker.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { writeLimiter } from "../../src/limits/sliding-window.js";
import type { RelayMetrics } from "../../src/metrics.js";
import type { Store } from "../../src/store/store.js";
import { InstallationDirectory } from "../../src/installations/directory.js";
import type { ManualClock } from "./manual-clock.js";
import { testLog, testProbot } from "./probot.js";

const HOUR = 3_600_000;

/**
 * A worker on `store` sending to `apiUrl`, 80/min and 500/h per installation; `options` override the rest.
 * With `clock`, the worker's time and timers are that simulated clock's (so is its installation directory's
 * time): it wakes only when the test advances the clock.
 */
export function outboxWorker(
  store: Store,
  apiUrl: string,
  metrics: RelayMetrics,
  options: Pick<OutboxWorkerOptions, "concurrency" | "maxAgeMs"> & Partial<OutboxWorkerOptions> & { clock?: ManualClock },
): OutboxWorker {
  const { clock, ...overrides } = options;
  const now = overrides.now ?? clock?.now;
  const clients = installationClients(testProbot({ baseUrl: apiUrl }), metrics);
  return new OutboxWorker({
    store,
    clients,
    installations: new InstallationDirectory(store, clients, { log: testLog, recheckMs: HOUR, ...(now && { now }) }),
    limiter: writeLimiter({ perMinute: 80, perHour: 500 }),
    metrics,
    log: testLog,
    requestTimeoutMs: 5000,
    ...(clock && { now: clock.now, schedule: clock.schedule }),
    ...overrides,
  });
}

/** Stores dispatches of delivery `d1` to `repos` (all of installation 11), with their dispatch-log rows. */
export async function enqueueDispatches(store: Store, createdAt: number, repos: readonly string[]): Promise<void> {
  await store.acceptDelivery(
    { id: "d1", event: "pull_request", payloadHash: "h" },
    {
      tasks: repos.map((downstreamRepo) => ({
        key: `dispatch:d1:${downstreamRepo}`,
        kind: "dispatch" as const,
        repo: downstreamRepo,
        installationId: 11,
        request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: downstreamRepo.split("/")[1], event_type: "t", client_payload: {} } },
        dispatch: { deliveryId: "d1", downstreamRepo },
      })),
      log: repos.map((downstreamRepo) => ({
        deliveryId: "d1",
        downstreamRepo,
        upstreamRepo: "up/stream",
        event: "pull_request" as const,
        headSha: "a".repeat(40),
        backendName: downstreamRepo.split("/")[1]!,
        level: "L1",
        outcome: "pending" as const,
        attempts: 0,
        createdAt,
      })),
    },
    createdAt,
  );
}
