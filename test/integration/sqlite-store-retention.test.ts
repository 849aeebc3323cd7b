// Retention in the SQLite store (prune): settled work past retention goes, bounded per run; pending
// work, deliveries within GitHub's redelivery window, check-run ids of open heads and rows not yet in
// ClickHouse stay.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { PrunedRows, RetentionPolicy, Store, StoredJob } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = 1_800_000_000_000;
const NOW = T0 + 30 * DAY;
const POLICY: RetentionPolicy = { retentionMs: 14 * DAY, maxRowsPerTable: 1000 };
const UPSTREAM = "Up/Stream";
const NOTHING: PrunedRows = { outbox: 0, dispatch_log: 0, jobs: 0, hidden_checks: 0, closed_shas: 0, deliveries: 0 };

let store: Store;

beforeEach(() => {
  store = openSqliteStore(tempDir());
});
afterEach(() => store.close());

const aggregateKey = (sha: string) => `check:up/stream:npu:${sha}`;
const dispatchKey = (deliveryId: string) => `dispatch:${deliveryId}:acme/npu`;

function pendingTaskId(key: string): number {
  const task = store.dueTasks(Number.MAX_SAFE_INTEGER, 1000).find((candidate) => candidate.key === key);
  if (!task) throw new Error(`no pending task ${key}`);
  return task.id;
}

