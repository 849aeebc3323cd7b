// Jobs, check-run desired states (coalescing, queued by the state core) and pending HUD rows in the SQLite store.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requestFor } from "../../src/dispatch/outbox-worker.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { OutboxTaskInput, Store, StoredJob } from "../../src/store/store.js";

const HEAD = { upstreamRepo: "up/stream", headSha: "abc" };
import { tempDir } from "../helpers/server.js";

const NOW = 1_800_000_000_000;
let store: Store;

beforeEach(() => {
  store = openSqliteStore(tempDir());
});
afterEach(() => store.close());

function checkRun(status: string, conclusion?: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key: "check:up/stream:npu:abc:ci/test",
    kind: "check_run",
    repo: "up/stream",
    installationId: 1,
    request: {
      route: "POST /repos/{owner}/{repo}/check-runs",
      params: { owner: "up", repo: "stream", name: "oot / npu / ci / test", head_sha: "abc", status, ...(conclusion && { conclusion }) },
    },
  };
}

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

describe("check-run desired states", () => {
  /** What the state core does when a desired state differs from the last one queued. */
  const queue = (status: string, at: number, conclusion?: string) => store.queueCheckRun(checkRun(status, conclusion), HEAD, `${status}/${conclusion}`, at);

  it("keeps only the latest pending state, and a state arriving mid-send is written after it", () => {
    queue("in_progress", NOW);
    queue("in_progress", NOW + 1);
    const [pending] = store.dueTasks(NOW + 1, 10);
    expect(store.dueTasks(NOW + 1, 10)).toHaveLength(1);
    expect(pending).toMatchObject({ version: 1 });

    // Sent as version 1 while version 2 (completed) arrives: the task stays pending with the newer state.
    queue("completed", NOW + 2, "failure");
    store.markSent(pending!.id, { at: NOW + 3, version: pending!.version, resultId: 4242 });
    const [again] = store.dueTasks(NOW + 3, 10);
    expect(again).toMatchObject({ id: pending!.id, version: 2, request: { params: { status: "completed", conclusion: "failure" } } });
    expect(store.checkRunId(again!.key)).toBe(4242);
    expect(store.checkRun(again!.key)).toEqual({ githubId: 4242, desiredHash: "completed/failure" });

    // The second send updates the same run in place.
    expect(requestFor(again!, store)).toEqual({
      route: "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
      params: { owner: "up", repo: "stream", name: "oot / npu / ci / test", status: "completed", conclusion: "failure", check_run_id: 4242 },
    });
    store.markSent(again!.id, { at: NOW + 4, version: again!.version });
    expect(store.dueTasks(NOW + 4, 10)).toEqual([]);

    // A later state re-opens the finished task rather than adding another.
    queue("completed", NOW + 5, "success");
    expect(store.dueTasks(NOW + 5, 10)).toMatchObject([{ id: pending!.id, version: 3 }]);
    expect(store.outboxStats().pending).toBe(1);
  });

  it("keeps a failed send's backoff when a newer state replaces its request", () => {
    queue("in_progress", NOW);
    const [task] = store.dueTasks(NOW, 10);
    store.scheduleRetry(task!.id, { at: NOW + 60_000, error: "http_502" });
    queue("completed", NOW + 1, "success");
    expect(store.dueTasks(NOW + 1, 10)).toEqual([]);
    expect(store.taskByKey(task!.key)).toMatchObject({ version: 1, nextAttemptAt: NOW + 60_000, request: { params: { status: "completed" } } });
  });
});

describe("jobs and HUD rows", () => {
  it("stores jobs by key (repo case-insensitive) and lists a backend's jobs on a sha", () => {
    store.putJob(job("in_progress", "build"), undefined, NOW);
    store.putJob(job("completed", "test"), { job: "test", status: "completed" }, NOW);
    expect(store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 1, jobName: "test" })).toMatchObject({
      status: "completed",
    });
    expect(store.getJob({ deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 2, jobName: "test" })).toBeUndefined();
    expect(store.shaJobs("up/stream", "abc").filter((j) => j.backendName === "npu").map((j) => j.jobName)).toEqual(["build", "test"]);
    expect(store.pendingHudRows(10)).toEqual([{ id: 1, target: "results", row: { job: "test", status: "completed" } }]);

    // A later state of the same attempt replaces it in place.
    store.putJob({ ...job("completed", "build"), conclusion: "failure", updatedAt: NOW + 1 }, undefined, NOW + 1);
    expect(store.shaJobs("UP/STREAM", "abc").map((j) => [j.jobName, j.status, j.conclusion])).toEqual([
      ["build", "completed", "failure"],
      ["test", "completed", undefined],
    ]);
    expect(store.pendingHudRows(10)).toHaveLength(1);
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

  it("knows when a dispatch was sent, and finds its task by key", () => {
    store.acceptDelivery(
      { id: "d1", event: "pull_request", payloadHash: "h" },
      {
        tasks: [{ key: "dispatch:d1:acme/npu", kind: "dispatch", repo: "acme/npu", request: { route: "POST /x", params: {} }, dispatch: { deliveryId: "d1", downstreamRepo: "acme/npu" } }],
        log: [{ deliveryId: "d1", downstreamRepo: "acme/npu", upstreamRepo: "up/stream", event: "pull_request", headSha: "abc", backendName: "npu", level: "L3", outcome: "pending", attempts: 0, createdAt: NOW }],
      },
      NOW,
    );
    expect(store.dispatchSentAt("d1", "Acme/NPU")).toBeUndefined();
    const [task] = store.dueTasks(NOW, 1);
    store.markSent(task!.id, { at: NOW + 50 });
    expect(store.dispatchSentAt("d1", "Acme/NPU")).toBe(NOW + 50);
    expect(store.taskByKey("dispatch:d1:acme/npu")).toMatchObject({ id: task!.id, attempts: 1 });
    expect(store.taskByKey("dispatch:d1:other/repo")).toBeUndefined();
  });
});

describe("HUD export queue", () => {
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

  it("removes written rows, sets refused ones aside and reports depth and age", () => {
    accept();
    store.putJob(job("completed"), { job: "test" }, NOW + 5);
    expect(store.hudQueueStats()).toEqual({ pending: 3, oldestPendingAt: NOW, rejected: 0 });
    const [first, second, third] = store.pendingHudRows(10);
    expect(third).toMatchObject({ target: "results", row: { job: "test" } });

    store.removeHudRows([first!.id]);
    store.rejectHudRows([second!.id], "row: bad", NOW + 6);
    expect(store.pendingHudRows(10).map((queued) => queued.id)).toEqual([third!.id]);
    expect(store.hudQueueStats()).toEqual({ pending: 1, oldestPendingAt: NOW + 5, rejected: 1 });
    store.removeHudRows([third!.id]);
    expect(store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
  });
});
