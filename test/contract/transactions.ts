// The Store contract (store-contract.ts) on atomicity: `atomically`, `transaction`, and what `close` does
// to committed and queued writes.
import { describe, expect, it } from "vitest";
import { delivery, NOW, work } from "../helpers/store-fixtures.js";
import { aggregateTask, attempt, backendHead, head, job, KEY } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

/** `atomically`, `transaction` and `close`. */
export function describeTransactions(ctx: StoreContractContext): void {
  describe("atomically", () => {
    /** A delivery's work plus a fact write (the head superseded), each through a store method of its own. */
    function acceptAndClose(deliveryId: string, sha: string): void {
      ctx.store.acceptDelivery(delivery(deliveryId, deliveryId), work(deliveryId, ["acme/npu"]), NOW);
      ctx.store.putHead(head({ headSha: sha, state: "superseded", supersededBy: "next" }));
    }

    /** What a delivery left, as storage has it. */
    async function committed(deliveryId: string, sha: string) {
      const reader = await ctx.stored();
      return {
        delivery: reader.hasDelivery(deliveryId),
        log: reader.dispatchLog(deliveryId).length,
        closed: reader.head({ upstreamRepo: "Up/Stream", headSha: sha })?.state === "superseded",
      };
    }

    it("commits every write of its function together and returns its result", async () => {
      const result = ctx.store.atomically(() => {
        acceptAndClose("d1", "sha1");
        return "done";
      });
      expect(result).toBe("done");
      expect(await committed("d1", "sha1")).toEqual({ delivery: true, log: 1, closed: true });
    });

    it("rolls back every write, including those of store methods with their own transactions, when its function throws", async () => {
      expect(() =>
        ctx.store.atomically(() => {
          acceptAndClose("d1", "sha1");
          ctx.store.putBackendHead(backendHead({ nextSeq: 1 }));
          ctx.store.putLatestAttempt(KEY, attempt("test", 0));
          ctx.store.queueCheckRun(aggregateTask("check:up/stream:npu:abc", "queued"), head(), "h", NOW);
          ctx.store.putJob(job("completed"), { job: "test" }, NOW);
          ctx.store.setInstallation("acme/npu", 11, NOW);
          ctx.store.addCallbackOutcomes([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 1 }], "2026-01-01");
          throw new Error("the last write failed");
        }),
      ).toThrow("the last write failed");
      expect(await committed("d1", "sha1")).toEqual({ delivery: false, log: 0, closed: false });
      expect(ctx.store.outboxStats()).toEqual({ pending: 0, dead: 0 });
      expect(ctx.store.backendHead(KEY)).toBeUndefined();
      expect(ctx.store.latestAttempt(KEY, "ci", "test")).toBeUndefined();
      expect(ctx.store.checkRun("check:up/stream:npu:abc")).toBeUndefined();
      expect(ctx.store.shaJobs("up/stream", "abc")).toEqual([]);
      expect(ctx.store.hudQueueStats()).toEqual({ pending: 0, rejected: 0 });
      expect(ctx.store.getInstallation("acme/npu")).toBeUndefined();
      expect(ctx.store.callbackOutcomes("2000-01-01")).toEqual([]);
    });

    it("nests: an inner call that throws undoes its own writes only; an outer throw undoes the inner's too", async () => {
      ctx.store.atomically(() => {
        acceptAndClose("outer", "sha-outer");
        expect(() =>
          ctx.store.atomically(() => {
            acceptAndClose("inner", "sha-inner");
            throw new Error("inner fails");
          }),
        ).toThrow("inner fails");
      });
      expect(await committed("outer", "sha-outer")).toEqual({ delivery: true, log: 1, closed: true });
      expect(await committed("inner", "sha-inner")).toEqual({ delivery: false, log: 0, closed: false });

      expect(() =>
        ctx.store.atomically(() => {
          ctx.store.atomically(() => acceptAndClose("nested", "sha-nested"));
          throw new Error("outer fails");
        }),
      ).toThrow("outer fails");
      expect(await committed("nested", "sha-nested")).toEqual({ delivery: false, log: 0, closed: false });
    });

    it("refuses a function that returns a Promise, rolling back what it wrote before its first await", async () => {
      let pending: Promise<void> | undefined;
      expect(() =>
        ctx.store.atomically(() => {
          acceptAndClose("async", "sha-async");
          pending = Promise.resolve();
          return pending;
        }),
      ).toThrow(/synchronous/);
      await pending;
      expect(await committed("async", "sha-async")).toEqual({ delivery: false, log: 0, closed: false });
      // The store is usable afterwards: no transaction was left open.
      ctx.store.atomically(() => acceptAndClose("after", "sha-after"));
      expect(await committed("after", "sha-after")).toEqual({ delivery: true, log: 1, closed: true });
    });
  });

  describe("transaction", () => {
    it("commits work queued together, resolving each with its own result once committed", async () => {
      const results = await Promise.all(
        ["t1", "t2", "t3"].map((id, index) =>
          ctx.store.transaction(() => {
            ctx.store.acceptDelivery(delivery(id), work(id, ["acme/npu"]), NOW + index);
            ctx.store.putHead(head({ headSha: id }));
            return `${id} done`;
          }),
        ),
      );
      expect(results).toEqual(["t1 done", "t2 done", "t3 done"]);
      const reader = await ctx.stored();
      for (const id of ["t1", "t2", "t3"]) {
        expect(reader.hasDelivery(id)).toBe(true);
        expect(reader.dispatchLog(id)).toHaveLength(1);
        expect(reader.head({ upstreamRepo: "up/stream", headSha: id })).toBeDefined();
      }
      expect(reader.outboxStats().pending).toBe(3);
    });

    it("rejects a throwing one alone with its own error: its writes are rolled back, the others' kept", async () => {
      const failure = new Error("this one fails");
      const outcomes = await Promise.allSettled([
        ctx.store.transaction(() => {
          ctx.store.rememberDelivery(delivery("ok-1"), NOW);
          return 1;
        }),
        ctx.store.transaction(() => {
          ctx.store.acceptDelivery(delivery("bad"), work("bad", ["acme/npu"]), NOW);
          ctx.store.putHead(head({ headSha: "bad" }));
          throw failure;
        }),
        ctx.store.transaction(() => {
          ctx.store.rememberDelivery(delivery("ok-2"), NOW);
          return 2;
        }),
      ]);
      expect(outcomes).toEqual([
        { status: "fulfilled", value: 1 },
        { status: "rejected", reason: failure },
        { status: "fulfilled", value: 2 },
      ]);
      const reader = await ctx.stored();
      expect([reader.hasDelivery("ok-1"), reader.hasDelivery("bad"), reader.hasDelivery("ok-2")]).toEqual([true, false, true]);
      expect(reader.dispatchLog("bad")).toEqual([]);
      expect(reader.head({ upstreamRepo: "up/stream", headSha: "bad" })).toBeUndefined();
      expect(ctx.store.outboxStats().pending).toBe(0);
    });

    it("refuses a function that returns a Promise, rolling back what it wrote", async () => {
      await expect(
        ctx.store.transaction(() => {
          ctx.store.rememberDelivery(delivery("async"), NOW);
          return Promise.resolve("too late");
        }),
      ).rejects.toThrow(/synchronous/);
      expect((await ctx.stored()).hasDelivery("async")).toBe(false);
      await expect(ctx.store.transaction(() => ctx.store.rememberDelivery(delivery("after"), NOW))).resolves.toBeUndefined();
      expect((await ctx.stored()).hasDelivery("after")).toBe(true);
    });

    it("runs in turn with atomically: each sees the other's committed writes", async () => {
      ctx.store.atomically(() => ctx.store.rememberDelivery(delivery("first"), NOW));
      const seen = await ctx.store.transaction(() => {
        ctx.store.rememberDelivery(delivery("second"), NOW);
        return ctx.store.hasDelivery("first");
      });
      expect(seen).toBe(true);
      expect(ctx.store.atomically(() => ctx.store.hasDelivery("second"))).toBe(true);
    });
  });

  describe("close", () => {
    it("closes the store, keeping what it committed for the next connection", async () => {
      ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      ctx.store.close();
      if (ctx.options.reconnect) {
        const again = await ctx.options.reconnect(ctx.store);
        expect(again.hasDelivery("d1")).toBe(true);
        expect(again.dueTasks(NOW, 10).map((task) => task.key)).toEqual(["dispatch:d1:acme/npu"]);
      }
    });

    it("commits a transaction queued before close, and keeps it for the next connection", async () => {
      const queued = ctx.store.transaction(() => ctx.store.acceptDelivery(delivery("d-queued"), work("d-queued", ["acme/npu"]), NOW));
      ctx.store.close();
      await expect(queued).resolves.toBe("accepted");
      if (ctx.options.reconnect) expect((await ctx.options.reconnect(ctx.store)).hasDelivery("d-queued")).toBe(true);
    });

    it("answers a transaction after close with a rejection, not silence", async () => {
      ctx.store.close();
      await expect(ctx.store.transaction(() => "written")).rejects.toThrow();
    });
  });
}
