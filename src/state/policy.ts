// A new allowlist version (or a restart with one) changes facts of every open head at once: who is
// shown, at which level, blocking or not. The open heads are reconciled in pages, each page in its own
// transaction, so webhooks and callbacks interleave; the result does not depend on the previous version,
// so a restart compares nothing and misses nothing.
import type { HeadKey, Store } from "../store/store.js";
import type { StateContext } from "./context.js";
import { reconcileBackendHead } from "./reconcile.js";

export interface PageResult {
  heads: number;
  queued: number;
  /** Where the next page starts; undefined when every open head was reconciled. */
  next?: HeadKey;
}

export function reconcileOpenHeadsPage(store: Store, after: HeadKey | undefined, limit: number, context: StateContext): Promise<PageResult> {
  return store.transaction(async (tx) => {
    const heads = await tx.openHeads(after, limit);
    let queued = 0;
    for (const head of heads) {
      for (const backend of await tx.backendHeads(head)) queued += await reconcileBackendHead(tx, head, backend, context);
    }
    const last = heads.at(-1);
    return { heads: heads.length, queued, ...(heads.length === limit && last && { next: last }) };
  });
}
