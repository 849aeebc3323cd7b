// Store.atomically on a real SQLite file: the writes of its function (including store methods that open
// their own transactions, and fact writes) commit together or not at all, nest, and a function returning
// a Promise is refused.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { AcceptedWork, Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";

const NOW = 1_700_000_000_000;
const UPSTREAM = "pytorch/pytorch";

let dataDir: string;
let store: Store;

beforeEach(() => {
  dataDir = tempDir("relay-atomically-");
  store = openSqliteStore(dataDir);
});
afterEach(() => store.close());

/** One dispatch task and its log row: acceptDelivery writes them in a transaction of its own. */
function work(deliveryId: string): AcceptedWork {
  const repo = "acme/npu-backend";
  return {
    tasks: [
      {
        key: `dispatch:${deliveryId}:${repo}`,
        kind: "dispatch",
        repo,
        request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu-backend" } },
        dispatch: { deliveryId, downstreamRepo: repo },
      },
    ],
    log: [
      {
        deliveryId,
        downstreamRepo: repo,
        upstreamRepo: UPSTREAM,
        event: "pull_request",
        headSha: "abc",
        backendName: "npu-backend",
        level: "L2",
        outcome: "pending",
        attempts: 0,
        createdAt: NOW,
      },
    ],
  };
}

/** A delivery's work plus a fact write (the head superseded), each through a store method of its own. */
function acceptAndClose(deliveryId: string, sha: string): void {
  store.acceptDelivery({ id: deliveryId, event: "pull_request", payloadHash: deliveryId }, work(deliveryId), NOW);
  store.putHead({ upstreamRepo: UPSTREAM, headSha: sha, prNumber: 7, state: "superseded", supersededBy: "next", stateChangedAt: NOW });
}

/** What a delivery left, as seen from a second connection to the same file (so only committed writes). */
function committed(deliveryId: string, sha: string) {
  const reader = openSqliteStore(dataDir);
  try {
    return { delivery: reader.hasDelivery(deliveryId), log: reader.dispatchLog(deliveryId).length, closed: reader.head({ upstreamRepo: UPSTREAM, headSha: sha })?.state === "superseded" };
  } finally {
    reader.close();
  }
}

describe("Store.atomically", () => {
  it("commits every write of its function together and returns its result", () => {
    const result = store.atomically(() => {
      acceptAndClose("d1", "sha1");
      return "done";
    });
    expect(result).toBe("done");
    expect(committed("d1", "sha1")).toEqual({ delivery: true, log: 1, closed: true });
  });

  it("rolls back every write, including those of store methods with their own transactions, when its function throws", () => {
    expect(() =>
      store.atomically(() => {
        acceptAndClose("d1", "sha1");
        throw new Error("the last write failed");
      }),
    ).toThrow("the last write failed");
    expect(committed("d1", "sha1")).toEqual({ delivery: false, log: 0, closed: false });
    expect(store.outboxStats().pending).toBe(0);
  });

  it("nests: an inner call that throws undoes its own writes only; an outer throw undoes the inner's too", () => {
    store.atomically(() => {
      acceptAndClose("outer", "sha-outer");
      expect(() =>
        store.atomically(() => {
          acceptAndClose("inner", "sha-inner");
          throw new Error("inner fails");
        }),
      ).toThrow("inner fails");
    });
    expect(committed("outer", "sha-outer")).toEqual({ delivery: true, log: 1, closed: true });
    expect(committed("inner", "sha-inner")).toEqual({ delivery: false, log: 0, closed: false });

    expect(() =>
      store.atomically(() => {
        store.atomically(() => acceptAndClose("nested", "sha-nested"));
        throw new Error("outer fails");
      }),
    ).toThrow("outer fails");
    expect(committed("nested", "sha-nested")).toEqual({ delivery: false, log: 0, closed: false });
  });

  it("refuses a function that returns a Promise, rolling back what it wrote before its first await", async () => {
    let pending: Promise<void> | undefined;
    expect(() =>
      store.atomically(() => {
        acceptAndClose("async", "sha-async");
        pending = Promise.resolve();
        return pending;
      }),
    ).toThrow(/synchronous function/);
    await pending;
    expect(committed("async", "sha-async")).toEqual({ delivery: false, log: 0, closed: false });
    // The store is usable afterwards: no transaction was left open.
    store.atomically(() => acceptAndClose("after", "sha-after"));
    expect(committed("after", "sha-after")).toEqual({ delivery: true, log: 1, closed: true });
  });
});