/** A PR event on `sha` at `at`: a dispatch to acme/npu with its log row, and a queued aggregate check run. */
function dispatchPr(deliveryId: string, sha: string, at: number): void {
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
        {
          key: aggregateKey(sha),
          kind: "check_run",
          repo: UPSTREAM,
          request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "up", repo: "stream", head_sha: sha, status: "queued" } },
        },
      ],
      log: [
        {
          deliveryId,
          downstreamRepo: "acme/npu",
          upstreamRepo: UPSTREAM,
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
    upstreamRepo: UPSTREAM,
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

/** A head whose dispatch and check run were sent at `at` and whose job completed then. */
function settledHead(deliveryId: string, sha: string, at: number, checkRunId: number): void {
  dispatchPr(deliveryId, sha, at);
  store.markSent(pendingTaskId(dispatchKey(deliveryId)), { at });
  store.markSent(pendingTaskId(aggregateKey(sha)), { at, resultId: checkRunId });
  store.recordJob(completedJob(deliveryId, sha, at), { checkRuns: [] }, at);
}

/** A trunk push on `sha` at `at`: a dispatch sent and a job reported then (push heads are never closed). */
function settledPush(deliveryId: string, sha: string, at: number): void {
  const task = {
    key: dispatchKey(deliveryId),
    kind: "dispatch" as const,
    repo: "acme/npu",
    request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu" } },
    dispatch: { deliveryId, downstreamRepo: "acme/npu" },
  };
  const entry = { deliveryId, downstreamRepo: "acme/npu", upstreamRepo: UPSTREAM, event: "push" as const, headSha: sha, backendName: "npu" };
  store.acceptDelivery(
    { id: deliveryId, event: "push", payloadHash: `hash-${deliveryId}` },
    { tasks: [task], log: [{ ...entry, level: "L3", outcome: "pending", attempts: 0, createdAt: at }] },
    at,
  );
  store.markSent(pendingTaskId(task.key), { at });
  store.recordJob({ ...completedJob(deliveryId, sha, at), prNumber: null }, { checkRuns: [] }, at);
}

/** The HUD writer has written every queued row. */
function exportHudQueue(): void {
  store.removeHudRows(store.pendingHudRows(10_000).map((row) => row.id));
}

describe("prune", () => {
  beforeEach(() => {
    settledHead("d-old", "old", T0, 101); // PR closed 30 days ago
    store.closeSha(UPSTREAM, "old", "closed", T0 + HOUR);
    store.setChecksHidden(UPSTREAM, "npu", "old", true, T0 + HOUR);
    settledHead("d-open", "open", T0, 102); // PR still open
    settledHead("d-recent", "recent", NOW - 2 * DAY, 103); // closed yesterday
    store.closeSha(UPSTREAM, "recent", "closed", NOW - DAY);
    dispatchPr("d-stuck", "stuck", T0); // closed, but its dispatch is still pending
    store.closeSha(UPSTREAM, "stuck", "closed", T0 + HOUR);
    settledPush("d-push", "trunk", T0);
    settledPush("d-push-recent", "trunk-2", NOW - 2 * DAY);
    store.recordJob({ ...completedJob("self:1", "trunk", T0), prNumber: null }, { checkRuns: [] }, T0); // a self-report
    store.rememberDelivery({ id: "r-old", event: "check_run", payloadHash: "hash-r-old" }, NOW - 73 * HOUR);
    store.rememberDelivery({ id: "r-recent", event: "check_run", payloadHash: "hash-r-recent" }, NOW - 71 * HOUR);
  });

  it("deletes exactly the settled rows past retention, and a second run finds nothing", () => {
    exportHudQueue();
    expect(store.prune(NOW, POLICY)).toEqual({ outbox: 4, jobs: 3, dispatch_log: 2, hidden_checks: 1, closed_shas: 1, deliveries: 3 });

    // The closed head past retention is gone entirely.
    expect(store.hasTask(dispatchKey("d-old"))).toBe(false);
    expect(store.checkRunTasks(UPSTREAM, "old")).toEqual([]);
    expect(store.shaJobs(UPSTREAM, "old")).toEqual([]);
    expect(store.dispatchLog("d-old")).toEqual([]);
    expect(store.checksHidden(UPSTREAM, "npu", "old")).toBe(false);
    expect(store.shaClosed(UPSTREAM, "old")).toBe(false);
    expect(store.hasDelivery("d-old")).toBe(false);

    // An open head loses its settled dispatch task only: its check run can still be updated in place.
    expect(store.hasTask(dispatchKey("d-open"))).toBe(false);
    expect(store.checkRunId(aggregateKey("open"))).toBe(102);
    expect(store.shaJobs(UPSTREAM, "open")).toHaveLength(1);
    expect(store.dispatchLog("d-open")).toHaveLength(1);
    expect(store.hasDelivery("d-open")).toBe(true); // its dispatch-log row refers to it

    // A head closed within retention keeps everything.
    expect(store.hasTask(dispatchKey("d-recent"))).toBe(true);
    expect(store.checkRunId(aggregateKey("recent"))).toBe(103);
    expect(store.shaJobs(UPSTREAM, "recent")).toHaveLength(1);
    expect(store.shaClosed(UPSTREAM, "recent")).toBe(true);

    // Pending work stays, and so does its closed head.
    expect(store.outboxStats().pending).toBe(2);
    expect(store.dispatchLog("d-stuck")).toMatchObject([{ outcome: "pending" }]);
    expect(store.shaClosed(UPSTREAM, "stuck")).toBe(true);

    // Pushes and self-reports, never closed, go by age.
    expect(store.dispatchLog("d-push")).toEqual([]);
    expect(store.shaJobs(UPSTREAM, "trunk")).toEqual([]);
    expect(store.dispatchLog("d-push-recent")).toHaveLength(1);
    expect(store.shaJobs(UPSTREAM, "trunk-2")).toHaveLength(1);
    // Nothing left looks like a dispatch that never reported.
    expect(store.unreportedDispatches(NOW, 100)).toEqual([]);

    // Deliveries are kept exactly GitHub's 72-hour redelivery window: the replay guard still sees them.
    expect(store.hasDelivery("r-old")).toBe(false);
    expect(store.hasDelivery("r-recent")).toBe(true);
    expect(store.deliveryWithPayload("hash-r-recent", "another", NOW - 72 * HOUR)).toBe("r-recent");

    expect(store.prune(NOW, POLICY)).toEqual(NOTHING);
  });

  it("keeps the state of closed heads while its HUD rows wait for ClickHouse", () => {
    expect(store.prune(NOW, POLICY)).toEqual({ ...NOTHING, outbox: 4, hidden_checks: 1, deliveries: 1 });
    expect(store.shaJobs(UPSTREAM, "old")).toHaveLength(1);
    expect(store.dispatchLog("d-old")).toHaveLength(1);
    expect(store.shaClosed(UPSTREAM, "old")).toBe(true);
    expect(store.hasDelivery("d-old")).toBe(true);

    exportHudQueue();
    expect(store.prune(NOW, POLICY)).toEqual({ ...NOTHING, jobs: 3, dispatch_log: 2, closed_shas: 1, deliveries: 2 });
  });

  it("deletes at most maxRowsPerTable rows per table per run", () => {
    for (let index = 0; index < 5; index += 1) settledHead(`d-more-${index}`, `open-${index}`, T0, 200 + index);
    exportHudQueue();
    const outboxPerRun = [1, 2, 3, 4, 5].map(() => store.prune(NOW, { ...POLICY, maxRowsPerTable: 2 }).outbox);
    // 6 settled dispatches on open heads, 1 dispatch and 1 check run on the old head, 1 push dispatch.
    expect(outboxPerRun).toEqual([2, 2, 2, 2, 1]);
    expect(store.prune(NOW, { ...POLICY, maxRowsPerTable: 2 }).outbox).toBe(0);
  });
});
