// The Store contract (store-contract.ts) on the webhook path's writes: deliveries and their tasks, the
// outbox that sends them, and the check runs it queues.
import { describe, expect, it } from "vitest";
import { delivery, dispatchTask, logEntry, NOW, UPSTREAM, work } from "../helpers/store-fixtures.js";
import { aggregateTask, checkRunTask, taskId } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

/** Deliveries, the outbox and check runs. */
export function describeDeliveriesAndOutbox(ctx: StoreContractContext): void {
  describe("deliveries", () => {
    it("stores a delivery's tasks and log, then recognises a redelivery of the same payload", async () => {
      expect(await ctx.store.hasDelivery("d1")).toBe(false);
      expect(await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"]), NOW)).toBe("accepted");
      expect(await ctx.store.hasDelivery("d1")).toBe(true);

      expect(await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["gamma/tpu"]), NOW + 1)).toBe("duplicate");
      expect((await ctx.store.dueTasks(NOW + 1, 10)).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
      expect((await ctx.store.dispatchLog("d1")).map((entry) => entry.downstreamRepo)).toEqual(["acme/npu", "beta/xpu"]);
    });

    it("processes the same id with a different payload, still deduplicating tasks by key", async () => {
      await ctx.store.acceptDelivery(delivery("d1", "hash-1"), work("d1", ["acme/npu"]), NOW);
      expect(await ctx.store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["acme/npu", "beta/xpu"]), NOW + 1)).toBe("accepted");
      expect((await ctx.store.dueTasks(NOW + 1, 10)).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
      expect(await ctx.store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["gamma/tpu"]), NOW + 2)).toBe("duplicate");
    });

    it("ignores a task whose key another delivery already stored", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), { tasks: [checkRunTask("abc")], log: [] }, NOW);
      await ctx.store.acceptDelivery(delivery("d2"), { tasks: [checkRunTask("abc")], log: [] }, NOW + 1);
      expect((await ctx.store.outboxStats()).pending).toBe(1);
    });

    it("never resets or repeats a sent dispatch on redelivery, whatever the repo's casing", async () => {
      await ctx.store.acceptDelivery(delivery("d1", "hash-1"), work("d1", ["acme/npu"]), NOW);
      await ctx.store.markSent(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW + 5 });
      await ctx.store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["ACME/NPU"]), NOW + 10);
      expect(await ctx.store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 1, sentAt: NOW + 5 })]);
      expect((await ctx.store.outboxStats()).pending).toBe(0);
    });

    it("returns log rows as given: optional fields absent, not null", async () => {
      const skipped = logEntry("d1", "beta/xpu", { outcome: "skipped", reason: "not_installed" });
      delete skipped.action;
      delete skipped.prNumber;
      await ctx.store.acceptDelivery(delivery("d1"), { tasks: [], log: [logEntry("d1", "acme/npu"), skipped] }, NOW);
      expect(await ctx.store.dispatchLog("d1")).toStrictEqual([logEntry("d1", "acme/npu"), skipped]);
      expect(await ctx.store.dispatchLog("other")).toEqual([]);
    });

    it("remembers a handled delivery without work", async () => {
      await ctx.store.rememberDelivery({ id: "r1", event: "check_run", payloadHash: "h" }, NOW);
      expect(await ctx.store.hasDelivery("r1")).toBe(true);
      expect(await ctx.store.hasDelivery("R1")).toBe(false); // delivery ids are exact
      expect(await ctx.store.outboxStats()).toEqual({ pending: 0, dead: 0 });
      // Remembered, so the same payload under the same id is a duplicate.
      expect(await ctx.store.acceptDelivery({ id: "r1", event: "check_run", payloadHash: "h" }, work("r1", ["acme/npu"]), NOW + 1)).toBe("duplicate");
    });

    it("finds the same payload under another delivery id since a time, never the delivery itself", async () => {
      await ctx.store.acceptDelivery({ id: "d1", event: "push", payloadHash: "h1" }, { tasks: [], log: [] }, NOW);
      await ctx.store.rememberDelivery({ id: "d2", event: "pull_request", payloadHash: "h2" }, NOW + 10);
      expect(await ctx.store.deliveryWithPayload("h1", "d9", NOW)).toBe("d1");
      expect(await ctx.store.deliveryWithPayload("h2", "d9", NOW)).toBe("d2");
      expect(await ctx.store.deliveryWithPayload("h1", "d1", NOW)).toBeUndefined();
      expect(await ctx.store.deliveryWithPayload("h1", "d9", NOW + 1)).toBeUndefined();
      expect(await ctx.store.deliveryWithPayload("h3", "d9", 0)).toBeUndefined();
    });

    it("remembers the latest payload hash of a delivery id", async () => {
      await ctx.store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "pseudo" }, NOW);
      await ctx.store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "real" }, NOW);
      expect(await ctx.store.deliveryWithPayload("real", "d2", NOW)).toBe("d1");
      expect(await ctx.store.deliveryWithPayload("pseudo", "d2", NOW)).toBeUndefined();
    });
  });

  describe("outbox", () => {
    it("returns due tasks as stored, by next attempt then id, up to the limit", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"], 11), NOW);
      await ctx.store.acceptDelivery(delivery("d2"), { tasks: [checkRunTask("abc")], log: [] }, NOW + 10);
      const [first, second, third] = await ctx.store.dueTasks(NOW + 10, 10);
      expect(first).toStrictEqual({
        ...dispatchTask("d1", "acme/npu", 11),
        id: expect.any(Number),
        version: 0,
        attempts: 0,
        createdAt: NOW,
        nextAttemptAt: NOW,
      });
      expect([second?.key, third?.key]).toEqual(["dispatch:d1:beta/xpu", checkRunTask("abc").key]);
      expect(third).not.toHaveProperty("dispatch");

      await ctx.store.scheduleRetry(first!.id, { at: NOW + 20, error: "http_503" });
      expect((await ctx.store.dueTasks(NOW + 10, 10)).map((task) => task.repo)).toEqual(["beta/xpu", UPSTREAM]);
      expect((await ctx.store.dueTasks(NOW + 20, 2)).map((task) => task.repo)).toEqual(["beta/xpu", UPSTREAM]);
      expect((await ctx.store.dueTasks(NOW + 20, 10)).at(-1)).toMatchObject({ repo: "acme/npu", attempts: 1, lastError: "http_503" });
      expect(await ctx.store.dueTasks(NOW - 1, 10)).toEqual([]);
    });

    it("claims tasks for one owner until the lease expires or an outcome is recorded", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu", "gamma/tpu"], 11), NOW);
      const [npu, xpu, tpu] = await Promise.all(["acme/npu", "beta/xpu", "gamma/tpu"].map((repo) => taskId(ctx.store, `dispatch:d1:${repo}`)));
      expect((await ctx.store.claimTasks([npu!, xpu!], "worker-a", NOW, 60_000)).sort()).toEqual([npu!, xpu!].sort());
      // Claimed tasks are not offered to anyone, and not claimable by another owner, until the lease ends.
      expect((await ctx.store.dueTasks(NOW + 1, 10)).map((task) => task.repo)).toEqual(["gamma/tpu"]);
      expect(await ctx.store.claimTasks([npu!, tpu!], "worker-b", NOW + 1, 60_000)).toEqual([tpu!]);
      expect(await ctx.store.dueTasks(NOW + 1, 10)).toEqual([]);
      expect(await ctx.store.nextDueAt()).toBe(NOW + 60_000);
      // The owner may renew its own claim.
      expect(await ctx.store.claimTasks([npu!], "worker-a", NOW + 2, 60_000)).toEqual([npu!]);
      // Recording an outcome releases the claim: a retry is offered again when due.
      await ctx.store.scheduleRetry(xpu!, { at: NOW + 5, error: "http_503" });
      expect((await ctx.store.dueTasks(NOW + 5, 10)).map((task) => task.repo)).toEqual(["beta/xpu"]);
      await ctx.store.deferTask(tpu!, NOW + 6);
      expect((await ctx.store.dueTasks(NOW + 6, 10)).map((task) => task.repo).sort()).toEqual(["beta/xpu", "gamma/tpu"]);
      // An expired claim (its owner died) is offered again and can be taken over.
      expect((await ctx.store.dueTasks(NOW + 60_002, 10)).map((task) => task.repo)).toContain("acme/npu");
      expect(await ctx.store.claimTasks([npu!], "worker-b", NOW + 60_002, 60_000)).toEqual([npu!]);
      // A task no longer pending cannot be claimed.
      await ctx.store.markSent(npu!, { at: NOW + 60_003 });
      expect(await ctx.store.claimTasks([npu!], "worker-a", NOW + 60_004, 60_000)).toEqual([]);
      expect(await ctx.store.claimTasks([], "worker-a", NOW, 60_000)).toEqual([]);
    });

    it("lists the owners of claims on pending tasks and releases one owner's claims", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu", "gamma/tpu"], 11), NOW);
      const [npu, xpu, tpu] = await Promise.all(["acme/npu", "beta/xpu", "gamma/tpu"].map((repo) => taskId(ctx.store, `dispatch:d1:${repo}`)));
      await ctx.store.claimTasks([npu!, xpu!], "worker-a", NOW, 60_000);
      await ctx.store.claimTasks([tpu!], "worker-b", NOW, 60_000);
      expect(await ctx.store.claimOwners()).toEqual(["worker-a", "worker-b"]);
      expect(await ctx.store.releaseClaims("worker-a")).toBe(2);
      expect((await ctx.store.dueTasks(NOW + 1, 10)).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
      expect(await ctx.store.claimOwners()).toEqual(["worker-b"]);
      await ctx.store.markSent(tpu!, { at: NOW + 2 });
      expect(await ctx.store.claimOwners()).toEqual([]);
      expect(await ctx.store.releaseClaims("nobody")).toBe(0);
    });

    it("releases an owner's claims on the given tasks only", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu", "gamma/tpu"], 11), NOW);
      const [npu, xpu, tpu] = await Promise.all(["acme/npu", "beta/xpu", "gamma/tpu"].map((repo) => taskId(ctx.store, `dispatch:d1:${repo}`)));
      await ctx.store.claimTasks([npu!, xpu!], "worker-a", NOW, 60_000);
      await ctx.store.claimTasks([tpu!], "worker-b", NOW, 60_000);
      // Another owner's claim (tpu) is not this owner's to release.
      expect(await ctx.store.releaseClaims("worker-a", [xpu!, tpu!])).toBe(1);
      expect((await ctx.store.dueTasks(NOW + 1, 10)).map((task) => task.repo)).toEqual(["beta/xpu"]);
      expect(await ctx.store.claimTasks([xpu!], "worker-b", NOW + 1, 60_000)).toEqual([xpu!]);
      expect(await ctx.store.releaseClaims("worker-a", [])).toBe(0);
      expect(await ctx.store.claimOwners()).toEqual(["worker-a", "worker-b"]);
    });

    it("leaves out excluded tasks and installations, keeping tasks with no installation", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"], 11), NOW);
      await ctx.store.acceptDelivery(delivery("d2"), work("d2", ["beta/xpu"]), NOW + 1);
      await ctx.store.acceptDelivery(delivery("d3"), work("d3", ["gamma/tpu"], 33), NOW + 2);
      const gamma = await taskId(ctx.store, "dispatch:d3:gamma/tpu");
      const exclude = { excludeIds: [gamma], excludeInstallations: [11] };
      expect((await ctx.store.dueTasks(NOW + 5, 10, exclude)).map((task) => task.repo)).toEqual(["beta/xpu"]);
      expect(await ctx.store.nextDueAt(exclude)).toBe(NOW + 1);
      expect(await ctx.store.nextDueAt({ excludeInstallations: [11, 33], excludeIds: [await taskId(ctx.store, "dispatch:d2:beta/xpu")] })).toBeUndefined();
      expect(await ctx.store.nextDueAt()).toBe(NOW);
    });

    it("leaves out a task without an installation when its repo is recorded under an excluded one", async () => {
      await ctx.store.setInstallation("Beta/XPU", 22, NOW);
      await ctx.store.setInstallation("gamma/tpu", undefined, NOW);
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["beta/xpu"]), NOW); // resolved at send time: 22
      await ctx.store.acceptDelivery(delivery("d2"), work("d2", ["gamma/tpu"]), NOW + 1); // known not to be installed
      await ctx.store.acceptDelivery(delivery("d3"), work("d3", ["delta/npu"], 22), NOW + 2);
      await ctx.store.acceptDelivery(delivery("d4"), work("d4", ["beta/xpu"], 44), NOW + 3); // its own installation wins
      const due = async (exclude: number[]) => (await ctx.store.dueTasks(NOW + 5, 10, { excludeInstallations: exclude })).map((task) => task.key);
      expect(await due([22])).toEqual(["dispatch:d2:gamma/tpu", "dispatch:d4:beta/xpu"]);
      expect(await ctx.store.nextDueAt({ excludeInstallations: [22] })).toBe(NOW + 1);
      expect(await due([44])).toEqual(["dispatch:d1:beta/xpu", "dispatch:d2:gamma/tpu", "dispatch:d3:delta/npu"]);

      // The repo's record is read when asked: once the installation is gone, its repos' tasks are not left out.
      await ctx.store.dropInstallation(22, NOW + 4);
      expect(await due([22])).toEqual(["dispatch:d1:beta/xpu", "dispatch:d2:gamma/tpu", "dispatch:d4:beta/xpu"]);
      expect(await ctx.store.nextDueAt({ excludeInstallations: [22] })).toBe(NOW);
    });

    it("has no next due time when nothing is pending", async () => {
      expect(await ctx.store.nextDueAt()).toBeUndefined();
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      await ctx.store.markSent(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW });
      expect(await ctx.store.nextDueAt()).toBeUndefined();
    });

    it("defers a pending task without counting an attempt", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      const id = await taskId(ctx.store, "dispatch:d1:acme/npu");
      await ctx.store.deferTask(id, NOW + 500);
      expect(await ctx.store.nextDueAt()).toBe(NOW + 500);
      expect(await ctx.store.dueTasks(NOW + 499, 10)).toEqual([]);
      expect(await ctx.store.dueTasks(NOW + 500, 10)).toMatchObject([{ id, attempts: 0, nextAttemptAt: NOW + 500 }]);
      expect((await ctx.store.dispatchLog("d1"))[0]).toMatchObject({ outcome: "pending", attempts: 0 });
    });

    it("marks a task sent in the outbox and its dispatch log", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      const id = await taskId(ctx.store, "dispatch:d1:acme/npu");
      await ctx.store.scheduleRetry(id, { at: NOW + 100, error: "http_502" });
      expect(await ctx.store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { attempts: 1 })]);

      await ctx.store.markSent(id, { at: NOW + 150 });
      expect(await ctx.store.dueTasks(NOW + 1000, 10)).toEqual([]);
      expect(await ctx.store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 2, sentAt: NOW + 150 })]);
    });

    it.each(["failed", "dead"] as const)("marks a task %s with its reason", async (outcome) => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      await ctx.store.markFailed(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW + 5, reason: "http_404", outcome });
      expect(await ctx.store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome, reason: "http_404", attempts: 1 })]);
      expect(await ctx.store.outboxStats()).toEqual({ pending: 0, dead: outcome === "dead" ? 1 : 0 });
    });

    it("ignores every transition of a finished task", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      const id = await taskId(ctx.store, "dispatch:d1:acme/npu");
      await ctx.store.markSent(id, { at: NOW + 5 });
      await ctx.store.scheduleRetry(id, { at: NOW + 10, error: "http_500" });
      await ctx.store.deferTask(id, NOW + 10);
      await ctx.store.markFailed(id, { at: NOW + 10, reason: "http_404", outcome: "dead" });
      await ctx.store.markSent(id, { at: NOW + 10 });
      expect(await ctx.store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 1, sentAt: NOW + 5 })]);
      expect(await ctx.store.outboxStats()).toEqual({ pending: 0, dead: 0 });
      expect(await ctx.store.nextDueAt()).toBeUndefined();
    });

    it("counts pending and dead tasks and dates the oldest pending one", async () => {
      expect(await ctx.store.outboxStats()).toEqual({ pending: 0, dead: 0 });
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      await ctx.store.acceptDelivery(delivery("d2"), work("d2", ["beta/xpu", "gamma/tpu"]), NOW + 10);
      await ctx.store.markFailed(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW + 20, reason: "max_age", outcome: "dead" });
      expect(await ctx.store.outboxStats()).toEqual({ pending: 2, oldestPendingAt: NOW + 10, dead: 1 });
    });

    it("knows a check run's id once its queued task was sent with a result id", async () => {
      const task = checkRunTask("abc");
      await ctx.store.acceptDelivery(delivery("d1"), { tasks: [dispatchTask("d1", "acme/npu")], log: [logEntry("d1", "acme/npu")] }, NOW);
      await ctx.store.queueCheckRun(task, { upstreamRepo: UPSTREAM, headSha: "abc" }, "hash-1", NOW);
      expect(await ctx.store.checkRunId(task.key)).toBeUndefined();
      await ctx.store.markSent(await taskId(ctx.store, task.key), { at: NOW + 1, resultId: 4242 });
      expect(await ctx.store.checkRunId(task.key)).toBe(4242);
      await ctx.store.markSent(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW + 1, resultId: 1 });
      expect(await ctx.store.checkRunId("dispatch:d1:acme/npu")).toBeUndefined();
      expect(await ctx.store.checkRun("dispatch:d1:acme/npu")).toBeUndefined();
      expect(await ctx.store.checkRunId("check:unknown")).toBeUndefined();
    });

    it("finds a task by key in any state", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"], 11), NOW);
      const key = "dispatch:d1:acme/npu";
      expect(await ctx.store.taskByKey(key)).toStrictEqual({ ...dispatchTask("d1", "acme/npu", 11), id: expect.any(Number), version: 0, attempts: 0, createdAt: NOW, nextAttemptAt: NOW });
      await ctx.store.markFailed(await taskId(ctx.store, key), { at: NOW + 5, reason: "http_404", outcome: "failed" });
      expect(await ctx.store.taskByKey(key)).toMatchObject({ key, attempts: 1, lastError: "http_404" });
      expect(await ctx.store.taskByKey("dispatch:d1:other/repo")).toBeUndefined();
    });

    it("knows when a dispatch was sent, whatever the repo's casing", async () => {
      await ctx.store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
      expect(await ctx.store.dispatchSentAt("d1", "Acme/NPU")).toBeUndefined();
      await ctx.store.markSent(await taskId(ctx.store, "dispatch:d1:acme/npu"), { at: NOW + 50 });
      expect(await ctx.store.dispatchSentAt("d1", "Acme/NPU")).toBe(NOW + 50);
      expect(await ctx.store.dispatchSentAt("d1", "other/repo")).toBeUndefined();
      expect(await ctx.store.dispatchSentAt("d2", "acme/npu")).toBeUndefined();
    });
  });

  describe("check runs", () => {
    const key = "check:up/stream:npu:abc";
    const HEAD = { upstreamRepo: "Up/Stream", headSha: "abc" };

    it("records the desired hash with the queued write, and the GitHub id once its task was sent", async () => {
      expect(await ctx.store.checkRun(key)).toBeUndefined();
      await ctx.store.queueCheckRun(aggregateTask(key, "queued"), HEAD, "hash-1", NOW);
      expect(await ctx.store.checkRun(key)).toStrictEqual({ desiredHash: "hash-1" });
      expect(await ctx.store.checkRunId(key)).toBeUndefined();
      const [task] = await ctx.store.dueTasks(NOW, 10);
      expect(task).toMatchObject({ key, kind: "check_run", version: 0, request: aggregateTask(key, "queued").request });

      await ctx.store.markSent(task!.id, { at: NOW + 1, resultId: 4242, version: task!.version });
      const again = await ctx.stored();
      expect(await again.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-1" });
      expect(await again.checkRunId(key)).toBe(4242);

      // A later state keeps the id and re-opens the same task.
      await ctx.store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 2);
      expect(await ctx.store.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-2" });
      expect(await ctx.store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: task!.id, version: 1, request: { params: { status: "completed" } } }]);
      expect((await ctx.store.outboxStats()).pending).toBe(1);
      // A send without a result id (an update in place) keeps the id.
      await ctx.store.markSent(task!.id, { at: NOW + 3, version: 1 });
      expect(await ctx.store.checkRunId(key)).toBe(4242);
      expect(await ctx.store.dueTasks(NOW + 3, 10)).toEqual([]);
    });

    it("replaces the pending state of a key with a newer one: one task, the newer request, the newer hash", async () => {
      const other = "check:up/stream:tpu:abc";
      await ctx.store.queueCheckRun(aggregateTask(key, "queued"), HEAD, "hash-1", NOW);
      await ctx.store.queueCheckRun(aggregateTask(other, "queued"), HEAD, "hash-x", NOW);
      await ctx.store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-2", NOW + 1);
      await ctx.store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-3", NOW + 2);
      expect((await ctx.store.outboxStats()).pending).toBe(2);
      expect(await ctx.store.taskByKey(key)).toMatchObject({ version: 2, createdAt: NOW, request: { params: { status: "completed" } } });
      expect(await ctx.store.checkRun(key)).toStrictEqual({ desiredHash: "hash-3" });
      expect(await ctx.store.checkRun(other)).toStrictEqual({ desiredHash: "hash-x" });
    });

    it("a newer state arriving while the older one is on the wire stays pending, to be written to the run just created", async () => {
      await ctx.store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-1", NOW);
      const [sending] = await ctx.store.dueTasks(NOW, 10);
      await ctx.store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
      await ctx.store.markSent(sending!.id, { at: NOW + 2, resultId: 77, version: sending!.version });
      expect(await ctx.store.checkRunId(key)).toBe(77);
      expect(await ctx.store.checkRun(key)).toStrictEqual({ githubId: 77, desiredHash: "hash-2" });
      expect(await ctx.store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: sending!.id, version: 1, request: { params: { status: "completed" } } }]);
      expect((await ctx.store.outboxStats()).pending).toBe(1);
    });

    it("waits out an intermediate state's delay, and a final state replacing it goes out at once", async () => {
      await ctx.store.queueCheckRun({ ...aggregateTask(key, "in_progress"), notBefore: NOW + 5_000 }, HEAD, "hash-1", NOW);
      expect(await ctx.store.dueTasks(NOW, 10)).toEqual([]);
      expect(await ctx.store.nextDueAt()).toBe(NOW + 5_000);
      await ctx.store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
      expect(await ctx.store.dueTasks(NOW + 1, 10)).toMatchObject([{ key, request: { params: { status: "completed" } } }]);
    });

    it("keeps a failed send's backoff when a newer state replaces its request", async () => {
      await ctx.store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-1", NOW);
      const [task] = await ctx.store.dueTasks(NOW, 10);
      await ctx.store.scheduleRetry(task!.id, { at: NOW + 60_000, error: "http_502" });
      await ctx.store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
      expect(await ctx.store.dueTasks(NOW + 1, 10)).toEqual([]);
      expect(await ctx.store.taskByKey(key)).toMatchObject({ version: 1, nextAttemptAt: NOW + 60_000, request: { params: { status: "completed" } } });
    });
  });
}
