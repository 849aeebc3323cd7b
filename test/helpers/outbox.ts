// Outbox work for worker tests: dispatch tasks of one delivery, stored as the webhook path stores them.
import type { Store } from "../../src/store/store.js";

/** Stores dispatches of delivery `d1` to `repos` (all of installation 11), with their dispatch-log rows. */
export function enqueueDispatches(store: Store, createdAt: number, repos: readonly string[]): void {
  store.acceptDelivery(
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
