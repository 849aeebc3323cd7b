// The Store contract (store-contract.ts) on atomicity: `transaction` (its work's writes through `tx` commit
// or roll back together, work queued at the same moment fails alone, `tx` is refused once its work settled,
// reads outside a transaction see only committed state), and what `close` does to committed and queued writes.
import { describe, expect, it } from "vitest";
import { delivery, NOW, work } from "../helpers/store-fixtures.js";
import type { StoreTx } from "../../src/store/store.js";
import { aggregateTask, attempt, backendHead, head, job, KEY } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

/** `transaction` and `close`. */
export function describeTransactions(ctx: StoreContractContext): void {
  /** A delivery's work plus a fact write (the head superseded), each through a method of its own. */
  async function acceptAndClose(tx: StoreTx, deliveryId: string, sha: string): Promise<void> {
    await tx.acceptDelivery(delivery(deliveryId, deliveryId), work(deliveryId, ["acme/npu"]), NOW);
    await tx.putHead(head({ headSha: sha, state: "superseded", supersededBy: "next" }));
  }

  /** What a delivery left, as storage has it. */
  async function committed(deliveryId: string, sha: string) {
    const reader = await ctx.stored();
    return {
      delivery: await reader.hasDelivery(deliveryId),
      log: (await reader.dispatchLog(deliveryId)).length,
      closed: (await reader.head({ upstreamRepo: "Up/Stream", headSha: sha }))?.state === "superseded",
    };
  }

  describe("transaction", () => {
    it("commits every write of its work together and resolves with its result once committed", async () => {
      const result = await ctx.store.transaction(async (tx) => {
        await acceptAndClose(tx, "d1", "sha1");
        // The work reads its own writes.
        expect(await tx.hasDelivery("d1")).toBe(true);
        return "done";
      });
      expect(result).toBe("done");
      expect(await committed("d1", "sha1")).toEqual({ delivery: true, log: 1, closed: true });
    });

    /** Writes through every kind of method, including those with transactions of their own. */
    async function writeEverything(tx: StoreTx): Promise<void> {
      await acceptAndClose(tx, "d1", "sha1");
      await tx.putBackendHead(backendHead({ nextSeq: 1 }));
      await tx.putLatestAttempt(KEY, attempt("test", 0));
      await tx.queueCheckRun(aggregateTask("check:up/stream:npu:abc", "queued"), head(), "h", NOW);
      await tx.putJob(job("completed"), { job: "test" }, NOW);
      await tx.setInstallation("acme/npu", 11, NOW);
      await tx.addCallbackOutcomes([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 1 }], "2026-01-01");
    }

    const failingWorks: [string, (failure: Error) => (tx: StoreTx) => Promise<never>][] = [
      [
        "throws after awaiting its writes",
        (failure) => async (tx) => {
          await writeEverything(tx);
          throw failure;
        },
      ],
      ["returns a promise that rejects after its writes", (failure) => (tx) => writeEverything(tx).then(() => Promise.reject(failure))],
    ];

    it.each(failingWorks)(
      "rolls back every write, including those of methods with transactions of their own, when its work %s",
      async (_shape, failingWork) => {
        const failure = new Error("the last write failed");
        await expect(ctx.store.transaction(failingWork(failure))).rejects.toBe(failure);
        expect(await committed("d1", "sha1")).toEqual({ delivery: false, log: 0, closed: false });
        expect(await ctx.store.outboxStats()).toEqual({ pending: 0, dead: 0 });
        expect(await ctx.store.backendHead(KEY)).toBeUndefined();
        expect(await ctx.store.latestAttempt(KEY, "ci", "test")).toBeUndefined();
        expect(await ctx.store.checkRun("check:up/stream:npu:abc")).toBeUndefined();
        expect(await ctx.store.shaJobs("up/stream", "abc")).toEqual([]);
        expect(await ctx.store.hudQueueStats()).toEqual({ pending: 0, rejected: 0 });
        expect(await ctx.store.getInstallation("acme/npu")).toBeUndefined();
        expect(await ctx.store.callbackOutcomes("2000-01-01")).toEqual([]);
        // The store is usable afterwards: no transaction was left open.
        await ctx.store.transaction((tx) => acceptAndClose(tx, "after", "sha-after"));
        expect(await committed("after", "sha-after")).toEqual({ delivery: true, log: 1, closed: true });
      },
    );

    it("rejects a work that throws before writing anything, and stays usable", async () => {
      const failure = new Error("nothing to do");
      await expect(
        ctx.store.transaction(() => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      await ctx.store.transaction((tx) => acceptAndClose(tx, "after", "sha-after"));
      expect(await committed("after", "sha-after")).toEqual({ delivery: true, log: 1, closed: true });
    });

    it("runs methods with transactions of their own as part of it: they see its earlier writes and commit with it", async () => {
      const key = "check:up/stream:npu:abc";
      const outcome = await ctx.store.transaction(async (tx) => {
        const first = await tx.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        const again = await tx.acceptDelivery(delivery("d1"), work("d1", ["beta/xpu"]), NOW + 1);
        await tx.queueCheckRun(aggregateTask(key, "queued"), head(), "hash-1", NOW);
        await tx.queueCheckRun(aggregateTask(key, "completed"), head(), "hash-2", NOW + 1);
        await tx.addCallbackOutcomes([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 1 }], "2026-01-01");
        await tx.addCallbackOutcomes([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 }], "2026-01-01");
        return [first, again, (await tx.outboxStats()).pending];
      });
      expect(outcome).toEqual(["accepted", "duplicate", 2]);
      const reader = await ctx.stored();
      expect((await reader.dispatchLog("d1")).map((entry) => entry.downstreamRepo)).toEqual(["acme/npu"]);
      expect(await reader.taskByKey(key)).toMatchObject({ version: 1, request: { params: { status: "completed" } } });
      expect(await reader.checkRun(key)).toStrictEqual({ desiredHash: "hash-2" });
      expect(await reader.callbackOutcomes("2000-01-01")).toEqual([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 3 }]);
      expect((await reader.outboxStats()).pending).toBe(2);
    });

    it("commits work queued together, resolving each with its own result once committed", async () => {
      const results = await Promise.all(
        ["t1", "t2", "t3"].map((id, index) =>
          ctx.store.transaction(async (tx) => {
            await tx.acceptDelivery(delivery(id), work(id, ["acme/npu"]), NOW + index);
            await tx.putHead(head({ headSha: id }));
            return `${id} done`;
          }),
        ),
      );
      expect(results).toEqual(["t1 done", "t2 done", "t3 done"]);
      const reader = await ctx.stored();
      for (const id of ["t1", "t2", "t3"]) {
        expect(await reader.hasDelivery(id)).toBe(true);
        expect(await reader.dispatchLog(id)).toHaveLength(1);
        expect(await reader.head({ upstreamRepo: "up/stream", headSha: id })).toBeDefined();
      }
      expect((await reader.outboxStats()).pending).toBe(3);
    });

    it("rejects a failing one alone with its own error: its writes are rolled back, the others' kept", async () => {
      const failure = new Error("this one fails");
      const outcomes = await Promise.allSettled([
        ctx.store.transaction(async (tx) => {
          await tx.rememberDelivery(delivery("ok-1"), NOW);
          return 1;
        }),
        ctx.store.transaction(async (tx) => {
          await tx.acceptDelivery(delivery("bad"), work("bad", ["acme/npu"]), NOW);
          await tx.putHead(head({ headSha: "bad" }));
          throw failure;
        }),
        ctx.store.transaction(async (tx) => {
          await tx.rememberDelivery(delivery("ok-2"), NOW);
          return 2;
        }),
      ]);
      expect(outcomes).toEqual([
        { status: "fulfilled", value: 1 },
        { status: "rejected", reason: failure },
        { status: "fulfilled", value: 2 },
      ]);
      const reader = await ctx.stored();
      expect([await reader.hasDelivery("ok-1"), await reader.hasDelivery("bad"), await reader.hasDelivery("ok-2")]).toEqual([true, false, true]);
      expect(await reader.dispatchLog("bad")).toEqual([]);
      expect(await reader.head({ upstreamRepo: "up/stream", headSha: "bad" })).toBeUndefined();
      expect((await ctx.store.outboxStats()).pending).toBe(0);
    });

    const firstFailures: [string, (failure: Error) => (tx: StoreTx) => Promise<never>][] = [
      [
        "after its writes",
        (failure) => async (tx) => {
          await tx.acceptDelivery(delivery("bad"), work("bad", ["acme/npu"]), NOW);
          await tx.setInstallation("acme/npu", 11, NOW);
          await tx.putHead(head({ state: "closed" }));
          throw failure;
        },
      ],
      [
        "before writing anything",
        (failure) => () => {
          throw failure;
        },
      ],
    ];

    it.each(firstFailures)("keeps the writes of a transaction started in the same tick as one that fails %s", async (_when, failingWork) => {
      const failure = new Error("the first one fails");
      const failing = ctx.store.transaction(failingWork(failure));
      const kept = ctx.store.transaction(async (tx) => {
        await tx.acceptDelivery(delivery("good"), work("good", ["beta/xpu"]), NOW);
        await tx.setInstallation("beta/xpu", 22, NOW);
        await tx.putHead(head({ headSha: "def" }));
        return "kept";
      });
      await expect(failing).rejects.toBe(failure);
      await expect(kept).resolves.toBe("kept");

      const reader = await ctx.stored();
      expect(await reader.hasDelivery("good")).toBe(true);
      expect((await reader.dispatchLog("good")).map((entry) => entry.downstreamRepo)).toEqual(["beta/xpu"]);
      expect(await reader.getInstallation("beta/xpu")).toMatchObject({ installationId: 22 });
      expect(await reader.head({ upstreamRepo: "up/stream", headSha: "def" })).toMatchObject({ state: "open" });
      expect((await reader.dueTasks(NOW, 10)).map((task) => task.key)).toEqual(["dispatch:good:beta/xpu"]);
      expect(await reader.hasDelivery("bad")).toBe(false);
      expect(await reader.getInstallation("acme/npu")).toBeUndefined();
      expect(await reader.head({ upstreamRepo: "up/stream", headSha: "abc" })).toBeUndefined();
    });

    it("accepts a work that returns a plain value, not a promise", async () => {
      expect(await ctx.store.transaction(() => "plain")).toBe("plain");
      expect(await ctx.store.transaction(() => undefined)).toBeUndefined();
      // A work that is not async, returning a tx call's promise as its result.
      expect(await ctx.store.transaction((tx) => tx.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW))).toBe("accepted");
      expect(await (await ctx.stored()).hasDelivery("d1")).toBe(true);
    });

    it("runs in turn: a transaction sees what earlier ones committed, and the store what it committed", async () => {
      await ctx.store.transaction((tx) => tx.rememberDelivery(delivery("first"), NOW));
      const seen = await ctx.store.transaction(async (tx) => {
        await tx.rememberDelivery(delivery("second"), NOW);
        return tx.hasDelivery("first");
      });
      expect(seen).toBe(true);
      expect(await ctx.store.hasDelivery("second")).toBe(true);
    });

    it.each([
      ["commits", false],
      ["rolls back", true],
    ] as const)("refuses its tx once the work settled (the transaction %s), writing nothing through it", async (_outcome, fails) => {
      const failure = new Error("work fails");
      let leaked: StoreTx | undefined;
      const running = ctx.store.transaction(async (tx) => {
        leaked = tx;
        await tx.rememberDelivery(delivery("inside"), NOW);
        if (fails) throw failure;
        return "settled";
      });
      if (fails) await expect(running).rejects.toBe(failure);
      else await expect(running).resolves.toBe("settled");
      if (!leaked) throw new Error("the work did not run");

      await expect(leaked.rememberDelivery(delivery("late"), NOW)).rejects.toThrow();
      await expect(leaked.acceptDelivery(delivery("late-work"), work("late-work", ["acme/npu"]), NOW)).rejects.toThrow();
      await expect(leaked.putHead(head({ headSha: "late" }))).rejects.toThrow();
      await expect(leaked.hasDelivery("inside")).rejects.toThrow();

      const reader = await ctx.stored();
      expect(await reader.hasDelivery("inside")).toBe(!fails);
      expect(await reader.hasDelivery("late")).toBe(false);
      expect(await reader.hasDelivery("late-work")).toBe(false);
      expect(await reader.head({ upstreamRepo: "up/stream", headSha: "late" })).toBeUndefined();
      expect(await reader.outboxStats()).toEqual({ pending: 0, dead: 0 });
      // The store itself is not affected.
      await ctx.store.rememberDelivery(delivery("after"), NOW);
      expect(await ctx.store.hasDelivery("after")).toBe(true);
    });

    it("never lets a read on the store see writes of a running transaction that are later rolled back", async () => {
      await ctx.store.putHead(head());
      const failure = new Error("rolled back");
      const running = ctx.store.transaction(async (tx) => {
        await tx.putHead(head({ state: "closed", stateChangedAt: NOW + 1 }));
        await tx.putHead(head({ headSha: "uncommitted" }));
        await tx.rememberDelivery(delivery("uncommitted"), NOW);
        throw failure;
      });
      // Reads issued right away and at each of the next few microtask turns: whether one runs before the
      // transaction or waits for it to end is the implementation's (SQLite starts its group of transactions
      // on the next event-loop turn, so these run before it); either way none sees its writes.
      const reads: Promise<unknown>[] = [];
      for (let turn = 0; turn < 10; turn += 1) {
        reads.push(
          Promise.all([
            ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" }),
            ctx.store.head({ upstreamRepo: "up/stream", headSha: "uncommitted" }),
            ctx.store.hasDelivery("uncommitted"),
          ]),
        );
        await Promise.resolve();
      }
      await expect(running).rejects.toBe(failure);
      for (const read of reads) expect(await read).toStrictEqual([head(), undefined, false]);
      expect(await ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toStrictEqual(head());
    });

    it("lets a read on the store made while a transaction runs see the state before or after it, nothing in between", async () => {
      await ctx.store.putHead(head());
      const running = ctx.store.transaction(async (tx) => {
        await tx.putHead(head({ state: "closed", stateChangedAt: NOW + 1 }));
        await tx.putHead(head({ state: "superseded", supersededBy: "def", stateChangedAt: NOW + 2 }));
        await tx.putHead(head({ state: "closed", stateChangedAt: NOW + 3 }));
        return "committed";
      });
      const reads: Promise<unknown>[] = [];
      for (let turn = 0; turn < 10; turn += 1) {
        reads.push(ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" }));
        await Promise.resolve();
      }
      await expect(running).resolves.toBe("committed");
      const after = head({ state: "closed", stateChangedAt: NOW + 3 });
      for (const read of reads) expect([head(), after]).toContainEqual(await read);
      expect(await ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toStrictEqual(after);
    });
  });

  describe("close", () => {
    it("closes the store, keeping what it committed for the next connection", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      await ctx.store.close();
      if (ctx.options.reconnect) {
        const again = await ctx.options.reconnect(ctx.store);
        expect(await again.hasDelivery("d1")).toBe(true);
        expect((await again.dueTasks(NOW, 10)).map((task) => task.key)).toEqual(["dispatch:d1:acme/npu"]);
      }
    });

    it("commits a transaction queued before close, and keeps it for the next connection", async () => {
      const queued = ctx.store.transaction((tx) => tx.acceptDelivery(delivery("d-queued"), work("d-queued", ["acme/npu"]), NOW));
      const closed = ctx.store.close();
      await expect(queued).resolves.toBe("accepted");
      await closed;
      if (ctx.options.reconnect) expect(await (await ctx.options.reconnect(ctx.store)).hasDelivery("d-queued")).toBe(true);
    });

    it("answers a transaction or a call after close with a rejection, not silence; closing again is harmless", async () => {
      await ctx.store.close();
      await expect(ctx.store.transaction(() => "written")).rejects.toThrow(/closed/);
      await expect(ctx.store.hasDelivery("d1")).rejects.toThrow(/closed/);
      await expect(ctx.store.rememberDelivery(delivery("d1"), NOW)).rejects.toThrow(/closed/);
      await expect(ctx.store.close()).resolves.toBeUndefined();
    });
  });
}
