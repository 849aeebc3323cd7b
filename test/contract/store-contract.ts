// The Store contract: what every Store implementation (src/store/store.ts) must do, whatever it keeps
// its state in. It speaks only through the Store interface (no SQL, no driver), passes every time
// explicitly, and is deterministic. An implementation registers it from a test file of its own:
//
//   describeStoreContract("SQLite", () => openSqliteStore(tempDir()), { reconnect: … });
//
// The implementation's own test files keep only what is specific to it (schema migrations, query
// plans, file layout, crash behaviour).
import { beforeEach, describe, expect, it } from "vitest";
import { delivery, dispatchTask, logEntry, NOW, UPSTREAM, work } from "../helpers/store-fixtures.js";
import type { HeadFacts, HeadState } from "../../src/domain/heads.js";
import { NO_JOBS, type LatestAttempt, type StoredJob } from "../../src/domain/jobs.js";
import type {
  BackendHeadKey,
  OutboxTaskInput,
  PrunedRows,
  RetentionPolicy,
  Store,
  StoredBackendHead,
} from "../../src/store/store.js";

export interface StoreContractOptions {
  /**
   * Another store on the same data (a second connection), through which the contract checks that writes
   * were committed and read back from storage rather than from the first store's memory. Stores it
   * returns are the caller's to close, like those `open` returns. Without it, the contract reads back
   * through the same store.
   */
  reconnect?: (store: Store) => Store | Promise<Store>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// Deliveries and the outbox: dispatches from pytorch/pytorch.

function checkRunTask(sha: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key: `check:${UPSTREAM}:oot / npu:${sha}`,
    kind: "check_run",
    repo: UPSTREAM,
    installationId: 1,
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { name: "oot / npu", head_sha: sha } },
  };
}

// Jobs and facts: reports from acme/npu on Up/Stream@abc.
function job(status: "in_progress" | "completed", jobName = "test"): StoredJob {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 7,
    runAttempt: 1,
    jobName,
    upstreamRepo: "Up/Stream",
    prNumber: 5,
    headSha: "abc",
    backendName: "npu",
    level: "L3",
    workflowName: "ci",
    status,
    fingerprint: status,
    report: { status },
    updatedAt: NOW,
  };
}

function head(fields: Partial<HeadFacts> = {}): HeadFacts {
  return { upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", labels: ["ciflow/oot/npu"], stateChangedAt: NOW, ...fields };
}

const KEY: BackendHeadKey = { upstreamRepo: "up/stream", headSha: "abc", downstreamRepo: "acme/npu" };

function attempt(jobName: string, seq: number, fields: Partial<LatestAttempt> = {}): LatestAttempt {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 10,
    runAttempt: 1,
    jobName,
    prNumber: 7,
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    updatedAt: NOW + seq,
    seq,
    ...fields,
  };
}

function backendHead(fields: Partial<StoredBackendHead> = {}): StoredBackendHead {
  return {
    upstreamRepo: "up/stream",
    headSha: "abc",
    downstreamRepo: "Acme/NPU",
    backendName: "npu",
    level: "L3",
    deliveryId: "d1",
    dispatchOutcome: "sent",
    counts: NO_JOBS,
    nextSeq: 0,
    ...fields,
  };
}

function aggregateTask(key: string, status: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key,
    kind: "check_run",
    repo: "Up/Stream",
    installationId: 1,
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "Up", repo: "Stream", head_sha: "abc", status } },
  };
}

/**
 * Registers the contract's tests for one implementation. `open` gives a new, empty store for each test;
 * closing it afterwards is the caller's (the contract closes some itself, so closing twice must be harmless).
 */
