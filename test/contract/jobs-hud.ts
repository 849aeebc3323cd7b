// The Store contract (store-contract.ts) on what the HUD shows: the dispatch log, the HUD queue, and the
// jobs downstream runs report.
import { describe, expect, it } from "vitest";
import { dispatchTask, logEntry, NOW } from "../helpers/store-fixtures.js";
import type { StoredJob } from "../../src/domain/jobs.js";
import { job, taskId } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

/** The dispatch log and HUD queue, and jobs. */
export function describeJobsAndHud(ctx: StoreContractContext): void {
  describe("dispatch log and HUD queue", () => {
    const target = (repo: string) => ({
      deliveryId: "d9",
      downstreamRepo: repo,
      upstreamRepo: "up/stream",
      event: "pull_request" as const,
      action: "opened",
      prNumber: 5,
      headSha: "abc",
      backendName: repo.split("/")[1]!,
      level: "L3",
      attempts: 0,
      createdAt: NOW,
      title: "Fix <b>things</b>",
      author: "octocat",
    });

    async function accept(): Promise<void> {
      await ctx.store.acceptDelivery(
        { id: "d9", event: "pull_request", payloadHash: "h" },
        {
          tasks: [{ key: "dispatch:d9:acme/npu", kind: "dispatch", repo: "acme/npu", request: { route: "POST /x", params: {} }, dispatch: { deliveryId: "d9", downstreamRepo: "acme/npu" } }],
          log: [
            { ...target("acme/npu"), outcome: "pending" },
            { ...target("beta/tpu"), outcome: "skipped", reason: "untrusted_author" },
          ],
        },
        NOW,
      );
    }

    const snapshots = async () => (await ctx.store.pendingHudRows(100)).filter((queued) => queued.target === "dispatches").map((queued) => queued.row);

    it("queues a snapshot of every dispatch-log row when it is recorded, sent, failed or marked never reported, with growing versions", async () => {
      await accept();
      expect(await snapshots()).toEqual([
        { ...target("acme/npu"), outcome: "pending", hudVersion: NOW },
        { ...target("beta/tpu"), outcome: "skipped", reason: "untrusted_author", hudVersion: NOW },
      ]);
      // A redelivery of the same webhook records nothing new.
      await accept();
      expect(await snapshots()).toHaveLength(2);

      const [task] = await ctx.store.dueTasks(NOW, 1);
      await ctx.store.scheduleRetry(task!.id, { at: NOW + 10, error: "http_502" });
      expect(await snapshots()).toHaveLength(2); // a retry is not a new outcome
      // Sent within the same millisecond as it was recorded: the version still grows.
      await ctx.store.markSent(task!.id, { at: NOW });
      await ctx.store.markUnreported("d9", "ACME/npu", "never_reported", NOW + 7_200_000);
      expect((await snapshots()).slice(2)).toEqual([
        { ...target("acme/npu"), outcome: "sent", attempts: 2, sentAt: NOW, hudVersion: NOW + 1 },
        { ...target("acme/npu"), outcome: "sent", attempts: 2, sentAt: NOW, reason: "never_reported", hudVersion: NOW + 7_200_000 },
      ]);
    });

    it("queues a snapshot of a failed or dead-lettered dispatch", async () => {
      await accept();
      const [task] = await ctx.store.dueTasks(NOW, 1);
      await ctx.store.markFailed(task!.id, { at: NOW + 5, reason: "http_404", outcome: "failed" });
      expect((await snapshots()).slice(2)).toEqual([{ ...target("acme/npu"), outcome: "failed", reason: "http_404", attempts: 1, hudVersion: NOW + 5 }]);
    });

    it("offers pending rows oldest first, up to a limit; removes written rows, sets refused ones aside and reports depth and age", async () => {
      await accept();
      await ctx.store.putJob(job("completed"), { job: "test" }, NOW + 5);
      expect(await ctx.store.hudQueueStats()).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 0 });
      const [first, second, third] = await ctx.store.pendingHudRows(10);
      expect(first).toMatchObject({ target: "dispatches", row: { downstreamRepo: "acme/npu" } });
      expect(second).toMatchObject({ target: "dispatches", row: { downstreamRepo: "beta/tpu" } });
      expect(third).toStrictEqual({ id: expect.any(Number), target: "results", row: { job: "test" } });
      expect((await ctx.store.pendingHudRows(2)).map((queued) => queued.id)).toEqual([first!.id, second!.id]);

      await ctx.store.removeHudRows([first!.id]);
      await ctx.store.rejectHudRows([second!.id], "row: bad", NOW + 6);
      expect((await ctx.store.pendingHudRows(10)).map((queued) => queued.id)).toEqual([third!.id]);
      expect(await ctx.store.hudQueueStats()).toEqual({ pending: 1, oldestPendingAt: NOW + 5, rejected: 1 });
      await ctx.store.removeHudRows([third!.id]);
      expect(await ctx.store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
      expect(await ctx.store.pendingHudRows(10)).toEqual([]);
      await ctx.store.removeHudRows([]);
      await ctx.store.rejectHudRows([], "nothing", NOW + 7);
      expect(await ctx.store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
    });

    it("keeps each drainer's targets apart: queued in the caller's transaction, offered, counted and set aside per target", async () => {
      await accept(); // two "dispatches" snapshots
      await ctx.store.putJob(job("completed"), { job: "test" }, NOW + 5);
      await ctx.store.transaction(async (tx) => {
        await tx.queueHudRow("crcr", { dynamoKey: "k1" }, NOW + 6);
        await tx.queueHudRow("crcr", { dynamoKey: "k2" }, NOW + 7);
      });
      const rolledBack = ctx.store.transaction(async (tx) => {
        await tx.queueHudRow("crcr", { dynamoKey: "lost" }, NOW + 8);
        throw new Error("rolled back");
      });
      await expect(rolledBack).rejects.toThrow("rolled back");

      const stored = await ctx.stored();
      const crcr = await stored.pendingHudRows(10, ["crcr"]);
      expect(crcr).toStrictEqual([
        { id: expect.any(Number), target: "crcr", row: { dynamoKey: "k1" } },
        { id: expect.any(Number), target: "crcr", row: { dynamoKey: "k2" } },
      ]);
      expect((await stored.pendingHudRows(10, ["results", "dispatches"])).map((queued) => queued.target)).toEqual(["dispatches", "dispatches", "results"]);
      // Oldest first across the targets asked for (all by default), up to the limit.
      expect((await stored.pendingHudRows(4)).map((queued) => queued.target)).toEqual(["dispatches", "dispatches", "results", "crcr"]);
      expect((await stored.pendingHudRows(2, ["crcr", "results"])).map((queued) => queued.row)).toEqual([{ job: "test" }, { dynamoKey: "k1" }]);
      expect(await stored.hudQueueStats(["crcr"])).toEqual({ pending: 2, oldestPendingAt: NOW + 6, rejected: 0 });
      expect(await stored.hudQueueStats(["results", "dispatches"])).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 0 });
      expect(await stored.hudQueueStats(["results"])).toEqual({ pending: 1, oldestPendingAt: NOW + 5, rejected: 0 });
      expect(await stored.hudQueueStats()).toEqual({ pending: 5, oldestPendingAt: NOW, rejected: 0 });

      // One drainer's removals and refusals leave the other's queue as it was.
      await ctx.store.rejectHudRows([crcr[0]!.id], "HTTP 400: bad", NOW + 9);
      expect(await ctx.store.pendingHudRows(10, ["crcr"])).toStrictEqual([crcr[1]]);
      await ctx.store.removeHudRows([crcr[1]!.id]);
      expect(await ctx.store.pendingHudRows(10, ["crcr"])).toEqual([]);
      expect(await ctx.store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 1 });
      expect(await ctx.store.hudQueueStats(["results", "dispatches"])).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 0 });
      expect(await ctx.store.hudQueueStats()).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 1 });
    });
  });

  describe("jobs", () => {
    it("stores jobs by key (repo case-insensitive), lists a sha's jobs, and queues the HUD row given", async () => {
      await ctx.store.putJob(job("in_progress", "build"), undefined, NOW);
      await ctx.store.putJob(job("completed", "test"), { job: "test", status: "completed" }, NOW);
      expect(await ctx.store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 1, jobName: "test" })).toStrictEqual(job("completed", "test"));
      expect(await ctx.store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 2, jobName: "test" })).toBeUndefined();
      expect((await ctx.store.shaJobs("up/stream", "abc")).filter((j) => j.backendName === "npu").map((j) => j.jobName)).toEqual(["build", "test"]);
      expect(await ctx.store.pendingHudRows(10)).toEqual([{ id: expect.any(Number), target: "results", row: { job: "test", status: "completed" } }]);

      // A later state of the same attempt replaces it in place.
      await ctx.store.putJob({ ...job("completed", "build"), conclusion: "failure", updatedAt: NOW + 1 }, undefined, NOW + 1);
      expect((await ctx.store.shaJobs("UP/STREAM", "abc")).map((j) => [j.jobName, j.status, j.conclusion])).toEqual([
        ["build", "completed", "failure"],
        ["test", "completed", undefined],
      ]);
      expect(await ctx.store.pendingHudRows(10)).toHaveLength(1);
      // Any backend on the sha; other shas and repos apart.
      await ctx.store.putJob({ ...job("completed", "lint"), downstreamRepo: "beta/tpu", backendName: "tpu" }, undefined, NOW + 2);
      await ctx.store.putJob({ ...job("completed", "other"), headSha: "def" }, undefined, NOW + 2);
      expect((await ctx.store.shaJobs("up/stream", "abc")).map((j) => j.jobName)).toEqual(["build", "test", "lint"]);
      expect(await ctx.store.shaJobs("other/repo", "abc")).toEqual([]);
    });

    it("lists jobs still in progress that started before a time, oldest update first", async () => {
      const running = (jobName: string, startedAt: number | undefined, updatedAt: number): StoredJob => ({
        ...job("in_progress", jobName),
        ...(startedAt !== undefined && { startedAt }),
        updatedAt,
      });
      await ctx.store.putJob(running("old", NOW - 10_000, NOW - 5_000), undefined, NOW);
      await ctx.store.putJob(running("older", NOW - 20_000, NOW - 1_000), undefined, NOW);
      await ctx.store.putJob(running("new", NOW - 100, NOW - 100), undefined, NOW);
      await ctx.store.putJob(running("unstarted", undefined, NOW - 50_000), undefined, NOW);
      await ctx.store.putJob({ ...running("done", NOW - 30_000, NOW - 30_000), status: "completed" }, undefined, NOW);
      expect((await ctx.store.staleJobs(NOW - 1_000, 10)).map((j) => j.jobName)).toEqual(["old", "older"]);
      expect((await ctx.store.staleJobs(NOW - 1_000, 1)).map((j) => j.jobName)).toEqual(["old"]);
    });

    it("lists sent dispatches with no job, not yet marked, on shas still open, oldest send first", async () => {
      /** A dispatch of `sha` to acme/npu, sent at `sentAt` (pending when undefined). */
      const dispatch = async (deliveryId: string, sha: string, sentAt?: number, event: "pull_request" | "push" = "pull_request") => {
        await ctx.store.acceptDelivery(
          { id: deliveryId, event, payloadHash: deliveryId },
          { tasks: [dispatchTask(deliveryId, "acme/npu")], log: [logEntry(deliveryId, "acme/npu", { headSha: sha, event })] },
          NOW,
        );
        if (sentAt !== undefined) await ctx.store.markSent(await taskId(ctx.store, `dispatch:${deliveryId}:acme/npu`), { at: sentAt });
      };
      for (const [sha, state] of [["open", "open"], ["closed", "closed"], ["superseded", "superseded"]] as const) {
        await ctx.store.putHead({ upstreamRepo: "PyTorch/PyTorch", headSha: sha, prNumber: 7, state, stateChangedAt: NOW });
      }
      await dispatch("d-open", "open", NOW + 20);
      await dispatch("d-push", "trunk", NOW + 10, "push"); // no head: a push
      await dispatch("d-closed", "closed", NOW + 10);
      await dispatch("d-superseded", "superseded", NOW + 10);
      await dispatch("d-job", "open", NOW + 10);
      await ctx.store.putJob({ ...job("in_progress"), deliveryId: "d-job", downstreamRepo: "ACME/npu" }, undefined, NOW + 15);
      await dispatch("d-pending", "open");
      await dispatch("d-late", "open", NOW + 100);

      const unreported = async (limit = 10) => (await ctx.store.unreportedDispatches(NOW + 50, limit)).map((entry) => entry.deliveryId);
      expect(await unreported()).toEqual(["d-push", "d-open"]);
      expect(await unreported(1)).toEqual(["d-push"]);
      expect((await ctx.store.unreportedDispatches(NOW + 50, 10))[1]).toStrictEqual(
        logEntry("d-open", "acme/npu", { headSha: "open", outcome: "sent", attempts: 1, sentAt: NOW + 20 }),
      );
      expect(await ctx.store.unreportedDispatches(NOW + 10, 10)).toEqual([]); // sent at the bound: not before it

      await ctx.store.markUnreported("d-push", "ACME/NPU", "reports_not_expected", NOW + 60);
      expect(await unreported()).toEqual(["d-open"]);
      expect(await ctx.store.dispatchLog("d-push")).toMatchObject([{ outcome: "sent", reason: "reports_not_expected" }]);
      await ctx.store.markUnreported("d-open", "acme/npu", "never_reported", NOW + 60);
      expect(await unreported()).toEqual([]);
    });
  });
}
