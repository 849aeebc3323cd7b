// Retention in the SQLite store (prune): settled work past retention goes, bounded per run; pending
// work (and the check run a pending write needs), deliveries within GitHub's redelivery window, open heads
// and rows not yet in ClickHouse stay. A head settles when it is superseded or its PR closes.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { HeadState } from "../../src/domain/heads.js";
import type { PrunedRows, RetentionPolicy, Store, StoredJob } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = 1_800_000_000_000;
const NOW = T0 + 30 * DAY;
const POLICY: RetentionPolicy = { retentionMs: 14 * DAY, maxRowsPerTable: 1000 };
const UPSTREAM = "Up/Stream";
const NOTHING: PrunedRows = { outbox: 0, dispatch_log: 0, jobs: 0, job_latest: 0, check_runs: 0, backend_heads: 0, heads: 0, deliveries: 0 };

let store: Store;

beforeEach(() => {
  store = openSqliteStore(tempDir());
});
afterEach(() => store.close());

const aggregateKey = (sha: string) => `check:up/stream:npu:${sha}`;
const dispatchKey = (deliveryId: string) => `dispatch:${deliveryId}:acme/npu`;
const headKey = (sha: string) => ({ upstreamRepo: UPSTREAM, headSha: sha });
const backendKey = (sha: string) => ({ ...headKey(sha), downstreamRepo: "acme/npu" });

function pendingTaskId(key: string): number {
  const task = store.dueTasks(Number.MAX_SAFE_INTEGER, 1000).find((candidate) => candidate.key === key);
  if (!task) throw new Error(`no pending task ${key}`);
  return task.id;
}

function putHead(sha: string, state: HeadState, at: number): void {
  store.putHead({ ...headKey(sha), prNumber: 7, state, labels: [], stateChangedAt: at, ...(state === "superseded" && { supersededBy: "open" }) });
}

