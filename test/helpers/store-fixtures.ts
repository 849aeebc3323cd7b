// Store fixtures shared by the Store contract and the SQLite store's own tests: deliveries, dispatch
// tasks and their dispatch-log rows, as the webhook path stores them.
import type { DispatchLogEntry } from "../../src/domain/dispatches.js";
import type { AcceptedWork, DeliveryRecord, OutboxTaskInput } from "../../src/store/store.js";

/** The stores' clock in these fixtures (times are passed explicitly). */
export const NOW = 1_800_000_000_000;
export const UPSTREAM = "pytorch/pytorch";

export function delivery(id: string, payloadHash = "hash-1"): DeliveryRecord {
  return { id, event: "pull_request", payloadHash };
}

export function dispatchTask(deliveryId: string, repo: string, installationId?: number): OutboxTaskInput {
  const [owner, name] = repo.split("/");
  return {
    key: `dispatch:${deliveryId}:${repo}`,
    kind: "dispatch",
    repo,
    ...(installationId !== undefined && { installationId }),
    request: {
      route: "POST /repos/{owner}/{repo}/dispatches",
      params: { owner, repo: name, event_type: "pytorch-pr-trigger", client_payload: { pr_number: 7, head_sha: "abc" } },
    },
    dispatch: { deliveryId, downstreamRepo: repo },
  };
}

export function logEntry(deliveryId: string, repo: string, extra: Partial<DispatchLogEntry> = {}): DispatchLogEntry {
  return {
    deliveryId,
    downstreamRepo: repo,
    upstreamRepo: UPSTREAM,
    event: "pull_request",
    action: "opened",
    prNumber: 7,
    headSha: "abc",
    backendName: repo.split("/")[1] ?? repo,
    level: "L2",
    outcome: "pending",
    attempts: 0,
    createdAt: NOW,
    ...extra,
  };
}

/** Work for one delivery: a dispatch task and a pending log row per repo. */
export function work(deliveryId: string, repos: string[], installationId?: number): AcceptedWork {
  return {
    tasks: repos.map((repo) => dispatchTask(deliveryId, repo, installationId)),
    log: repos.map((repo) => logEntry(deliveryId, repo)),
  };
}
