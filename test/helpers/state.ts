// Puts a PR head and its dispatch to a backend into a store the way a webhook does (through the state
// core), for tests that start from "the relay dispatched this head".
import type { Allowlist, AllowlistEntry } from "../../src/allowlist/types.js";
import type { StateSettings } from "../../src/state/context.js";
import { acceptDispatches, applyPullRequest } from "../../src/state/pull-requests.js";
import type { Store } from "../../src/store/store.js";

export interface SeededDispatch {
  store: Store;
  allowlist: Allowlist;
  settings: StateSettings;
  entry: AllowlistEntry;
  upstreamRepo: string;
  headSha: string;
  prNumber: number;
  deliveryId: string;
  now: number;
  labels?: string[];
  /** Also store the dispatch's outbox task (its sending moves the dispatch-log row). */
  withTask?: boolean;
}

export async function seedDispatch(seed: SeededDispatch): Promise<void> {
  const { store, entry, upstreamRepo, headSha, prNumber, deliveryId, now } = seed;
  const context = { allowlist: seed.allowlist, settings: seed.settings, now };
  await store.transaction(async (tx) => {
    await applyPullRequest(tx, { upstreamRepo, prNumber, headSha, labels: seed.labels ?? [], closed: false }, context);
    await acceptDispatches(
      tx,
      { id: deliveryId, event: "pull_request", payloadHash: `${deliveryId}:${entry.repo}` },
      {
        tasks: seed.withTask
          ? [{ key: `dispatch:${deliveryId}:${entry.repo}`, kind: "dispatch", repo: entry.repo, request: { route: "POST /repos/{owner}/{repo}/dispatches", params: {} }, dispatch: { deliveryId, downstreamRepo: entry.repo } }]
          : [],
        log: [
          {
            deliveryId,
            downstreamRepo: entry.repo,
            upstreamRepo,
            event: "pull_request",
            action: "opened",
            prNumber,
            headSha,
            backendName: entry.name,
            level: entry.level,
            outcome: "pending",
            attempts: 0,
            createdAt: now,
          },
        ],
      },
      context,
    );
  });
}