export function describeStoreContract(name: string, open: () => Store | Promise<Store>, options: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });

    /** The store's data as storage has it: through a second connection when the implementation offers one. */
    const stored = async (): Promise<Store> => (options.reconnect ? options.reconnect(store) : store);

    function taskId(key: string): number {
      const task = store.dueTasks(Number.MAX_SAFE_INTEGER, 1000).find((candidate) => candidate.key === key);
      if (!task) throw new Error(`no pending task ${key}`);
      return task.id;
    }

    describe("deliveries", () => {
      it("stores a delivery's tasks and log, then recognises a redelivery of the same payload", () => {
        expect(store.hasDelivery("d1")).toBe(false);
        expect(store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"]), NOW)).toBe("accepted");
        expect(store.hasDelivery("d1")).toBe(true);

        expect(store.acceptDelivery(delivery("d1"), work("d1", ["gamma/tpu"]), NOW + 1)).toBe("duplicate");
        expect(store.dueTasks(NOW + 1, 10).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
        expect(store.dispatchLog("d1").map((entry) => entry.downstreamRepo)).toEqual(["acme/npu", "beta/xpu"]);
      });

      it("processes the same id with a different payload, still deduplicating tasks by key", () => {
        store.acceptDelivery(delivery("d1", "hash-1"), work("d1", ["acme/npu"]), NOW);
        expect(store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["acme/npu", "beta/xpu"]), NOW + 1)).toBe("accepted");
        expect(store.dueTasks(NOW + 1, 10).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
        expect(store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["gamma/tpu"]), NOW + 2)).toBe("duplicate");
      });

      it("ignores a task whose key another delivery already stored", () => {
        store.acceptDelivery(delivery("d1"), { tasks: [checkRunTask("abc")], log: [] }, NOW);
        store.acceptDelivery(delivery("d2"), { tasks: [checkRunTask("abc")], log: [] }, NOW + 1);
        expect(store.outboxStats().pending).toBe(1);
      });

      it("never resets or repeats a sent dispatch on redelivery, whatever the repo's casing", () => {
        store.acceptDelivery(delivery("d1", "hash-1"), work("d1", ["acme/npu"]), NOW);
        store.markSent(taskId("dispatch:d1:acme/npu"), { at: NOW + 5 });
        store.acceptDelivery(delivery("d1", "hash-2"), work("d1", ["ACME/NPU"]), NOW + 10);
        expect(store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 1, sentAt: NOW + 5 })]);
        expect(store.outboxStats().pending).toBe(0);
      });

      it("returns log rows as given: optional fields absent, not null", () => {
        const skipped = logEntry("d1", "beta/xpu", { outcome: "skipped", reason: "not_installed" });
        delete skipped.action;
        delete skipped.prNumber;
        store.acceptDelivery(delivery("d1"), { tasks: [], log: [logEntry("d1", "acme/npu"), skipped] }, NOW);
        expect(store.dispatchLog("d1")).toStrictEqual([logEntry("d1", "acme/npu"), skipped]);
        expect(store.dispatchLog("other")).toEqual([]);
      });

      it("remembers a handled delivery without work", () => {
        store.rememberDelivery({ id: "r1", event: "check_run", payloadHash: "h" }, NOW);
        expect(store.hasDelivery("r1")).toBe(true);
        expect(store.hasDelivery("R1")).toBe(false); // delivery ids are exact
        expect(store.outboxStats()).toEqual({ pending: 0, dead: 0 });
        // Remembered, so the same payload under the same id is a duplicate.
        expect(store.acceptDelivery({ id: "r1", event: "check_run", payloadHash: "h" }, work("r1", ["acme/npu"]), NOW + 1)).toBe("duplicate");
      });

      it("finds the same payload under another delivery id since a time, never the delivery itself", () => {
        store.acceptDelivery({ id: "d1", event: "push", payloadHash: "h1" }, { tasks: [], log: [] }, NOW);
        store.rememberDelivery({ id: "d2", event: "pull_request", payloadHash: "h2" }, NOW + 10);
        expect(store.deliveryWithPayload("h1", "d9", NOW)).toBe("d1");
        expect(store.deliveryWithPayload("h2", "d9", NOW)).toBe("d2");
        expect(store.deliveryWithPayload("h1", "d1", NOW)).toBeUndefined();
        expect(store.deliveryWithPayload("h1", "d9", NOW + 1)).toBeUndefined();
        expect(store.deliveryWithPayload("h3", "d9", 0)).toBeUndefined();
      });

      it("remembers the latest payload hash of a delivery id", () => {
        store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "pseudo" }, NOW);
        store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "real" }, NOW);
        expect(store.deliveryWithPayload("real", "d2", NOW)).toBe("d1");
        expect(store.deliveryWithPayload("pseudo", "d2", NOW)).toBeUndefined();
      });
    });

    describe("outbox", () => {
      it("returns due tasks as stored, by next attempt then id, up to the limit", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"], 11), NOW);
        store.acceptDelivery(delivery("d2"), { tasks: [checkRunTask("abc")], log: [] }, NOW + 10);
        const [first, second, third] = store.dueTasks(NOW + 10, 10);
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

        store.scheduleRetry(first!.id, { at: NOW + 20, error: "http_503" });
        expect(store.dueTasks(NOW + 10, 10).map((task) => task.repo)).toEqual(["beta/xpu", UPSTREAM]);
        expect(store.dueTasks(NOW + 20, 2).map((task) => task.repo)).toEqual(["beta/xpu", UPSTREAM]);
        expect(store.dueTasks(NOW + 20, 10).at(-1)).toMatchObject({ repo: "acme/npu", attempts: 1, lastError: "http_503" });
        expect(store.dueTasks(NOW - 1, 10)).toEqual([]);
      });

      it("claims tasks for one owner until the lease expires or an outcome is recorded", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu", "gamma/tpu"], 11), NOW);
        const [npu, xpu, tpu] = ["acme/npu", "beta/xpu", "gamma/tpu"].map((repo) => taskId(`dispatch:d1:${repo}`));
        expect(store.claimTasks([npu!, xpu!], "worker-a", NOW, 60_000).sort()).toEqual([npu!, xpu!].sort());
        // Claimed tasks are not offered to anyone, and not claimable by another owner, until the lease ends.
        expect(store.dueTasks(NOW + 1, 10).map((task) => task.repo)).toEqual(["gamma/tpu"]);
        expect(store.claimTasks([npu!, tpu!], "worker-b", NOW + 1, 60_000)).toEqual([tpu!]);
        expect(store.dueTasks(NOW + 1, 10)).toEqual([]);
        expect(store.nextDueAt()).toBe(NOW + 60_000);
        // The owner may renew its own claim.
        expect(store.claimTasks([npu!], "worker-a", NOW + 2, 60_000)).toEqual([npu!]);
        // Recording an outcome releases the claim: a retry is offered again when due.
        store.scheduleRetry(xpu!, { at: NOW + 5, error: "http_503" });
        expect(store.dueTasks(NOW + 5, 10).map((task) => task.repo)).toEqual(["beta/xpu"]);
        store.deferTask(tpu!, NOW + 6);
        expect(store.dueTasks(NOW + 6, 10).map((task) => task.repo).sort()).toEqual(["beta/xpu", "gamma/tpu"]);
        // An expired claim (its owner died) is offered again and can be taken over.
        expect(store.dueTasks(NOW + 60_002, 10).map((task) => task.repo)).toContain("acme/npu");
        expect(store.claimTasks([npu!], "worker-b", NOW + 60_002, 60_000)).toEqual([npu!]);
        // A task no longer pending cannot be claimed.
        store.markSent(npu!, { at: NOW + 60_003 });
        expect(store.claimTasks([npu!], "worker-a", NOW + 60_004, 60_000)).toEqual([]);
        expect(store.claimTasks([], "worker-a", NOW, 60_000)).toEqual([]);
      });

      it("lists the owners of claims on pending tasks and releases one owner's claims", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu", "gamma/tpu"], 11), NOW);
        const [npu, xpu, tpu] = ["acme/npu", "beta/xpu", "gamma/tpu"].map((repo) => taskId(`dispatch:d1:${repo}`));
        store.claimTasks([npu!, xpu!], "worker-a", NOW, 60_000);
        store.claimTasks([tpu!], "worker-b", NOW, 60_000);
        expect(store.claimOwners()).toEqual(["worker-a", "worker-b"]);
        expect(store.releaseClaims("worker-a")).toBe(2);
        expect(store.dueTasks(NOW + 1, 10).map((task) => task.repo)).toEqual(["acme/npu", "beta/xpu"]);
        expect(store.claimOwners()).toEqual(["worker-b"]);
        store.markSent(tpu!, { at: NOW + 2 });
        expect(store.claimOwners()).toEqual([]);
        expect(store.releaseClaims("nobody")).toBe(0);
      });

      it("leaves out excluded tasks and installations, keeping tasks with no installation", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"], 11), NOW);
        store.acceptDelivery(delivery("d2"), work("d2", ["beta/xpu"]), NOW + 1);
        store.acceptDelivery(delivery("d3"), work("d3", ["gamma/tpu"], 33), NOW + 2);
        const gamma = taskId("dispatch:d3:gamma/tpu");
        const exclude = { excludeIds: [gamma], excludeInstallations: [11] };
        expect(store.dueTasks(NOW + 5, 10, exclude).map((task) => task.repo)).toEqual(["beta/xpu"]);
        expect(store.nextDueAt(exclude)).toBe(NOW + 1);
        expect(store.nextDueAt({ excludeInstallations: [11, 33], excludeIds: [taskId("dispatch:d2:beta/xpu")] })).toBeUndefined();
        expect(store.nextDueAt()).toBe(NOW);
      });

      it("leaves out a task without an installation when its repo is recorded under an excluded one", () => {
        store.setInstallation("Beta/XPU", 22, NOW);
        store.setInstallation("gamma/tpu", undefined, NOW);
        store.acceptDelivery(delivery("d1"), work("d1", ["beta/xpu"]), NOW); // resolved at send time: 22
        store.acceptDelivery(delivery("d2"), work("d2", ["gamma/tpu"]), NOW + 1); // known not to be installed
        store.acceptDelivery(delivery("d3"), work("d3", ["delta/npu"], 22), NOW + 2);
        store.acceptDelivery(delivery("d4"), work("d4", ["beta/xpu"], 44), NOW + 3); // its own installation wins
        const due = (exclude: number[]) => store.dueTasks(NOW + 5, 10, { excludeInstallations: exclude }).map((task) => task.key);
        expect(due([22])).toEqual(["dispatch:d2:gamma/tpu", "dispatch:d4:beta/xpu"]);
        expect(store.nextDueAt({ excludeInstallations: [22] })).toBe(NOW + 1);
        expect(due([44])).toEqual(["dispatch:d1:beta/xpu", "dispatch:d2:gamma/tpu", "dispatch:d3:delta/npu"]);

        // The repo's record is read when asked: once the installation is gone, its repos' tasks are not left out.
        store.dropInstallation(22, NOW + 4);
        expect(due([22])).toEqual(["dispatch:d1:beta/xpu", "dispatch:d2:gamma/tpu", "dispatch:d4:beta/xpu"]);
        expect(store.nextDueAt({ excludeInstallations: [22] })).toBe(NOW);
      });

      it("has no next due time when nothing is pending", () => {
        expect(store.nextDueAt()).toBeUndefined();
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        store.markSent(taskId("dispatch:d1:acme/npu"), { at: NOW });
        expect(store.nextDueAt()).toBeUndefined();
      });

      it("defers a pending task without counting an attempt", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        const id = taskId("dispatch:d1:acme/npu");
        store.deferTask(id, NOW + 500);
        expect(store.nextDueAt()).toBe(NOW + 500);
        expect(store.dueTasks(NOW + 499, 10)).toEqual([]);
        expect(store.dueTasks(NOW + 500, 10)).toMatchObject([{ id, attempts: 0, nextAttemptAt: NOW + 500 }]);
        expect(store.dispatchLog("d1")[0]).toMatchObject({ outcome: "pending", attempts: 0 });
      });

      it("marks a task sent in the outbox and its dispatch log", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        const id = taskId("dispatch:d1:acme/npu");
        store.scheduleRetry(id, { at: NOW + 100, error: "http_502" });
        expect(store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { attempts: 1 })]);

        store.markSent(id, { at: NOW + 150 });
        expect(store.dueTasks(NOW + 1000, 10)).toEqual([]);
        expect(store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 2, sentAt: NOW + 150 })]);
      });

      it.each(["failed", "dead"] as const)("marks a task %s with its reason", (outcome) => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        store.markFailed(taskId("dispatch:d1:acme/npu"), { at: NOW + 5, reason: "http_404", outcome });
        expect(store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome, reason: "http_404", attempts: 1 })]);
        expect(store.outboxStats()).toEqual({ pending: 0, dead: outcome === "dead" ? 1 : 0 });
      });

      it("ignores every transition of a finished task", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        const id = taskId("dispatch:d1:acme/npu");
        store.markSent(id, { at: NOW + 5 });
        store.scheduleRetry(id, { at: NOW + 10, error: "http_500" });
        store.deferTask(id, NOW + 10);
        store.markFailed(id, { at: NOW + 10, reason: "http_404", outcome: "dead" });
        store.markSent(id, { at: NOW + 10 });
        expect(store.dispatchLog("d1")).toEqual([logEntry("d1", "acme/npu", { outcome: "sent", attempts: 1, sentAt: NOW + 5 })]);
        expect(store.outboxStats()).toEqual({ pending: 0, dead: 0 });
        expect(store.nextDueAt()).toBeUndefined();
      });

      it("counts pending and dead tasks and dates the oldest pending one", () => {
        expect(store.outboxStats()).toEqual({ pending: 0, dead: 0 });
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        store.acceptDelivery(delivery("d2"), work("d2", ["beta/xpu", "gamma/tpu"]), NOW + 10);
        store.markFailed(taskId("dispatch:d1:acme/npu"), { at: NOW + 20, reason: "max_age", outcome: "dead" });
        expect(store.outboxStats()).toEqual({ pending: 2, oldestPendingAt: NOW + 10, dead: 1 });
      });

      it("knows a check run's id once its queued task was sent with a result id", () => {
        const task = checkRunTask("abc");
        store.acceptDelivery(delivery("d1"), { tasks: [dispatchTask("d1", "acme/npu")], log: [logEntry("d1", "acme/npu")] }, NOW);
        store.queueCheckRun(task, { upstreamRepo: UPSTREAM, headSha: "abc" }, "hash-1", NOW);
        expect(store.checkRunId(task.key)).toBeUndefined();
        store.markSent(taskId(task.key), { at: NOW + 1, resultId: 4242 });
        expect(store.checkRunId(task.key)).toBe(4242);
        store.markSent(taskId("dispatch:d1:acme/npu"), { at: NOW + 1, resultId: 1 });
        expect(store.checkRunId("dispatch:d1:acme/npu")).toBeUndefined();
        expect(store.checkRun("dispatch:d1:acme/npu")).toBeUndefined();
        expect(store.checkRunId("check:unknown")).toBeUndefined();
      });

      it("finds a task by key in any state", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"], 11), NOW);
        const key = "dispatch:d1:acme/npu";
        expect(store.taskByKey(key)).toStrictEqual({ ...dispatchTask("d1", "acme/npu", 11), id: expect.any(Number), version: 0, attempts: 0, createdAt: NOW, nextAttemptAt: NOW });
        store.markFailed(taskId(key), { at: NOW + 5, reason: "http_404", outcome: "failed" });
        expect(store.taskByKey(key)).toMatchObject({ key, attempts: 1, lastError: "http_404" });
        expect(store.taskByKey("dispatch:d1:other/repo")).toBeUndefined();
      });

      it("knows when a dispatch was sent, whatever the repo's casing", () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        expect(store.dispatchSentAt("d1", "Acme/NPU")).toBeUndefined();
        store.markSent(taskId("dispatch:d1:acme/npu"), { at: NOW + 50 });
        expect(store.dispatchSentAt("d1", "Acme/NPU")).toBe(NOW + 50);
        expect(store.dispatchSentAt("d1", "other/repo")).toBeUndefined();
        expect(store.dispatchSentAt("d2", "acme/npu")).toBeUndefined();
      });
    });

    describe("check runs", () => {
      const key = "check:up/stream:npu:abc";
      const HEAD = { upstreamRepo: "Up/Stream", headSha: "abc" };

      it("records the desired hash with the queued write, and the GitHub id once its task was sent", async () => {
        expect(store.checkRun(key)).toBeUndefined();
        store.queueCheckRun(aggregateTask(key, "queued"), HEAD, "hash-1", NOW);
        expect(store.checkRun(key)).toStrictEqual({ desiredHash: "hash-1" });
        expect(store.checkRunId(key)).toBeUndefined();
        const [task] = store.dueTasks(NOW, 10);
        expect(task).toMatchObject({ key, kind: "check_run", version: 0, request: aggregateTask(key, "queued").request });

        store.markSent(task!.id, { at: NOW + 1, resultId: 4242, version: task!.version });
        const again = await stored();
        expect(again.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-1" });
        expect(again.checkRunId(key)).toBe(4242);

        // A later state keeps the id and re-opens the same task.
        store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 2);
        expect(store.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-2" });
        expect(store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: task!.id, version: 1, request: { params: { status: "completed" } } }]);
        expect(store.outboxStats().pending).toBe(1);
        // A send without a result id (an update in place) keeps the id.
        store.markSent(task!.id, { at: NOW + 3, version: 1 });
        expect(store.checkRunId(key)).toBe(4242);
        expect(store.dueTasks(NOW + 3, 10)).toEqual([]);
      });

      it("replaces the pending state of a key with a newer one: one task, the newer request, the newer hash", () => {
        const other = "check:up/stream:tpu:abc";
        store.queueCheckRun(aggregateTask(key, "queued"), HEAD, "hash-1", NOW);
        store.queueCheckRun(aggregateTask(other, "queued"), HEAD, "hash-x", NOW);
        store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-2", NOW + 1);
        store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-3", NOW + 2);
        expect(store.outboxStats().pending).toBe(2);
        expect(store.taskByKey(key)).toMatchObject({ version: 2, createdAt: NOW, request: { params: { status: "completed" } } });
        expect(store.checkRun(key)).toStrictEqual({ desiredHash: "hash-3" });
        expect(store.checkRun(other)).toStrictEqual({ desiredHash: "hash-x" });
      });

      it("a newer state arriving while the older one is on the wire stays pending, to be written to the run just created", () => {
        store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-1", NOW);
        const [sending] = store.dueTasks(NOW, 10);
        store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
        store.markSent(sending!.id, { at: NOW + 2, resultId: 77, version: sending!.version });
        expect(store.checkRunId(key)).toBe(77);
        expect(store.checkRun(key)).toStrictEqual({ githubId: 77, desiredHash: "hash-2" });
        expect(store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: sending!.id, version: 1, request: { params: { status: "completed" } } }]);
        expect(store.outboxStats().pending).toBe(1);
      });

      it("waits out an intermediate state's delay, and a final state replacing it goes out at once", () => {
        store.queueCheckRun({ ...aggregateTask(key, "in_progress"), notBefore: NOW + 5_000 }, HEAD, "hash-1", NOW);
        expect(store.dueTasks(NOW, 10)).toEqual([]);
        expect(store.nextDueAt()).toBe(NOW + 5_000);
        store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
        expect(store.dueTasks(NOW + 1, 10)).toMatchObject([{ key, request: { params: { status: "completed" } } }]);
      });

      it("keeps a failed send's backoff when a newer state replaces its request", () => {
        store.queueCheckRun(aggregateTask(key, "in_progress"), HEAD, "hash-1", NOW);
        const [task] = store.dueTasks(NOW, 10);
        store.scheduleRetry(task!.id, { at: NOW + 60_000, error: "http_502" });
        store.queueCheckRun(aggregateTask(key, "completed"), HEAD, "hash-2", NOW + 1);
        expect(store.dueTasks(NOW + 1, 10)).toEqual([]);
        expect(store.taskByKey(key)).toMatchObject({ version: 1, nextAttemptAt: NOW + 60_000, request: { params: { status: "completed" } } });
      });
    });

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

      function accept(): void {
        store.acceptDelivery(
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

      const snapshots = () => store.pendingHudRows(100).filter((queued) => queued.target === "dispatches").map((queued) => queued.row);

      it("queues a snapshot of every dispatch-log row when it is recorded, sent, failed or marked never reported, with growing versions", () => {
        accept();
        expect(snapshots()).toEqual([
          { ...target("acme/npu"), outcome: "pending", hudVersion: NOW },
          { ...target("beta/tpu"), outcome: "skipped", reason: "untrusted_author", hudVersion: NOW },
        ]);
        // A redelivery of the same webhook records nothing new.
        accept();
        expect(snapshots()).toHaveLength(2);

        const [task] = store.dueTasks(NOW, 1);
        store.scheduleRetry(task!.id, { at: NOW + 10, error: "http_502" });
        expect(snapshots()).toHaveLength(2); // a retry is not a new outcome
        // Sent within the same millisecond as it was recorded: the version still grows.
        store.markSent(task!.id, { at: NOW });
        store.markUnreported("d9", "ACME/npu", "never_reported", NOW + 7_200_000);
        expect(snapshots().slice(2)).toEqual([
          { ...target("acme/npu"), outcome: "sent", attempts: 2, sentAt: NOW, hudVersion: NOW + 1 },
          { ...target("acme/npu"), outcome: "sent", attempts: 2, sentAt: NOW, reason: "never_reported", hudVersion: NOW + 7_200_000 },
        ]);
      });

      it("queues a snapshot of a failed or dead-lettered dispatch", () => {
        accept();
        const [task] = store.dueTasks(NOW, 1);
        store.markFailed(task!.id, { at: NOW + 5, reason: "http_404", outcome: "failed" });
        expect(snapshots().slice(2)).toEqual([{ ...target("acme/npu"), outcome: "failed", reason: "http_404", attempts: 1, hudVersion: NOW + 5 }]);
      });

      it("offers pending rows oldest first, up to a limit; removes written rows, sets refused ones aside and reports depth and age", () => {
        accept();
        store.putJob(job("completed"), { job: "test" }, NOW + 5);
        expect(store.hudQueueStats()).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 0 });
        const [first, second, third] = store.pendingHudRows(10);
        expect(first).toMatchObject({ target: "dispatches", row: { downstreamRepo: "acme/npu" } });
        expect(second).toMatchObject({ target: "dispatches", row: { downstreamRepo: "beta/tpu" } });
        expect(third).toStrictEqual({ id: expect.any(Number), target: "results", row: { job: "test" } });
        expect(store.pendingHudRows(2).map((queued) => queued.id)).toEqual([first!.id, second!.id]);

        store.removeHudRows([first!.id]);
        store.rejectHudRows([second!.id], "row: bad", NOW + 6);
        expect(store.pendingHudRows(10).map((queued) => queued.id)).toEqual([third!.id]);
        expect(store.hudQueueStats()).toEqual({ pending: 1, oldestPendingAt: NOW + 5, rejected: 1 });
        store.removeHudRows([third!.id]);
        expect(store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
        expect(store.pendingHudRows(10)).toEqual([]);
        store.removeHudRows([]);
        store.rejectHudRows([], "nothing", NOW + 7);
        expect(store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
      });
    });

    describe("jobs", () => {
      it("stores jobs by key (repo case-insensitive), lists a sha's jobs, and queues the HUD row given", () => {
        store.putJob(job("in_progress", "build"), undefined, NOW);
        store.putJob(job("completed", "test"), { job: "test", status: "completed" }, NOW);
        expect(store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 1, jobName: "test" })).toStrictEqual(job("completed", "test"));
        expect(store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 2, jobName: "test" })).toBeUndefined();
        expect(store.shaJobs("up/stream", "abc").filter((j) => j.backendName === "npu").map((j) => j.jobName)).toEqual(["build", "test"]);
        expect(store.pendingHudRows(10)).toEqual([{ id: expect.any(Number), target: "results", row: { job: "test", status: "completed" } }]);

        // A later state of the same attempt replaces it in place.
        store.putJob({ ...job("completed", "build"), conclusion: "failure", updatedAt: NOW + 1 }, undefined, NOW + 1);
        expect(store.shaJobs("UP/STREAM", "abc").map((j) => [j.jobName, j.status, j.conclusion])).toEqual([
          ["build", "completed", "failure"],
          ["test", "completed", undefined],
        ]);
        expect(store.pendingHudRows(10)).toHaveLength(1);
        // Any backend on the sha; other shas and repos apart.
        store.putJob({ ...job("completed", "lint"), downstreamRepo: "beta/tpu", backendName: "tpu" }, undefined, NOW + 2);
        store.putJob({ ...job("completed", "other"), headSha: "def" }, undefined, NOW + 2);
        expect(store.shaJobs("up/stream", "abc").map((j) => j.jobName)).toEqual(["build", "test", "lint"]);
        expect(store.shaJobs("other/repo", "abc")).toEqual([]);
      });

      it("lists jobs still in progress that started before a time, oldest update first", () => {
        const running = (jobName: string, startedAt: number | undefined, updatedAt: number): StoredJob => ({
          ...job("in_progress", jobName),
          ...(startedAt !== undefined && { startedAt }),
          updatedAt,
        });
        store.putJob(running("old", NOW - 10_000, NOW - 5_000), undefined, NOW);
        store.putJob(running("older", NOW - 20_000, NOW - 1_000), undefined, NOW);
        store.putJob(running("new", NOW - 100, NOW - 100), undefined, NOW);
        store.putJob(running("unstarted", undefined, NOW - 50_000), undefined, NOW);
        store.putJob({ ...running("done", NOW - 30_000, NOW - 30_000), status: "completed" }, undefined, NOW);
        expect(store.staleJobs(NOW - 1_000, 10).map((j) => j.jobName)).toEqual(["old", "older"]);
        expect(store.staleJobs(NOW - 1_000, 1).map((j) => j.jobName)).toEqual(["old"]);
      });

      it("lists sent dispatches with no job, not yet marked, on shas still open, oldest send first", () => {
        /** A dispatch of `sha` to acme/npu, sent at `sentAt` (pending when undefined). */
        const dispatch = (deliveryId: string, sha: string, sentAt?: number, event: "pull_request" | "push" = "pull_request") => {
          store.acceptDelivery(
            { id: deliveryId, event, payloadHash: deliveryId },
            { tasks: [dispatchTask(deliveryId, "acme/npu")], log: [logEntry(deliveryId, "acme/npu", { headSha: sha, event })] },
            NOW,
          );
          if (sentAt !== undefined) store.markSent(taskId(`dispatch:${deliveryId}:acme/npu`), { at: sentAt });
        };
        for (const [sha, state] of [["open", "open"], ["closed", "closed"], ["superseded", "superseded"]] as const) {
          store.putHead({ upstreamRepo: "PyTorch/PyTorch", headSha: sha, prNumber: 7, state, stateChangedAt: NOW });
        }
        dispatch("d-open", "open", NOW + 20);
        dispatch("d-push", "trunk", NOW + 10, "push"); // no head: a push
        dispatch("d-closed", "closed", NOW + 10);
        dispatch("d-superseded", "superseded", NOW + 10);
        dispatch("d-job", "open", NOW + 10);
        store.putJob({ ...job("in_progress"), deliveryId: "d-job", downstreamRepo: "ACME/npu" }, undefined, NOW + 15);
        dispatch("d-pending", "open");
        dispatch("d-late", "open", NOW + 100);

        const unreported = (limit = 10) => store.unreportedDispatches(NOW + 50, limit).map((entry) => entry.deliveryId);
        expect(unreported()).toEqual(["d-push", "d-open"]);
        expect(unreported(1)).toEqual(["d-push"]);
        expect(store.unreportedDispatches(NOW + 50, 10)[1]).toStrictEqual(
          logEntry("d-open", "acme/npu", { headSha: "open", outcome: "sent", attempts: 1, sentAt: NOW + 20 }),
        );
        expect(store.unreportedDispatches(NOW + 10, 10)).toEqual([]); // sent at the bound: not before it

        store.markUnreported("d-push", "ACME/NPU", "reports_not_expected", NOW + 60);
        expect(unreported()).toEqual(["d-open"]);
        expect(store.dispatchLog("d-push")).toMatchObject([{ outcome: "sent", reason: "reports_not_expected" }]);
        store.markUnreported("d-open", "acme/npu", "never_reported", NOW + 60);
        expect(unreported()).toEqual([]);
      });
    });

    describe("heads", () => {
      it("round-trips a head by key (repo case-insensitive), keeping unknown labels apart from no labels", async () => {
        expect(store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toBeUndefined();
        store.putHead(head({ labels: undefined }));
        store.putHead(head({ headSha: "def", labels: [] }));
        store.putHead(head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }));
        const again = await stored();

        const found = again.head({ upstreamRepo: "UP/STREAM", headSha: "abc" });
        expect(found).toStrictEqual({ upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", stateChangedAt: NOW });
        expect(found).not.toHaveProperty("labels");
        expect(again.head({ upstreamRepo: "up/stream", headSha: "def" })).toStrictEqual(head({ headSha: "def", labels: [] }));
        expect(again.head({ upstreamRepo: "up/stream", headSha: "ghi" })).toStrictEqual(
          head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }),
        );
        expect(again.head({ upstreamRepo: "up/stream", headSha: "ABC" })).toBeUndefined(); // shas are exact
      });

      it("replaces a head in place: state, labels, supersededBy and the repo's spelling follow the last write", () => {
        store.putHead(head({ state: "superseded", supersededBy: "def", stateChangedAt: NOW + 1 }));
        store.putHead(head({ upstreamRepo: "up/stream", state: "open", labels: ["x"], stateChangedAt: NOW + 2 }));
        expect(store.head({ upstreamRepo: "Up/Stream", headSha: "abc" })).toStrictEqual(
          head({ upstreamRepo: "up/stream", labels: ["x"], stateChangedAt: NOW + 2 }),
        );
        store.putHead(head({ state: "closed", labels: undefined, stateChangedAt: NOW + 3 }));
        expect(store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toStrictEqual({
          upstreamRepo: "Up/Stream",
          headSha: "abc",
          prNumber: 7,
          state: "closed",
          stateChangedAt: NOW + 3,
        });
      });

      it("lists the open heads of a PR only", () => {
        store.putHead(head({ headSha: "a1" }));
        store.putHead(head({ headSha: "a2", state: "superseded", supersededBy: "a1" }));
        store.putHead(head({ headSha: "a3", state: "closed" }));
        store.putHead(head({ headSha: "b1", prNumber: 8 }));
        store.putHead(head({ upstreamRepo: "other/repo", headSha: "c1" }));
        expect(store.openHeadsOfPr("UP/stream", 7)).toStrictEqual([head({ headSha: "a1" })]);
        expect(store.openHeadsOfPr("up/stream", 8).map((found) => found.headSha)).toEqual(["b1"]);
        expect(store.openHeadsOfPr("up/stream", 9)).toEqual([]);
        // A force-push back revives a superseded head: two open heads until the other one is superseded.
        store.putHead(head({ headSha: "a2", state: "open" }));
        expect(store.openHeadsOfPr("up/stream", 7).map((found) => found.headSha).sort()).toEqual(["a1", "a2"]);
      });

      it("walks every open head in key order, in pages", () => {
        const shas = ["s05", "s01", "s04", "s03", "s02"];
        for (const sha of shas) store.putHead(head({ headSha: sha }));
        store.putHead(head({ upstreamRepo: "A/first", headSha: "zz" }));
        store.putHead(head({ upstreamRepo: "z/last", headSha: "aa" }));
        store.putHead(head({ headSha: "s025", state: "closed" }));
        store.putHead(head({ headSha: "s035", state: "superseded", supersededBy: "s04" }));

        const pages: string[][] = [];
        let after: { upstreamRepo: string; headSha: string } | undefined;
        for (;;) {
          const page = store.openHeads(after, 2);
          if (page.length === 0) break;
          pages.push(page.map((found) => `${found.upstreamRepo}@${found.headSha}`));
          after = page.at(-1);
        }
        expect(pages).toEqual([
          ["A/first@zz", "Up/Stream@s01"],
          ["Up/Stream@s02", "Up/Stream@s03"],
          ["Up/Stream@s04", "Up/Stream@s05"],
          ["z/last@aa"],
        ]);
        expect(store.openHeads(undefined, 100)).toHaveLength(7);
        expect(store.openHeads({ upstreamRepo: "UP/STREAM", headSha: "s03" }, 100).map((found) => found.headSha)).toEqual(["s04", "s05", "aa"]);
      });
    });

    describe("backend heads", () => {
      it("round-trips a backend head with counts, newest attempt and frame hash, optional fields absent", async () => {
        const newest = attempt("test", 1, { status: "in_progress", conclusion: undefined });
        delete newest.conclusion;
        const full = backendHead({
          dispatchOutcome: "failed",
          dispatchReason: "http_404",
          unreported: "never_reported",
          counts: { jobs: 2, running: 1, conclusions: { success: 1 } },
          newest,
          nextSeq: 2,
          frameHash: "frame-1",
        });
        store.putBackendHead(backendHead());
        store.putBackendHead({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
        const again = await stored();

        const bare = again.backendHead({ ...KEY, downstreamRepo: "ACME/npu" });
        expect(bare).toStrictEqual(backendHead());
        for (const field of ["dispatchReason", "unreported", "newest", "frameHash"]) expect(bare).not.toHaveProperty(field);
        expect(again.backendHead({ ...KEY, downstreamRepo: "beta/tpu" })).toStrictEqual({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
        expect(again.backendHead({ ...KEY, downstreamRepo: "gamma/xpu" })).toBeUndefined();
        expect(again.backendHead({ ...KEY, headSha: "def" })).toBeUndefined();

        // backendHeads: every backend on the head, by downstream repo.
        store.putBackendHead(backendHead({ headSha: "def" }));
        expect(store.backendHeads({ upstreamRepo: "UP/STREAM", headSha: "abc" }).map((found) => found.backendName)).toEqual(["npu", "tpu"]);
        expect(store.backendHeads({ upstreamRepo: "up/stream", headSha: "nope" })).toEqual([]);
      });

      it("replaces a backend head in place, dropping what the new facts leave out", () => {
        store.putBackendHead(backendHead({ dispatchOutcome: "dead", dispatchReason: "max_age", unreported: "reports_not_expected", frameHash: "f", nextSeq: 3 }));
        const redispatched = backendHead({ deliveryId: "d2", dispatchOutcome: "pending", level: "L4" });
        store.putBackendHead(redispatched);
        expect(store.backendHead(KEY)).toStrictEqual(redispatched);
      });

      it("finds the backend head of a dispatch while it is the head's latest", () => {
        store.putBackendHead(backendHead());
        expect(store.backendHeadOfDispatch("d1", "ACME/npu")).toStrictEqual(backendHead());
        expect(store.backendHeadOfDispatch("d1", "beta/tpu")).toBeUndefined();
        store.putBackendHead(backendHead({ deliveryId: "d2" }));
        expect(store.backendHeadOfDispatch("d1", "acme/npu")).toBeUndefined();
        expect(store.backendHeadOfDispatch("d2", "acme/npu")).toMatchObject({ deliveryId: "d2" });
      });
    });

    describe("latest attempts", () => {
      it("round-trips a latest attempt by job, and a later attempt replaces it", async () => {
        const running = attempt("test", 0, { status: "in_progress" });
        delete running.conclusion;
        store.putLatestAttempt(KEY, running);
        const again = await stored();
        expect(again.latestAttempt({ ...KEY, upstreamRepo: "UP/stream", downstreamRepo: "ACME/NPU" }, "ci", "test")).toStrictEqual(running);
        expect(again.latestAttempt(KEY, "ci", "build")).toBeUndefined();
        expect(again.latestAttempt(KEY, "other", "test")).toBeUndefined();
        expect(again.latestAttempt({ ...KEY, downstreamRepo: "beta/tpu" }, "ci", "test")).toBeUndefined();

        const retried = attempt("test", 0, { runAttempt: 2, conclusion: "failure" });
        store.putLatestAttempt(KEY, retried);
        expect(store.latestAttempt(KEY, "ci", "test")).toStrictEqual(retried);
        expect(store.attemptsBelowSeq(KEY, 10)).toStrictEqual([retried]);
      });

      it("lists jobs that did not pass first, at most `limit`, returned in seq order", () => {
        // seq 0..5: passed, failed, passed, running, passed, cancelled; written out of order.
        const attempts = [
          attempt("j0", 0),
          attempt("j1", 1, { conclusion: "failure" }),
          attempt("j2", 2),
          attempt("j3", 3, { status: "in_progress", conclusion: undefined }),
          attempt("j4", 4),
          attempt("j5", 5, { conclusion: "cancelled" }),
        ];
        for (const index of [4, 0, 5, 2, 1, 3]) store.putLatestAttempt(KEY, attempts[index]!);
        const listed = (limit: number) => store.listedAttempts(KEY, limit).map((found) => found.jobName);
        expect(listed(100)).toEqual(["j0", "j1", "j2", "j3", "j4", "j5"]);
        expect(listed(3)).toEqual(["j1", "j3", "j5"]); // the three that did not pass
        expect(listed(4)).toEqual(["j0", "j1", "j3", "j5"]); // then passed ones by seq
        expect(listed(5)).toEqual(["j0", "j1", "j2", "j3", "j5"]);
        expect(listed(1)).toEqual(["j1"]);
        expect(listed(0)).toEqual([]);
        // A job that passes on retry moves behind the failing ones.
        store.putLatestAttempt(KEY, attempt("j1", 1, { runAttempt: 2 }));
        expect(listed(2)).toEqual(["j3", "j5"]);
        // Completed without a conclusion is not passed.
        store.putLatestAttempt(KEY, attempt("j0", 0, { conclusion: undefined }));
        expect(listed(3)).toEqual(["j0", "j3", "j5"]);
        // Other backend heads are not listed.
        expect(store.listedAttempts({ ...KEY, downstreamRepo: "beta/tpu" }, 10)).toEqual([]);
      });

      it("returns the attempts below a seq in seq order, and forgets a backend head's attempts on clear", () => {
        for (const seq of [3, 0, 2, 1]) store.putLatestAttempt(KEY, attempt(`j${seq}`, seq, seq === 2 ? { conclusion: "failure" } : {}));
        const other = { ...KEY, headSha: "def" };
        store.putLatestAttempt(other, attempt("j0", 0));
        expect(store.attemptsBelowSeq(KEY, 2).map((found) => found.seq)).toEqual([0, 1]);
        expect(store.attemptsBelowSeq(KEY, 100).map((found) => found.seq)).toEqual([0, 1, 2, 3]);
        expect(store.attemptsBelowSeq(KEY, 0)).toEqual([]);
        expect(store.attemptsBelowSeq(KEY, 3)[2]).toStrictEqual(attempt("j2", 2, { conclusion: "failure" }));

        store.clearLatestAttempts({ ...KEY, upstreamRepo: "Up/Stream", downstreamRepo: "Acme/NPU" });
        expect(store.attemptsBelowSeq(KEY, 100)).toEqual([]);
        expect(store.listedAttempts(KEY, 100)).toEqual([]);
        expect(store.latestAttempt(KEY, "ci", "j0")).toBeUndefined();
        expect(store.attemptsBelowSeq(other, 100)).toHaveLength(1);
      });
    });

    describe("callback outcomes", () => {
      it("adds counts per (day, repo, outcome), reads days from a day on, and prunes days before the kept one", () => {
        store.addCallbackOutcomes(
          [
            { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
            { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 1 },
            { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
          ],
          "2026-01-01",
        );
        store.addCallbackOutcomes([{ day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 3 }], "2026-01-01");
        expect(store.callbackOutcomes("2026-01-01")).toEqual([
          { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
          { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
          { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 4 },
        ]);
        expect(store.callbackOutcomes("2026-01-02")).toEqual([
          { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
          { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 4 },
        ]);
        store.addCallbackOutcomes([], "2026-01-02");
        expect(store.callbackOutcomes("2000-01-01").map((row) => row.day)).toEqual(["2026-01-02", "2026-01-02"]);
        expect(store.callbackOutcomes("2026-01-03")).toEqual([]);
      });
    });

    describe("installations", () => {
      it("remembers installations by repo, case-insensitively, including known non-installations", () => {
        expect(store.getInstallation("acme/npu")).toBeUndefined();
        expect(store.listInstallations()).toEqual([]);
        store.setInstallation("Acme/NPU", 11, NOW);
        store.setInstallation("beta/xpu", undefined, NOW);
        store.setInstallation("gamma/tpu", 11, NOW);
        expect(store.getInstallation("acme/npu")).toStrictEqual({ repo: "Acme/NPU", installationId: 11, checkedAt: NOW });
        expect(store.getInstallation("BETA/xpu")).toStrictEqual({ repo: "beta/xpu", checkedAt: NOW });

        store.setInstallation("acme/npu", 12, NOW + 1);
        expect(store.getInstallation("ACME/npu")).toStrictEqual({ repo: "acme/npu", installationId: 12, checkedAt: NOW + 1 });

        store.dropInstallation(11, NOW + 2);
        expect(store.listInstallations()).toStrictEqual([
          { repo: "acme/npu", installationId: 12, checkedAt: NOW + 1 },
          { repo: "beta/xpu", checkedAt: NOW },
          { repo: "gamma/tpu", checkedAt: NOW + 2 },
        ]);
      });
    });

    describe("atomically", () => {
      /** A delivery's work plus a fact write (the head superseded), each through a store method of its own. */
      function acceptAndClose(deliveryId: string, sha: string): void {
        store.acceptDelivery(delivery(deliveryId, deliveryId), work(deliveryId, ["acme/npu"]), NOW);
        store.putHead(head({ headSha: sha, state: "superseded", supersededBy: "next" }));
      }

      /** What a delivery left, as storage has it. */
      async function committed(deliveryId: string, sha: string) {
        const reader = await stored();
        return {
          delivery: reader.hasDelivery(deliveryId),
          log: reader.dispatchLog(deliveryId).length,
          closed: reader.head({ upstreamRepo: "Up/Stream", headSha: sha })?.state === "superseded",
        };
      }

      it("commits every write of its function together and returns its result", async () => {
        const result = store.atomically(() => {
          acceptAndClose("d1", "sha1");
          return "done";
        });
        expect(result).toBe("done");
        expect(await committed("d1", "sha1")).toEqual({ delivery: true, log: 1, closed: true });
      });

      it("rolls back every write, including those of store methods with their own transactions, when its function throws", async () => {
        expect(() =>
          store.atomically(() => {
            acceptAndClose("d1", "sha1");
            store.putBackendHead(backendHead({ nextSeq: 1 }));
            store.putLatestAttempt(KEY, attempt("test", 0));
            store.queueCheckRun(aggregateTask("check:up/stream:npu:abc", "queued"), head(), "h", NOW);
            store.putJob(job("completed"), { job: "test" }, NOW);
            store.setInstallation("acme/npu", 11, NOW);
            store.addCallbackOutcomes([{ day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 1 }], "2026-01-01");
            throw new Error("the last write failed");
          }),
        ).toThrow("the last write failed");
        expect(await committed("d1", "sha1")).toEqual({ delivery: false, log: 0, closed: false });
        expect(store.outboxStats()).toEqual({ pending: 0, dead: 0 });
        expect(store.backendHead(KEY)).toBeUndefined();
        expect(store.latestAttempt(KEY, "ci", "test")).toBeUndefined();
        expect(store.checkRun("check:up/stream:npu:abc")).toBeUndefined();
        expect(store.shaJobs("up/stream", "abc")).toEqual([]);
        expect(store.hudQueueStats()).toEqual({ pending: 0, rejected: 0 });
        expect(store.getInstallation("acme/npu")).toBeUndefined();
        expect(store.callbackOutcomes("2000-01-01")).toEqual([]);
      });

      it("nests: an inner call that throws undoes its own writes only; an outer throw undoes the inner's too", async () => {
        store.atomically(() => {
          acceptAndClose("outer", "sha-outer");
          expect(() =>
            store.atomically(() => {
              acceptAndClose("inner", "sha-inner");
              throw new Error("inner fails");
            }),
          ).toThrow("inner fails");
        });
        expect(await committed("outer", "sha-outer")).toEqual({ delivery: true, log: 1, closed: true });
        expect(await committed("inner", "sha-inner")).toEqual({ delivery: false, log: 0, closed: false });

        expect(() =>
          store.atomically(() => {
            store.atomically(() => acceptAndClose("nested", "sha-nested"));
            throw new Error("outer fails");
          }),
        ).toThrow("outer fails");
        expect(await committed("nested", "sha-nested")).toEqual({ delivery: false, log: 0, closed: false });
      });

      it("refuses a function that returns a Promise, rolling back what it wrote before its first await", async () => {
        let pending: Promise<void> | undefined;
        expect(() =>
          store.atomically(() => {
            acceptAndClose("async", "sha-async");
            pending = Promise.resolve();
            return pending;
          }),
        ).toThrow(/synchronous/);
        await pending;
        expect(await committed("async", "sha-async")).toEqual({ delivery: false, log: 0, closed: false });
        // The store is usable afterwards: no transaction was left open.
        store.atomically(() => acceptAndClose("after", "sha-after"));
        expect(await committed("after", "sha-after")).toEqual({ delivery: true, log: 1, closed: true });
      });
    });

    describe("transaction", () => {
      it("commits work queued together, resolving each with its own result once committed", async () => {
        const results = await Promise.all(
          ["t1", "t2", "t3"].map((id, index) =>
            store.transaction(() => {
              store.acceptDelivery(delivery(id), work(id, ["acme/npu"]), NOW + index);
              store.putHead(head({ headSha: id }));
              return `${id} done`;
            }),
          ),
        );
        expect(results).toEqual(["t1 done", "t2 done", "t3 done"]);
        const reader = await stored();
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
          store.transaction(() => {
            store.rememberDelivery(delivery("ok-1"), NOW);
            return 1;
          }),
          store.transaction(() => {
            store.acceptDelivery(delivery("bad"), work("bad", ["acme/npu"]), NOW);
            store.putHead(head({ headSha: "bad" }));
            throw failure;
          }),
          store.transaction(() => {
            store.rememberDelivery(delivery("ok-2"), NOW);
            return 2;
          }),
        ]);
        expect(outcomes).toEqual([
          { status: "fulfilled", value: 1 },
          { status: "rejected", reason: failure },
          { status: "fulfilled", value: 2 },
        ]);
        const reader = await stored();
        expect([reader.hasDelivery("ok-1"), reader.hasDelivery("bad"), reader.hasDelivery("ok-2")]).toEqual([true, false, true]);
        expect(reader.dispatchLog("bad")).toEqual([]);
        expect(reader.head({ upstreamRepo: "up/stream", headSha: "bad" })).toBeUndefined();
        expect(store.outboxStats().pending).toBe(0);
      });

      it("refuses a function that returns a Promise, rolling back what it wrote", async () => {
        await expect(
          store.transaction(() => {
            store.rememberDelivery(delivery("async"), NOW);
            return Promise.resolve("too late");
          }),
        ).rejects.toThrow(/synchronous/);
        expect((await stored()).hasDelivery("async")).toBe(false);
        await expect(store.transaction(() => store.rememberDelivery(delivery("after"), NOW))).resolves.toBeUndefined();
        expect((await stored()).hasDelivery("after")).toBe(true);
      });

      it("runs in turn with atomically: each sees the other's committed writes", async () => {
        store.atomically(() => store.rememberDelivery(delivery("first"), NOW));
        const seen = await store.transaction(() => {
          store.rememberDelivery(delivery("second"), NOW);
          return store.hasDelivery("first");
        });
        expect(seen).toBe(true);
        expect(store.atomically(() => store.hasDelivery("second"))).toBe(true);
      });
    });

    describe("prune", () => {
      const T0 = NOW;
      const LATER = T0 + 30 * DAY;
      const POLICY: RetentionPolicy = { retentionMs: 14 * DAY, maxRowsPerTable: 1000 };
      const REPO = "Up/Stream";
      const NOTHING: PrunedRows = { outbox: 0, dispatch_log: 0, jobs: 0, job_latest: 0, check_runs: 0, backend_heads: 0, heads: 0, deliveries: 0 };

      const aggregateKey = (sha: string) => `check:up/stream:npu:${sha}`;
      const dispatchKey = (deliveryId: string) => `dispatch:${deliveryId}:acme/npu`;
      const headKey = (sha: string) => ({ upstreamRepo: REPO, headSha: sha });
      const backendKey = (sha: string) => ({ ...headKey(sha), downstreamRepo: "acme/npu" });

      function putHead(sha: string, state: HeadState, at: number): void {
        store.putHead({ ...headKey(sha), prNumber: 7, state, labels: [], stateChangedAt: at, ...(state === "superseded" && { supersededBy: "open" }) });
      }

      /** The aggregate check run of `sha`, queued as the state core does (its check-run record and its task). */
      function queueAggregate(sha: string, at: number): void {
        store.queueCheckRun(
          {
            key: aggregateKey(sha),
            kind: "check_run",
            repo: REPO,
            request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "up", repo: "stream", head_sha: sha, status: "queued" } },
          },
          headKey(sha),
          `hash-${sha}`,
          at,
        );
      }

      /** A PR event on `sha` at `at`: the head open, a dispatch to acme/npu with its log row. */
      function dispatchPr(deliveryId: string, sha: string, at: number): void {
        putHead(sha, "open", at);
        store.acceptDelivery(
          { id: deliveryId, event: "pull_request", payloadHash: `hash-${deliveryId}` },
          {
            tasks: [
              {
                key: dispatchKey(deliveryId),
                kind: "dispatch",
                repo: "acme/npu",
                request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu", client_payload: { head_sha: sha } } },
                dispatch: { deliveryId, downstreamRepo: "acme/npu" },
              },
            ],
            log: [
              {
                deliveryId,
                downstreamRepo: "acme/npu",
                upstreamRepo: REPO,
                event: "pull_request",
                action: "opened",
                prNumber: 7,
                headSha: sha,
                backendName: "npu",
                level: "L3",
                outcome: "pending",
                attempts: 0,
                createdAt: at,
              },
            ],
          },
          at,
        );
      }

      function completedJob(deliveryId: string, sha: string, at: number): StoredJob {
        return {
          deliveryId,
          downstreamRepo: "acme/npu",
          runId: 1,
          runAttempt: 1,
          jobName: "test",
          upstreamRepo: REPO,
          prNumber: 7,
          headSha: sha,
          backendName: "npu",
          level: "L3",
          workflowName: "ci",
          status: "completed",
          conclusion: "success",
          fingerprint: "done",
          report: { status: "completed" },
          updatedAt: at,
        };
      }

      /**
       * A head whose dispatch and aggregate check run were sent at `at` and whose job completed then: every
       * table holds a row of it (outbox ×2, dispatch_log, jobs, job_latest, check_runs, backend_heads, heads).
       */
      function settledHead(deliveryId: string, sha: string, at: number, checkRunId: number): void {
        dispatchPr(deliveryId, sha, at);
        queueAggregate(sha, at);
        store.markSent(taskId(dispatchKey(deliveryId)), { at });
        store.markSent(taskId(aggregateKey(sha)), { at, resultId: checkRunId });
        const done = completedJob(deliveryId, sha, at);
        store.putJob(done, { job: done.jobName, sha }, at);
        const { fingerprint: _f, report: _r, upstreamRepo: _u, headSha: _h, backendName: _b, level: _l, ...summary } = done;
        store.putLatestAttempt(backendKey(sha), { ...summary, seq: 0 });
        store.putBackendHead({
          ...backendKey(sha),
          backendName: "npu",
          level: "L3",
          deliveryId,
          dispatchOutcome: "sent",
          counts: { jobs: 1, running: 0, conclusions: { success: 1 } },
          nextSeq: 1,
        });
      }

      /** A trunk push on `sha` at `at`: a dispatch sent and a job reported then (push heads have no head row). */
      function settledPush(deliveryId: string, sha: string, at: number): void {
        const task = {
          key: dispatchKey(deliveryId),
          kind: "dispatch" as const,
          repo: "acme/npu",
          request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu" } },
          dispatch: { deliveryId, downstreamRepo: "acme/npu" },
        };
        const entry = { deliveryId, downstreamRepo: "acme/npu", upstreamRepo: REPO, event: "push" as const, headSha: sha, backendName: "npu" };
        store.acceptDelivery(
          { id: deliveryId, event: "push", payloadHash: `hash-${deliveryId}` },
          { tasks: [task], log: [{ ...entry, level: "L3", outcome: "pending", attempts: 0, createdAt: at }] },
          at,
        );
        store.markSent(taskId(task.key), { at });
        store.putJob({ ...completedJob(deliveryId, sha, at), prNumber: null }, undefined, at);
      }

      /** The HUD writer has written every queued row. */
      function exportHudQueue(): void {
        store.removeHudRows(store.pendingHudRows(10_000).map((row) => row.id));
      }

      /** Whether anything of the head `sha` is left in the facts. */
      function facts(sha: string) {
        return {
          head: store.head(headKey(sha))?.state,
          backend: store.backendHead(backendKey(sha)) !== undefined,
          latest: store.latestAttempt(backendKey(sha), "ci", "test") !== undefined,
          checkRunId: store.checkRunId(aggregateKey(sha)),
        };
      }

      beforeEach(() => {
        settledHead("d-old", "old", T0, 101); // PR closed 30 days ago
        putHead("old", "closed", T0 + HOUR);
        settledHead("d-sup", "sup", T0, 104); // superseded 30 days ago
        putHead("sup", "superseded", T0 + HOUR);
        settledHead("d-open", "open", T0, 102); // PR still open
        settledHead("d-recent", "recent", LATER - 2 * DAY, 103); // closed yesterday
        putHead("recent", "closed", LATER - DAY);
        dispatchPr("d-stuck", "stuck", T0); // closed, but its dispatch and its check run's write are still pending
        queueAggregate("stuck", T0);
        putHead("stuck", "closed", T0 + HOUR);
        settledPush("d-push", "trunk", T0);
        settledPush("d-push-recent", "trunk-2", LATER - 2 * DAY);
        store.putJob({ ...completedJob("self:1", "trunk", T0), prNumber: null }, undefined, T0); // a self-report
        store.rememberDelivery({ id: "r-old", event: "check_run", payloadHash: "hash-r-old" }, LATER - 73 * HOUR);
        store.rememberDelivery({ id: "r-recent", event: "check_run", payloadHash: "hash-r-recent" }, LATER - 71 * HOUR);
      });

      it("deletes exactly the settled rows past retention, and a second run finds nothing", () => {
        exportHudQueue();
        expect(store.prune(LATER, POLICY)).toEqual({
          outbox: 7, // old, sup and open: dispatch + check run each; the old push's dispatch
          dispatch_log: 3, // old, sup, the old push
          jobs: 4, // old, sup, the old push's job, the self-report
          job_latest: 2,
          check_runs: 2,
          backend_heads: 2,
          heads: 2,
          deliveries: 4, // d-old, d-sup, d-push, r-old
        });

        // Heads closed or superseded past retention are gone entirely.
        for (const [sha, deliveryId] of [["old", "d-old"], ["sup", "d-sup"]] as const) {
          expect(facts(sha)).toEqual({ head: undefined, backend: false, latest: false, checkRunId: undefined });
          expect(store.taskByKey(dispatchKey(deliveryId))).toBeUndefined();
          expect(store.taskByKey(aggregateKey(sha))).toBeUndefined();
          expect(store.checkRun(aggregateKey(sha))).toBeUndefined();
          expect(store.shaJobs(REPO, sha)).toEqual([]);
          expect(store.dispatchLog(deliveryId)).toEqual([]);
          expect(store.hasDelivery(deliveryId)).toBe(false);
        }

        // An open head loses its settled tasks only: its facts stay, and its check run can still be updated in place.
        expect(facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
        expect(store.checkRun(aggregateKey("open"))).toEqual({ githubId: 102, desiredHash: "hash-open" });
        expect(store.taskByKey(dispatchKey("d-open"))).toBeUndefined();
        expect(store.taskByKey(aggregateKey("open"))).toBeUndefined();
        expect(store.shaJobs(REPO, "open")).toHaveLength(1);
        expect(store.dispatchLog("d-open")).toHaveLength(1);
        expect(store.hasDelivery("d-open")).toBe(true); // its dispatch-log row refers to it

        // A head closed within retention keeps everything.
        expect(facts("recent")).toEqual({ head: "closed", backend: true, latest: true, checkRunId: 103 });
        expect(store.taskByKey(dispatchKey("d-recent"))).toBeDefined();
        expect(store.shaJobs(REPO, "recent")).toHaveLength(1);

        // Pending work stays, and so do its check run (the worker needs the record) and its closed head.
        expect(store.outboxStats().pending).toBe(2);
        expect(store.dispatchLog("d-stuck")).toMatchObject([{ outcome: "pending" }]);
        expect(store.checkRun(aggregateKey("stuck"))).toEqual({ desiredHash: "hash-stuck" });
        expect(store.head(headKey("stuck"))).toMatchObject({ state: "closed" });

        // Pushes and self-reports, which have no head, go by age.
        expect(store.dispatchLog("d-push")).toEqual([]);
        expect(store.shaJobs(REPO, "trunk")).toEqual([]);
        expect(store.dispatchLog("d-push-recent")).toHaveLength(1);
        expect(store.shaJobs(REPO, "trunk-2")).toHaveLength(1);
        // Nothing left looks like a dispatch that never reported.
        expect(store.unreportedDispatches(LATER, 100)).toEqual([]);

        // Deliveries are kept exactly GitHub's 72-hour redelivery window: the replay guard still sees them.
        expect(store.hasDelivery("r-old")).toBe(false);
        expect(store.hasDelivery("r-recent")).toBe(true);
        expect(store.deliveryWithPayload("hash-r-recent", "another", LATER - 72 * HOUR)).toBe("r-recent");

        expect(store.prune(LATER, POLICY)).toEqual(NOTHING);
      });

      it("lets a settled head's check run go once its last write was sent, the head once nothing of it is left", () => {
        exportHudQueue();
        store.prune(LATER, POLICY);
        store.markSent(taskId(aggregateKey("stuck")), { at: LATER, resultId: 105 });
        expect(store.prune(LATER, POLICY)).toEqual({ ...NOTHING, check_runs: 1 });
        expect(store.checkRun(aggregateKey("stuck"))).toBeUndefined();
        expect(store.head(headKey("stuck"))).toBeDefined(); // its dispatch is still pending

        store.markSent(taskId(dispatchKey("d-stuck")), { at: LATER });
        exportHudQueue();
        // Its dispatch-log row changed at LATER: exported only from then on.
        expect(store.prune(LATER, POLICY)).toEqual(NOTHING);
        expect(store.prune(LATER + 1, POLICY)).toEqual({ ...NOTHING, dispatch_log: 1, heads: 1, deliveries: 1 });
        expect(store.head(headKey("stuck"))).toBeUndefined();
        // The tasks just sent go after retention like any other.
        expect(store.taskByKey(aggregateKey("stuck"))).toBeDefined();
        store.prune(LATER + POLICY.retentionMs + 1, POLICY);
        expect(store.taskByKey(aggregateKey("stuck"))).toBeUndefined();
        expect(store.taskByKey(dispatchKey("d-stuck"))).toBeUndefined();
      });

      it("keeps the rows of settled heads while their HUD rows wait for ClickHouse", () => {
        // The oldest queued HUD row is from T0: nothing changed since then is known to be in ClickHouse.
        expect(store.prune(LATER, POLICY)).toEqual({ ...NOTHING, outbox: 7, job_latest: 2, check_runs: 2, backend_heads: 2, deliveries: 1 });
        for (const [sha, deliveryId] of [["old", "d-old"], ["sup", "d-sup"]] as const) {
          expect(store.shaJobs(REPO, sha)).toHaveLength(1);
          expect(store.dispatchLog(deliveryId)).toHaveLength(1);
          expect(store.head(headKey(sha))).toBeDefined();
          expect(store.hasDelivery(deliveryId)).toBe(true);
        }
        expect(store.shaJobs(REPO, "trunk")).toHaveLength(2); // the push's job and the self-report

        exportHudQueue();
        expect(store.prune(LATER, POLICY)).toEqual({ ...NOTHING, dispatch_log: 3, jobs: 4, heads: 2, deliveries: 3 });
      });

      it("leaves open heads untouched however old", () => {
        exportHudQueue();
        store.prune(LATER + 365 * DAY, POLICY);
        expect(facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
        expect(store.shaJobs(REPO, "open")).toHaveLength(1);
        expect(store.dispatchLog("d-open")).toHaveLength(1);
        // …and a head closed yesterday goes a retention period after it settled.
        expect(facts("recent")).toEqual({ head: undefined, backend: false, latest: false, checkRunId: undefined });
      });

      it("deletes at most maxRowsPerTable rows per table per run, and in the end what one unbounded run would", () => {
        for (let index = 0; index < 5; index += 1) {
          settledHead(`d-more-${index}`, `more-${index}`, T0, 200 + index);
          putHead(`more-${index}`, "closed", T0 + HOUR);
        }
        exportHudQueue();
        const runs: PrunedRows[] = [];
        for (let run = 0; run < 20; run += 1) {
          const pruned = store.prune(LATER, { ...POLICY, maxRowsPerTable: 2 });
          if (Object.values(pruned).every((count) => count === 0)) break;
          runs.push(pruned);
        }
        for (const pruned of runs) for (const count of Object.values(pruned)) expect(count).toBeLessThanOrEqual(2);
        expect(runs.map((pruned) => pruned.outbox)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1]);
        const total = Object.fromEntries(Object.keys(NOTHING).map((table) => [table, runs.reduce((sum, pruned) => sum + pruned[table as keyof PrunedRows], 0)]));
        // 7 settled heads (old, sup, 5 more) with 2 tasks each, plus the open head's 2 and the push's 1.
        expect(total).toEqual({ outbox: 17, dispatch_log: 8, jobs: 9, job_latest: 7, check_runs: 7, backend_heads: 7, heads: 7, deliveries: 9 });
        expect(store.prune(LATER, POLICY)).toEqual(NOTHING);
      });
    });

    describe("close", () => {
      it("closes the store, keeping what it committed for the next connection", async () => {
        store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu"]), NOW);
        store.close();
        if (options.reconnect) {
          const again = await options.reconnect(store);
          expect(again.hasDelivery("d1")).toBe(true);
          expect(again.dueTasks(NOW, 10).map((task) => task.key)).toEqual(["dispatch:d1:acme/npu"]);
        }
      });

      it("commits a transaction queued before close, and keeps it for the next connection", async () => {
        const queued = store.transaction(() => store.acceptDelivery(delivery("d-queued"), work("d-queued", ["acme/npu"]), NOW));
        store.close();
        await expect(queued).resolves.toBe("accepted");
        if (options.reconnect) expect((await options.reconnect(store)).hasDelivery("d-queued")).toBe(true);
      });

      it("answers a transaction after close with a rejection, not silence", async () => {
        store.close();
        await expect(store.transaction(() => "written")).rejects.toThrow();
      });
    });
  });
}
