// workflow_run / workflow_job deliveries from downstream repos → run facts of the dispatch they belong to.
// Registered on the main App (installed on downstream repos) and, in the two-App setup, on the
// downstream App. Cheap for the runs that do not matter: a repo not in the allowlist, an event other than
// repository_dispatch or a malformed payload is dropped without touching the store; a run without the
// relay's marker costs one indexed read (was it linked by a report?), never a write.
import type { Allowlist } from "../allowlist/types.js";
import { findEntry } from "../allowlist/policy.js";
import type { RelayConfig } from "../config.js";
import type { RelayMetrics } from "../metrics.js";
import { stateContextOf } from "../state/settings.js";
import { recordJobEvent, recordRunEvent } from "../state/runs.js";
import type { Store } from "../store/store.js";
import { parseWorkflowJob, parseWorkflowRun } from "./events.js";

export const RUN_EVENTS = ["workflow_run", "workflow_job"] as const;
export type RunEventName = (typeof RUN_EVENTS)[number];

export interface RunEventDependencies {
  config: RelayConfig;
  store: () => Store;
  allowlist: () => Allowlist | undefined;
  metrics: RelayMetrics;
  /** New outbox work was stored (wakes the worker). */
  onWork: () => void;
}

/** Handles one workflow_run or workflow_job delivery; resolves once its effects are stored. */
export function runEventHandler(deps: RunEventDependencies): (name: RunEventName, payload: unknown) => Promise<void> {
  return async (name, payload) => {
    const outcome = await handle(name, payload, deps);
    deps.metrics.webhooks.inc({ event: name, outcome });
  };
}

async function handle(name: RunEventName, payload: unknown, deps: RunEventDependencies): Promise<"accepted" | "ignored"> {
  const allowlist = deps.allowlist();
  const repo = repositoryOf(payload);
  if (!allowlist || repo === undefined || !findEntry(allowlist, repo)) return "ignored";
  const store = deps.store();
  const context = () => stateContextOf(deps.config, allowlist);
  let queued: number;
  if (name === "workflow_run") {
    const parsed = parseWorkflowRun(payload);
    if (!parsed) return "ignored";
    const deliveryId = parsed.deliveryId ?? (await store.trackedRun(parsed.downstreamRepo, parsed.event.runId));
    if (deliveryId === undefined) return "ignored";
    queued = await store.transaction((tx) => recordRunEvent(tx, { deliveryId, downstreamRepo: parsed.downstreamRepo }, parsed.event, context()));
  } else {
    const parsed = parseWorkflowJob(payload);
    if (!parsed || (await store.trackedRun(parsed.downstreamRepo, parsed.event.runId)) === undefined) return "ignored";
    queued = await store.transaction((tx) => recordJobEvent(tx, parsed.downstreamRepo, parsed.event, context()));
  }
  if (queued > 0) deps.onWork();
  return "accepted";
}

function repositoryOf(payload: unknown): string | undefined {
  const repository = (payload as { repository?: { full_name?: unknown } } | null)?.repository;
  return typeof repository?.full_name === "string" ? repository.full_name : undefined;
}
