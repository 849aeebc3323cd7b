// Re-runs from the PR page: "Re-run" on one of the relay's check runs (check_run rerequested) or on
// its suite (check_suite rerequested). A check run whose external_id names a downstream run re-runs
// that run's failed jobs; one that names only a dispatch (no run ever reported) is dispatched again
// with a fresh ticket.
import type { Logger } from "pino";
import { DispatchPayloadV1 } from "../dispatch/payload.js";
import { signTicket, type TicketKeys } from "../dispatch/ticket.js";
import { httpStatus } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { isRepoSlug, parseRepoSlug } from "../github/repo-name.js";
import type { StateContext } from "../state/context.js";
import { acceptDispatches } from "../state/pull-requests.js";
import type { AcceptedWork, DeliveryRecord, Store, StoreTx } from "../store/store.js";
import type { InstallationDirectory } from "../installations/directory.js";
import { dispatchKey } from "./intake.js";

export type RerequestTarget = { kind: "run"; repo: string; runId: number } | { kind: "dispatch"; deliveryId: string; repo: string };

/** Reads an external_id the relay wrote (`run:<repo>:<id>` or `dispatch:<delivery>:<repo>`). */
export function parseExternalId(externalId: string | null | undefined): RerequestTarget | undefined {
  const run = /^run:([^:]+\/[^:]+):(\d+)$/.exec(externalId ?? "");
  if (run) return { kind: "run", repo: run[1]!, runId: Number(run[2]) };
  const dispatch = /^dispatch:(.+):([^:]+\/[^:]+)$/.exec(externalId ?? "");
  if (dispatch) return { kind: "dispatch", deliveryId: dispatch[1]!, repo: dispatch[2]! };
  return undefined;
}

/**
 * Reads a check run named the production relay's way (`crcr/<owner>/<repo>/…`, external_id `<run id>[:<PR>]`;
 * RELAY_PROFILE=pytorch): the downstream repo and run (0: none reported yet, the aggregate of a dispatch).
 */
export function parseCrcrCheckRun(name: string, externalId: string | null | undefined): { repo: string; runId: number } | undefined {
  const named = /^crcr\/([^/]+)\/([^/]+)\/.+\/.*$/.exec(name);
  const id = /^(\d+)(?::\d*)?$/.exec(externalId ?? "");
  if (!named || !id || !isRepoSlug(`${named[1]}/${named[2]}`)) return undefined;
  return { repo: `${named[1]}/${named[2]}`, runId: Number(id[1]) };
}

export interface RerequestDependencies {
  store: Store;
  clients: InstallationClients;
  installations: InstallationDirectory;
  ticketKeys: TicketKeys;
  ticketTtlSeconds: number;
  log: Logger;
}

/** A dispatch sent again: its new task and dispatch-log row, ready to store. */
interface Redispatch {
  delivery: DeliveryRecord;
  work: AcceptedWork;
  now: number;
}

export interface PreparedRerequest {
  /** What was done or will be once stored, for logs and tests. */
  done: string[];
  /** Stores the dispatches sent again (call it inside the delivery's transaction); false when there are none. */
  store(tx: StoreTx, state: StateContext): Promise<boolean>;
}

/**
 * Acts on each distinct target once. Re-runs of downstream runs are GitHub requests made here; dispatches
 * sent again are only prepared (tickets signed), for the caller to store with the rest of its delivery.
 */