/** The aggregate check run of `sha`, queued as the state core does (its check_runs row and its task). */
function queueAggregate(sha: string, at: number): void {
  store.queueCheckRun(
    {
      key: aggregateKey(sha),
      kind: "check_run",
      repo: UPSTREAM,
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

/**
 * A head whose dispatch and aggregate check run were sent at `at` and whose job completed then: every
 * table holds a row of it (outbox ×2, dispatch_log, jobs, job_latest, check_runs, backend_heads, heads).
 */
function settledHead(deliveryId: string, sha: string, at: number, checkRunId: number): void {
  dispatchPr(deliveryId, sha, at);
  queueAggregate(sha, at);
  store.markSent(pendingTaskId(dispatchKey(deliveryId)), { at });
  store.markSent(pendingTaskId(aggregateKey(sha)), { at, resultId: checkRunId });
  const job = completedJob(deliveryId, sha, at);
  store.putJob(job, { job: job.jobName, sha }, at);
  const { fingerprint: _f, report: _r, upstreamRepo: _u, headSha: _h, backendName: _b, level: _l, ...summary } = job;
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
  const entry = { deliveryId, downstreamRepo: "acme/npu", upstreamRepo: UPSTREAM, event: "push" as const, headSha: sha, backendName: "npu" };
  store.acceptDelivery(
    { id: deliveryId, event: "push", payloadHash: `hash-${deliveryId}` },
    { tasks: [task], log: [{ ...entry, level: "L3", outcome: "pending", attempts: 0, createdAt: at }] },
    at,
  );
  store.markSent(pendingTaskId(task.key), { at });
  store.putJob({ ...completedJob(deliveryId, sha, at), prNumber: null }, undefined, at);
}

/** The HUD writer has written every queued row. */
function exportHudQueue(): void {
  store.removeHudRows(store.pendingHudRows(10_000).map((row) => row.id));
}

/** Whether anything of the head `sha` is left in the fact tables. */
function facts(sha: string) {
  return {
    head: store.head(headKey(sha))?.state,
    backend: store.backendHead(backendKey(sha)) !== undefined,
    latest: store.latestAttempt(backendKey(sha), "ci", "test") !== undefined,
    checkRunId: store.checkRunId(aggregateKey(sha)),
  };
}

describe("prune", () => {
  beforeEach(() => {
    settledHead("d-old", "old", T0, 101); // PR closed 30 days ago
    putHead("old", "closed", T0 + HOUR);
    settledHead("d-sup", "sup", T0, 104); // superseded 30 days ago
    putHead("sup", "superseded", T0 + HOUR);
    settledHead("d-open", "open", T0, 102); // PR still open
    settledHead("d-recent", "recent", NOW - 2 * DAY, 103); // closed yesterday
    putHead("recent", "closed", NOW - DAY);
    dispatchPr("d-stuck", "stuck", T0); // closed, but its dispatch and its check run's write are still pending
    queueAggregate("stuck", T0);
    putHead("stuck", "closed", T0 + HOUR);
    settledPush("d-push", "trunk", T0);
    settledPush("d-push-recent", "trunk-2", NOW - 2 * DAY);
    store.putJob({ ...completedJob("self:1", "trunk", T0), prNumber: null }, undefined, T0); // a self-report
    store.rememberDelivery({ id: "r-old", event: "check_run", payloadHash: "hash-r-old" }, NOW - 73 * HOUR);
    store.rememberDelivery({ id: "r-recent", event: "check_run", payloadHash: "hash-r-recent" }, NOW - 71 * HOUR);
  });

  it("deletes exactly the settled rows past retention, and a second run finds nothing", () => {
    exportHudQueue();
    expect(store.prune(NOW, POLICY)).toEqual({
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
      expect(store.shaJobs(UPSTREAM, sha)).toEqual([]);
      expect(store.dispatchLog(deliveryId)).toEqual([]);
      expect(store.hasDelivery(deliveryId)).toBe(false);
    }

    // An open head loses its settled tasks only: its facts stay, and its check run can still be updated in place.
    expect(facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
    expect(store.checkRun(aggregateKey("open"))).toEqual({ githubId: 102, desiredHash: "hash-open" });
    expect(store.taskByKey(dispatchKey("d-open"))).toBeUndefined();
    expect(store.taskByKey(aggregateKey("open"))).toBeUndefined();
    expect(store.shaJobs(UPSTREAM, "open")).toHaveLength(1);
    expect(store.dispatchLog("d-open")).toHaveLength(1);
    expect(store.hasDelivery("d-open")).toBe(true); // its dispatch-log row refers to it

    // A head closed within retention keeps everything.
    expect(facts("recent")).toEqual({ head: "closed", backend: true, latest: true, checkRunId: 103 });
    expect(store.taskByKey(dispatchKey("d-recent"))).toBeDefined();
    expect(store.shaJobs(UPSTREAM, "recent")).toHaveLength(1);

    // Pending work stays, and so do its check run (the worker needs the row) and its closed head.
    expect(store.outboxStats().pending).toBe(2);
    expect(store.dispatchLog("d-stuck")).toMatchObject([{ outcome: "pending" }]);
    expect(store.checkRun(aggregateKey("stuck"))).toEqual({ desiredHash: "hash-stuck" });
    expect(store.head(headKey("stuck"))).toMatchObject({ state: "closed" });

    // Pushes and self-reports, which have no head, go by age.
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

  it("lets a settled head's check run go once its last write was sent, the head once nothing of it is left", () => {
    exportHudQueue();
    store.prune(NOW, POLICY);
    store.markSent(pendingTaskId(aggregateKey("stuck")), { at: NOW, resultId: 105 });
    expect(store.prune(NOW, POLICY)).toEqual({ ...NOTHING, check_runs: 1 });
    expect(store.checkRun(aggregateKey("stuck"))).toBeUndefined();
    expect(store.head(headKey("stuck"))).toBeDefined(); // its dispatch is still pending

    store.markSent(pendingTaskId(dispatchKey("d-stuck")), { at: NOW });
    exportHudQueue();
    // Its dispatch-log row changed at NOW: exported only from then on.
    expect(store.prune(NOW, POLICY)).toEqual(NOTHING);
    expect(store.prune(NOW + 1, POLICY)).toEqual({ ...NOTHING, dispatch_log: 1, heads: 1, deliveries: 1 });
    expect(store.head(headKey("stuck"))).toBeUndefined();
    // The tasks just sent go after retention like any other.
    expect(store.taskByKey(aggregateKey("stuck"))).toBeDefined();
    store.prune(NOW + POLICY.retentionMs + 1, POLICY);
    expect(store.taskByKey(aggregateKey("stuck"))).toBeUndefined();
    expect(store.taskByKey(dispatchKey("d-stuck"))).toBeUndefined();
  });

  it("keeps the rows of settled heads while their HUD rows wait for ClickHouse", () => {
    // The oldest queued HUD row is from T0: nothing changed since then is known to be in ClickHouse.
    expect(store.prune(NOW, POLICY)).toEqual({ ...NOTHING, outbox: 7, job_latest: 2, check_runs: 2, backend_heads: 2, deliveries: 1 });
    for (const [sha, deliveryId] of [["old", "d-old"], ["sup", "d-sup"]] as const) {
      expect(store.shaJobs(UPSTREAM, sha)).toHaveLength(1);
      expect(store.dispatchLog(deliveryId)).toHaveLength(1);
      expect(store.head(headKey(sha))).toBeDefined();
      expect(store.hasDelivery(deliveryId)).toBe(true);
    }
    expect(store.shaJobs(UPSTREAM, "trunk")).toHaveLength(2); // the push's job and the self-report

    exportHudQueue();
    expect(store.prune(NOW, POLICY)).toEqual({ ...NOTHING, dispatch_log: 3, jobs: 4, heads: 2, deliveries: 3 });
  });

  it("leaves open heads untouched however old", () => {
    exportHudQueue();
    store.prune(NOW + 365 * DAY, POLICY);
    expect(facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
    expect(store.shaJobs(UPSTREAM, "open")).toHaveLength(1);
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
      const pruned = store.prune(NOW, { ...POLICY, maxRowsPerTable: 2 });
      if (Object.values(pruned).every((count) => count === 0)) break;
      runs.push(pruned);
    }
    for (const pruned of runs) for (const count of Object.values(pruned)) expect(count).toBeLessThanOrEqual(2);
    expect(runs.map((pruned) => pruned.outbox)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1]);
    const total = Object.fromEntries(Object.keys(NOTHING).map((table) => [table, runs.reduce((sum, pruned) => sum + pruned[table as keyof PrunedRows], 0)]));
    // 7 settled heads (old, sup, 5 more) with 2 tasks each, plus the open head's 2 and the push's 1.
    expect(total).toEqual({ outbox: 17, dispatch_log: 8, jobs: 9, job_latest: 7, check_runs: 7, backend_heads: 7, heads: 7, deliveries: 9 });
    expect(store.prune(NOW, POLICY)).toEqual(NOTHING);
  });
});
