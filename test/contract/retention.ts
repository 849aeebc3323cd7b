// The Store contract (store-contract.ts) on retention: what `prune` deletes, what it keeps, and how it
// bounds each call.
import { beforeEach, describe, expect, it } from "vitest";
import { NOW } from "../helpers/store-fixtures.js";
import type { HeadState } from "../../src/domain/heads.js";
import type { StoredJob } from "../../src/domain/jobs.js";
import type { PrunedRows, RetentionPolicy } from "../../src/store/store.js";
import { taskId } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `prune`. */
export function describeRetention(ctx: StoreContractContext): void {
  describe("prune", () => {
    const T0 = NOW;
    const LATER = T0 + 30 * DAY;
    const POLICY: RetentionPolicy = { retentionMs: 14 * DAY, maxRowsPerTable: 1000 };
    const REPO = "Up/Stream";
    const NOTHING: PrunedRows = { outbox: 0, dispatch_log: 0, jobs: 0, job_latest: 0, check_runs: 0, backend_heads: 0, tracked_runs: 0, trunk_results: 0, heads: 0, deliveries: 0 };

    const aggregateKey = (sha: string) => `check:up/stream:npu:${sha}`;
    const dispatchKey = (deliveryId: string) => `dispatch:${deliveryId}:acme/npu`;
    const headKey = (sha: string) => ({ upstreamRepo: REPO, headSha: sha });
    const backendKey = (sha: string) => ({ ...headKey(sha), downstreamRepo: "acme/npu" });

    async function putHead(sha: string, state: HeadState, at: number): Promise<void> {
      await ctx.store.putHead({ ...headKey(sha), prNumber: 7, state, labels: [], stateChangedAt: at, ...(state === "superseded" && { supersededBy: "open" }) });
    }

    /** The aggregate check run of `sha`, queued as the state core does (its check-run record and its task). */
    async function queueAggregate(sha: string, at: number): Promise<void> {
      await ctx.store.queueCheckRun(
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
    async function dispatchPr(deliveryId: string, sha: string, at: number): Promise<void> {
      await putHead(sha, "open", at);
      await ctx.store.acceptDelivery(
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
    async function settledHead(deliveryId: string, sha: string, at: number, checkRunId: number): Promise<void> {
      await dispatchPr(deliveryId, sha, at);
      await queueAggregate(sha, at);
      await ctx.store.markSent(await taskId(ctx.store, dispatchKey(deliveryId)), { at });
      await ctx.store.markSent(await taskId(ctx.store, aggregateKey(sha)), { at, resultId: checkRunId });
      const done = completedJob(deliveryId, sha, at);
      await ctx.store.putJob(done, { job: done.jobName, sha }, at);
      const { fingerprint: _f, report: _r, upstreamRepo: _u, headSha: _h, backendName: _b, level: _l, ...summary } = done;
      await ctx.store.putLatestAttempt(backendKey(sha), { ...summary, seq: 0 });
      await ctx.store.putBackendHead({
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
    async function settledPush(deliveryId: string, sha: string, at: number): Promise<void> {
      const task = {
        key: dispatchKey(deliveryId),
        kind: "dispatch" as const,
        repo: "acme/npu",
        request: { route: "POST /repos/{owner}/{repo}/dispatches", params: { owner: "acme", repo: "npu" } },
        dispatch: { deliveryId, downstreamRepo: "acme/npu" },
      };
      const entry = { deliveryId, downstreamRepo: "acme/npu", upstreamRepo: REPO, event: "push" as const, headSha: sha, backendName: "npu" };
      await ctx.store.acceptDelivery(
        { id: deliveryId, event: "push", payloadHash: `hash-${deliveryId}` },
        { tasks: [task], log: [{ ...entry, level: "L3", outcome: "pending", attempts: 0, createdAt: at }] },
        at,
      );
      await ctx.store.markSent(await taskId(ctx.store, task.key), { at });
      await ctx.store.putJob({ ...completedJob(deliveryId, sha, at), prNumber: null }, undefined, at);
      const trunkJob = { upstreamRepo: REPO, downstreamRepo: "acme/npu", workflowName: "ci", jobName: `test on ${sha}` };
      await ctx.store.putTrunkResult(trunkJob, { headSha: sha, conclusion: "failure", failedTests: [], dispatchedAt: at }, at);
    }

    /** The HUD writer has written every queued row. */
    async function exportHudQueue(): Promise<void> {
      await ctx.store.removeHudRows((await ctx.store.pendingHudRows(10_000)).map((row) => row.id));
    }

    /** Whether anything of the head `sha` is left in the facts. */
    async function facts(sha: string) {
      return {
        head: (await ctx.store.head(headKey(sha)))?.state,
        backend: (await ctx.store.backendHead(backendKey(sha))) !== undefined,
        latest: (await ctx.store.latestAttempt(backendKey(sha), "ci", "test")) !== undefined,
        checkRunId: await ctx.store.checkRunId(aggregateKey(sha)),
      };
    }

    beforeEach(async () => {
      await settledHead("d-old", "old", T0, 101); // PR closed 30 days ago
      await putHead("old", "closed", T0 + HOUR);
      await settledHead("d-sup", "sup", T0, 104); // superseded 30 days ago
      await putHead("sup", "superseded", T0 + HOUR);
      await settledHead("d-open", "open", T0, 102); // PR still open
      await settledHead("d-recent", "recent", LATER - 2 * DAY, 103); // closed yesterday
      await putHead("recent", "closed", LATER - DAY);
      await dispatchPr("d-stuck", "stuck", T0); // closed, but its dispatch and its check run's write are still pending
      await queueAggregate("stuck", T0);
      await putHead("stuck", "closed", T0 + HOUR);
      await settledPush("d-push", "trunk", T0);
      await settledPush("d-push-recent", "trunk-2", LATER - 2 * DAY);
      await ctx.store.putJob({ ...completedJob("self:1", "trunk", T0), prNumber: null }, undefined, T0); // a self-report
      await ctx.store.rememberDelivery({ id: "r-old", event: "check_run", payloadHash: "hash-r-old" }, LATER - 73 * HOUR);
      await ctx.store.rememberDelivery({ id: "r-recent", event: "check_run", payloadHash: "hash-r-recent" }, LATER - 71 * HOUR);
    });

    it("deletes exactly the settled rows past retention, and a second run finds nothing", async () => {
      await exportHudQueue();
      expect(await ctx.store.prune(LATER, POLICY)).toEqual({
        outbox: 7, // old, sup and open: dispatch + check run each; the old push's dispatch
        dispatch_log: 3, // old, sup, the old push
        jobs: 4, // old, sup, the old push's job, the self-report
        job_latest: 2,
        check_runs: 2,
        backend_heads: 2,
        tracked_runs: 0,
        trunk_results: 1, // the old push's job
        heads: 2,
        deliveries: 4, // d-old, d-sup, d-push, r-old
      });

      // Heads closed or superseded past retention are gone entirely.
      for (const [sha, deliveryId] of [["old", "d-old"], ["sup", "d-sup"]] as const) {
        expect(await facts(sha)).toEqual({ head: undefined, backend: false, latest: false, checkRunId: undefined });
        expect(await ctx.store.taskByKey(dispatchKey(deliveryId))).toBeUndefined();
        expect(await ctx.store.taskByKey(aggregateKey(sha))).toBeUndefined();
        expect(await ctx.store.checkRun(aggregateKey(sha))).toBeUndefined();
        expect(await ctx.store.shaJobs(REPO, sha)).toEqual([]);
        expect(await ctx.store.dispatchLog(deliveryId)).toEqual([]);
        expect(await ctx.store.hasDelivery(deliveryId)).toBe(false);
      }

      // An open head loses its settled tasks only: its facts stay, and its check run can still be updated in place.
      expect(await facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
      expect(await ctx.store.checkRun(aggregateKey("open"))).toEqual({ githubId: 102, desiredHash: "hash-open" });
      expect(await ctx.store.taskByKey(dispatchKey("d-open"))).toBeUndefined();
      expect(await ctx.store.taskByKey(aggregateKey("open"))).toBeUndefined();
      expect(await ctx.store.shaJobs(REPO, "open")).toHaveLength(1);
      expect(await ctx.store.dispatchLog("d-open")).toHaveLength(1);
      expect(await ctx.store.hasDelivery("d-open")).toBe(true); // its dispatch-log row refers to it

      // A head closed within retention keeps everything.
      expect(await facts("recent")).toEqual({ head: "closed", backend: true, latest: true, checkRunId: 103 });
      expect(await ctx.store.taskByKey(dispatchKey("d-recent"))).toBeDefined();
      expect(await ctx.store.shaJobs(REPO, "recent")).toHaveLength(1);

      // Pending work stays, and so do its check run (the worker needs the record) and its closed head.
      expect((await ctx.store.outboxStats()).pending).toBe(2);
      expect(await ctx.store.dispatchLog("d-stuck")).toMatchObject([{ outcome: "pending" }]);
      expect(await ctx.store.checkRun(aggregateKey("stuck"))).toEqual({ desiredHash: "hash-stuck" });
      expect(await ctx.store.head(headKey("stuck"))).toMatchObject({ state: "closed" });

      // Pushes and self-reports, which have no head, go by age.
      expect(await ctx.store.dispatchLog("d-push")).toEqual([]);
      expect(await ctx.store.shaJobs(REPO, "trunk")).toEqual([]);
      expect(await ctx.store.dispatchLog("d-push-recent")).toHaveLength(1);
      expect(await ctx.store.shaJobs(REPO, "trunk-2")).toHaveLength(1);
      // Nothing left looks like a dispatch that never reported.
      expect(await ctx.store.unreportedDispatches(LATER, 100)).toEqual([]);

      // Deliveries are kept exactly GitHub's 72-hour redelivery window: the replay guard still sees them.
      expect(await ctx.store.hasDelivery("r-old")).toBe(false);
      expect(await ctx.store.hasDelivery("r-recent")).toBe(true);
      expect(await ctx.store.deliveryWithPayload("hash-r-recent", "another", LATER - 72 * HOUR)).toBe("r-recent");

      expect(await ctx.store.prune(LATER, POLICY)).toEqual(NOTHING);
    });

    it("lets a settled head's check run go once its last write was sent, the head once nothing of it is left", async () => {
      await exportHudQueue();
      await ctx.store.prune(LATER, POLICY);
      await ctx.store.markSent(await taskId(ctx.store, aggregateKey("stuck")), { at: LATER, resultId: 105 });
      expect(await ctx.store.prune(LATER, POLICY)).toEqual({ ...NOTHING, check_runs: 1 });
      expect(await ctx.store.checkRun(aggregateKey("stuck"))).toBeUndefined();
      expect(await ctx.store.head(headKey("stuck"))).toBeDefined(); // its dispatch is still pending

      await ctx.store.markSent(await taskId(ctx.store, dispatchKey("d-stuck")), { at: LATER });
      await exportHudQueue();
      // Its dispatch-log row changed at LATER: exported only from then on.
      expect(await ctx.store.prune(LATER, POLICY)).toEqual(NOTHING);
      expect(await ctx.store.prune(LATER + 1, POLICY)).toEqual({ ...NOTHING, dispatch_log: 1, heads: 1, deliveries: 1 });
      expect(await ctx.store.head(headKey("stuck"))).toBeUndefined();
      // The tasks just sent go after retention like any other.
      expect(await ctx.store.taskByKey(aggregateKey("stuck"))).toBeDefined();
      await ctx.store.prune(LATER + POLICY.retentionMs + 1, POLICY);
      expect(await ctx.store.taskByKey(aggregateKey("stuck"))).toBeUndefined();
      expect(await ctx.store.taskByKey(dispatchKey("d-stuck"))).toBeUndefined();
    });

    it("keeps the rows of settled heads while their HUD rows wait for ClickHouse", async () => {
      // The oldest queued HUD row is from T0: nothing changed since then is known to be in ClickHouse.
      expect(await ctx.store.prune(LATER, POLICY)).toEqual({ ...NOTHING, outbox: 7, job_latest: 2, check_runs: 2, backend_heads: 2, trunk_results: 1, deliveries: 1 });
      for (const [sha, deliveryId] of [["old", "d-old"], ["sup", "d-sup"]] as const) {
        expect(await ctx.store.shaJobs(REPO, sha)).toHaveLength(1);
        expect(await ctx.store.dispatchLog(deliveryId)).toHaveLength(1);
        expect(await ctx.store.head(headKey(sha))).toBeDefined();
        expect(await ctx.store.hasDelivery(deliveryId)).toBe(true);
      }
      expect(await ctx.store.shaJobs(REPO, "trunk")).toHaveLength(2); // the push's job and the self-report

      await exportHudQueue();
      expect(await ctx.store.prune(LATER, POLICY)).toEqual({ ...NOTHING, dispatch_log: 3, jobs: 4, heads: 2, deliveries: 3 });
    });

    it("leaves open heads untouched however old", async () => {
      await exportHudQueue();
      await ctx.store.prune(LATER + 365 * DAY, POLICY);
      expect(await facts("open")).toEqual({ head: "open", backend: true, latest: true, checkRunId: 102 });
      expect(await ctx.store.shaJobs(REPO, "open")).toHaveLength(1);
      expect(await ctx.store.dispatchLog("d-open")).toHaveLength(1);
      // …and a head closed yesterday goes a retention period after it settled.
      expect(await facts("recent")).toEqual({ head: undefined, backend: false, latest: false, checkRunId: undefined });
    });

    it("deletes at most maxRowsPerTable rows per table per run, and in the end what one unbounded run would", async () => {
      for (let index = 0; index < 5; index += 1) {
        await settledHead(`d-more-${index}`, `more-${index}`, T0, 200 + index);
        await putHead(`more-${index}`, "closed", T0 + HOUR);
      }
      await exportHudQueue();
      const runs: PrunedRows[] = [];
      for (let run = 0; run < 20; run += 1) {
        const pruned = await ctx.store.prune(LATER, { ...POLICY, maxRowsPerTable: 2 });
        if (Object.values(pruned).every((count) => count === 0)) break;
        runs.push(pruned);
      }
      for (const pruned of runs) for (const count of Object.values(pruned)) expect(count).toBeLessThanOrEqual(2);
      expect(runs.map((pruned) => pruned.outbox)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1]);
      const total = Object.fromEntries(Object.keys(NOTHING).map((table) => [table, runs.reduce((sum, pruned) => sum + pruned[table as keyof PrunedRows], 0)]));
      // 7 settled heads (old, sup, 5 more) with 2 tasks each, plus the open head's 2 and the push's 1.
      expect(total).toEqual({ outbox: 17, dispatch_log: 8, jobs: 9, job_latest: 7, check_runs: 7, backend_heads: 7, tracked_runs: 0, trunk_results: 1, heads: 7, deliveries: 9 });
      expect(await ctx.store.prune(LATER, POLICY)).toEqual(NOTHING);
    });
  });
}