export async function prepareRerequest(targets: readonly RerequestTarget[], newDeliveryId: string, deps: RerequestDependencies): Promise<PreparedRerequest> {
  const done: string[] = [];
  const redispatches: Redispatch[] = [];
  const seen = new Set<string>();
  for (const target of targets) {
    const id = target.kind === "run" ? `run:${target.repo}:${target.runId}` : `dispatch:${target.deliveryId}:${target.repo}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (target.kind === "run") {
      done.push(await rerunFailedJobs(target, deps));
      continue;
    }
    const { outcome, redispatch } = await prepareRedispatch(target, newDeliveryId, deps);
    done.push(outcome);
    if (redispatch) redispatches.push(redispatch);
  }
  return {
    done,
    store: async (tx, state) => {
      for (const { delivery, work, now } of redispatches) await acceptDispatches(tx, delivery, work, { ...state, now });
      return redispatches.length > 0;
    },
  };
}

async function rerunFailedJobs(target: Extract<RerequestTarget, { kind: "run" }>, deps: RerequestDependencies): Promise<string> {
  const installationId = await deps.installations.resolve(target.repo);
  if (installationId === undefined) return `skipped ${target.repo}#${target.runId}: the App is not installed there`;
  const { owner, repo } = parseRepoSlug(target.repo);
  try {
    await (await deps.clients.get(installationId)).request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", {
      owner,
      repo,
      run_id: target.runId,
    });
    return `re-ran failed jobs of ${target.repo}#${target.runId}`;
  } catch (error) {
    const status = httpStatus(error);
    const message = error instanceof Error ? error.message : String(error);
    // GitHub refuses a re-run while the run is still going: nothing to do, the run will report.
    if ((status === 403 || status === 409) && /already running|in progress|is running/i.test(message)) {
      return `${target.repo}#${target.runId} is already running`;
    }
    if (status === 403 || status === 404) {
      deps.log.warn({ repo: target.repo, runId: target.runId, err: message }, "cannot re-run: does the App have actions: write there?");
      return `could not re-run ${target.repo}#${target.runId}: ${message.slice(0, 200)}`;
    }
    throw error;
  }
}

/** The dispatch sent again with a fresh ticket (none when the original is unknown), and what that does. */
async function prepareRedispatch(
  target: Extract<RerequestTarget, { kind: "dispatch" }>,
  newDeliveryId: string,
  deps: RerequestDependencies,
): Promise<{ outcome: string; redispatch?: Redispatch }> {
  const original = await deps.store.taskByKey(dispatchKey(target.deliveryId, target.repo));
  const parsed = DispatchPayloadV1.safeParse(original?.request.params.client_payload);
  if (!original || !parsed.success) return { outcome: `skipped dispatch ${target.deliveryId} to ${target.repo}: the original dispatch is unknown` };
  const old = parsed.data;
  const now = Date.now();
  const ticket = await signTicket(
    {
      deliveryId: newDeliveryId,
      downstreamRepo: target.repo,
      upstreamRepo: old.upstream.repo,
      prNumber: old.pr_number,
      headSha: old.head_sha,
      level: old.backend.level,
    },
    deps.ticketKeys,
    { ttlSeconds: deps.ticketTtlSeconds, now: new Date(now) },
  );
  const payload = DispatchPayloadV1.parse({ ...old, delivery_id: newDeliveryId, ticket });
  const redispatch: Redispatch = {
    delivery: { id: newDeliveryId, event: "rerequest", payloadHash: `${target.deliveryId}:${target.repo}` },
    work: {
      tasks: [
        {
          ...original,
          key: dispatchKey(newDeliveryId, target.repo),
          request: { route: original.request.route, params: { ...original.request.params, client_payload: payload } },
          dispatch: { deliveryId: newDeliveryId, downstreamRepo: target.repo },
        },
      ],
      log: [
        {
          deliveryId: newDeliveryId,
          downstreamRepo: target.repo,
          upstreamRepo: old.upstream.repo,
          event: old.event.name,
          action: "rerequested",
          ...(old.pr_number !== null && { prNumber: old.pr_number }),
          headSha: old.head_sha,
          backendName: old.backend.name,
          level: old.backend.level,
          outcome: "pending",
          attempts: 0,
          createdAt: now,
        },
      ],
    },
    now,
  };
  return { outcome: `dispatched ${target.repo} again for ${old.head_sha.slice(0, 12)}`, redispatch };
}
