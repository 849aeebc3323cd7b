// The outbox worker on a real SQLite store against the GitHub stand-in: maximum age and dead letters,
// and pauses of a whole installation when GitHub limits it. Tests of waits (retries, pauses, a full
// write window) run the worker on a simulated clock (test/helpers/manual-clock.ts): nothing waits for real
// time to pass, and what the worker does before and after the end of a wait is checked at a known instant.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutboxWorker } from "../../src/dispatch/outbox-worker.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { tempDir } from "../helpers/server.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { enqueueDispatches, outboxWorker } from "../helpers/outbox.js";
import { cancelRunTask } from "../../src/upstream/run-cancellation.js";
import { WRITE_SLOT_MARGIN_MS, writeLimiter, type RateBudget } from "../../src/limits/sliding-window.js";

const HOUR = 3_600_000;
const EXTRA_REPOS = ["acme/npu-extra", "acme/npu-more", "acme/npu-last"];
/** For waits on real requests to the stand-in and real store writes: generous, so a loaded machine does not fail them. */
const IO = { timeout: 10_000, interval: 10 };
const SECONDARY_LIMIT_MESSAGE = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
let github: GitHubStandIn;
let store: Store;
let worker: OutboxWorker | undefined;
let metrics: RelayMetrics;

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(11, ["acme/npu-backend", ...EXTRA_REPOS]);
  store = openSqliteStore(tempDir());
  metrics = createMetrics({ defaultMetrics: false });
});
afterEach(async () => {
  await worker?.stop();
  await store.close();
  await github.close();
});

async function startWorker(maxAgeMs: number, concurrency = 4): Promise<OutboxWorker> {
  worker = outboxWorker(store, github.apiUrl, metrics, { concurrency, maxAgeMs });
  await worker.start();
  return worker;
}

/**
 * A worker on the simulated clock. Its idle wake-up (a safety net) is set beyond the test, so every wake it
 * schedules is one its work calls for: the end of a pause, a retry, room in the write window.
 */
async function startSimulatedWorker(clock: ManualClock, options: { concurrency: number; random?: () => number; limiter?: RateBudget<number> }): Promise<OutboxWorker> {
  worker = outboxWorker(store, github.apiUrl, metrics, { maxAgeMs: HOUR, idleMs: 2 * HOUR, clock, ...options });
  await worker.start();
  return worker;
}

/**
 * Waits until the worker has nothing under way (no look, no request): only then may a test move its clock,
 * as real time does not jump in the middle of a look (one that read the time before a jump would schedule
 * its next wake from a stale time).
 */
async function settled(running: OutboxWorker): Promise<void> {
  await expect.poll(() => running.idle, IO).toBe(true);
}

/** Asks the worker for a look at the store now (as new work arriving would) and waits until it is over. */
async function lookNow(running: OutboxWorker): Promise<void> {
  running.notify();
  expect(running.idle).toBe(false);
  await settled(running);
}

/** Dispatch requests GitHub received: their paths and answers, in order. */
const dispatchRequests = () => github.find("POST", /\/dispatches$/).map((request) => ({ path: request.path, status: request.status }));
/** When the worker recorded each dispatch of d1 as accepted (its clock), by downstream repo. */
const sentAt = async () => Object.fromEntries((await store.dispatchLog("d1")).map((row) => [row.downstreamRepo, row.sentAt]));

/** Dispatches of delivery d1 to repos of installation 11. */
const enqueue = (createdAt: number, repos = ["acme/npu-backend"]) => enqueueDispatches(store, createdAt, repos);

const pauses = async (reason: string) => (await metrics.githubPauses.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;

describe("OutboxWorker", () => {
  it("sends each task once when two workers share one store (claims)", async () => {
    github.setDelay("POST", /\/dispatches$/, 200);
    await enqueueDispatches(store, Date.now(), ["acme/npu-backend", ...EXTRA_REPOS]);
    // One budget for both, as replicas share it: a slot goes only to a task its worker claimed and sends.
    const budget = writeLimiter({ perMinute: 80, perHour: 500 });
    let slots = 0;
    const limiter: RateBudget<number> = {
      tryAcquire(key, now) {
        const wait = budget.tryAcquire(key, now);
        if (wait === 0) slots += 1;
        return wait;
      },
    };
    const first = outboxWorker(store, github.apiUrl, metrics, { concurrency: 4, maxAgeMs: 3_600_000, owner: "replica-a", limiter });
    const second = outboxWorker(store, github.apiUrl, metrics, { concurrency: 4, maxAgeMs: 3_600_000, owner: "replica-b", limiter });
    await Promise.all([first.start(), second.start()]);
    try {
      await expect.poll(async () => (await store.outboxStats()).pending, { timeout: 10_000 }).toBe(0);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
    const sent = github.find("POST", /\/dispatches$/).map((request) => request.path);
    expect(sent).toHaveLength(1 + EXTRA_REPOS.length);
    expect(new Set(sent).size).toBe(sent.length);
    expect(slots).toBe(sent.length);
  });

  it("releases a claimed task its installation has no write slot for, untouched, and sends it when the window has room", async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    await enqueueDispatches(store, t0, ["acme/npu-backend", ...EXTRA_REPOS]);
    // Two slots now; the others once the (simulated) minute has passed.
    const running = await startSimulatedWorker(clock, { concurrency: 4, limiter: writeLimiter({ perMinute: 2, perHour: 500 }) });
    const roomAt = t0 + 60_000 + WRITE_SLOT_MARGIN_MS;
    await expect.poll(() => github.find("POST", /\/dispatches$/).length, IO).toBe(2);
    await settled(running);
    expect(await store.outboxStats()).toMatchObject({ pending: 2 });
    // The worker sleeps until the window has room: its next wake is then, not sooner.
    expect(clock.nextWakeAt()).toBe(roomAt);
    // The two without a slot are pending, unclaimed (any replica may take them) and not counted as attempted.
    expect(await store.claimOwners()).toEqual([]);
    const waiting = await store.dueTasks(clock.now(), 10);
    expect(waiting.map((task) => task.attempts)).toEqual([0, 0]);
    // A look just before that finds no slot either.
    expect(clock.advanceTo(roomAt - 1)).toBe(0);
    await lookNow(running);
    expect(github.find("POST", /\/dispatches$/)).toHaveLength(2);
    expect(await store.claimOwners()).toEqual([]);
    expect(clock.nextWakeAt()).toBe(roomAt);
    // The worker's own wake sends them.
    expect(clock.advanceTo(roomAt)).toBe(1);
    await expect.poll(async () => (await store.outboxStats()).pending, IO).toBe(0);
    await settled(running);
    expect(new Set(github.find("POST", /\/dispatches$/).map((request) => request.path)).size).toBe(4);
    expect(Object.values(await sentAt()).sort()).toEqual([t0, t0, roomAt, roomAt]);
  });

  it("counts a 409 to a cancellation (the run already finished) as done, and retries one that failed with a 5xx", async () => {
    github.script("POST", "/repos/acme/npu-backend/actions/runs/5/cancel", [{ status: 409, body: { message: "Cannot cancel a workflow run that is completed." } }]);
    github.script("POST", "/repos/acme/npu-extra/actions/runs/6/cancel", [{ status: 503, body: { message: "Service Unavailable" } }]);
    const clock = new ManualClock();
    const t0 = clock.now();
    await store.acceptDelivery(
      { id: "close-1", event: "pull_request", payloadHash: "h" },
      { tasks: [cancelRunTask("acme/npu-backend", 5), cancelRunTask("acme/npu-extra", 6)], log: [] },
      t0,
    );
    // The retry policy's first backoff: half of 1 s fixed, half jittered (here by 0.5): 750 ms.
    const retryAt = t0 + 750;
    const running = await startSimulatedWorker(clock, { concurrency: 4, random: () => 0.5 });
    const statuses = (path: string) => github.find("POST", path).map((request) => request.status);
    await expect.poll(() => github.find("POST", /\/cancel$/).length, IO).toBe(2);
    await settled(running);
    expect(await store.taskByKey("cancel:acme/npu-extra:6")).toMatchObject({ attempts: 1, nextAttemptAt: retryAt, lastError: "http_503" });
    expect(clock.nextWakeAt()).toBe(retryAt);
    expect(await store.outboxStats()).toMatchObject({ pending: 1 });
    expect(statuses("/repos/acme/npu-backend/actions/runs/5/cancel")).toEqual([409]);
    // Not before its time.
    expect(clock.advanceTo(retryAt - 1)).toBe(0);
    await lookNow(running);
    expect(statuses("/repos/acme/npu-extra/actions/runs/6/cancel")).toEqual([503]);
    expect(clock.advanceTo(retryAt)).toBe(1);
    await expect.poll(async () => (await store.outboxStats()).pending, IO).toBe(0);
    await settled(running);
    expect(await store.taskByKey("cancel:acme/npu-backend:5")).toMatchObject({ attempts: 1 });
    expect(await store.taskByKey("cancel:acme/npu-extra:6")).toMatchObject({ attempts: 2 });
    expect(statuses("/repos/acme/npu-backend/actions/runs/5/cancel")).toEqual([409]);
    expect(statuses("/repos/acme/npu-extra/actions/runs/6/cancel")).toEqual([503, 202]);
    expect((await store.outboxStats()).dead).toBe(0);
  });

  it("dead-letters a task older than the maximum age without sending it", async () => {
    await enqueue(Date.now() - 2 * HOUR);
    await startWorker(HOUR);
    await expect.poll(async () => (await store.dispatchLog("d1"))[0]?.outcome).toBe("dead");
    expect((await store.dispatchLog("d1"))[0]?.reason).toMatch(/^max_age/);
    expect(github.find("POST", /\/dispatches$/)).toEqual([]);
    expect(await store.outboxStats()).toMatchObject({ pending: 0, dead: 1 });
  });

  it("dead-letters a task whose next retry would fall past the maximum age", async () => {
    github.script("POST", "/repos/acme/npu-backend/dispatches", [{ status: 503, headers: { "retry-after": "7200" } }]);
    await enqueue(Date.now());
    await startWorker(HOUR);
    await expect.poll(async () => (await store.dispatchLog("d1"))[0]?.outcome).toBe("dead");
    expect((await store.dispatchLog("d1"))[0]).toMatchObject({ reason: "max_age after http_503", attempts: 1 });
  });

  it("sends with the installation's own token and records the outcome before stopping", async () => {
    github.setDelay("POST", /\/dispatches$/, 300);
    await enqueue(Date.now());
    const running = await startWorker(HOUR);
    await expect.poll(() => running.inFlight).toBe(1);
    await running.stop();
    expect((await store.dispatchLog("d1"))[0]).toMatchObject({ outcome: "sent", attempts: 1 });
    expect(github.find("POST", /\/dispatches$/)[0]).toMatchObject({ installationId: 11, status: 204 });
  });

  it("pauses every write of an installation after a secondary-limit 403, not just the refused one", async () => {
    // GitHub takes two writes and refuses the third with a secondary-limit 403 and Retry-After: 60; the
    // fourth (another task) waits out the pause too. Scripted rather than the stand-in's write budget
    // (limitWrites), whose window runs on real time: the simulated minute would not empty it.
    github.script("POST", /\/dispatches$/, [
      { status: 204 },
      { status: 204 },
      { status: 403, body: { message: SECONDARY_LIMIT_MESSAGE }, headers: { "retry-after": "60" } },
    ]);
    const clock = new ManualClock();
    const t0 = clock.now();
    const pauseEnd = t0 + 60_000;
    await enqueue(t0, ["acme/npu-backend", ...EXTRA_REPOS]);
    const running = await startSimulatedWorker(clock, { concurrency: 1 });
    await expect.poll(() => dispatchRequests().length, IO).toBe(3);
    await settled(running);
    const refused = dispatchRequests()[2]!.path.replace(/^\/repos\/|\/dispatches$/g, "");
    expect(await store.taskByKey(`dispatch:d1:${refused}`)).toMatchObject({ attempts: 1, nextAttemptAt: pauseEnd, lastError: "secondary_rate_limit" });
    // The worker sleeps until the pause ends; nothing is sent before, not even the task GitHub did not refuse.
    expect(clock.nextWakeAt()).toBe(pauseEnd);
    expect(running.pausedInstallations()).toBe(1);
    expect(await store.outboxStats()).toMatchObject({ pending: 2 });
    expect(dispatchRequests().map((request) => request.status)).toEqual([204, 204, 403]);
    expect(clock.advanceTo(pauseEnd - 1)).toBe(0);
    await lookNow(running);
    expect(dispatchRequests().map((request) => request.status)).toEqual([204, 204, 403]);
    expect(running.pausedInstallations()).toBe(1);
    expect(clock.nextWakeAt()).toBe(pauseEnd);

    expect(clock.advanceTo(pauseEnd)).toBe(1);
    await expect.poll(async () => (await store.dispatchLog("d1")).filter((row) => row.outcome === "sent").length, IO).toBe(4);
    await settled(running);
    expect(dispatchRequests().map((request) => request.status)).toEqual([204, 204, 403, 204, 204]);
    const after = dispatchRequests().slice(3).map((request) => request.path);
    expect(after).toContain(`/repos/${refused}/dispatches`);
    expect(new Set(after).size).toBe(2);
    // The two before the refusal went out at once; the two after it at the end of the pause.
    expect(Object.values(await sentAt()).sort()).toEqual([t0, t0, pauseEnd, pauseEnd]);
    expect((await store.dispatchLog("d1")).find((row) => row.downstreamRepo === refused)).toMatchObject({ attempts: 2, sentAt: pauseEnd });
    expect(await pauses("secondary_rate_limit")).toBe(1);
  });

  it("pauses an installation whose primary limit runs low until the limit resets", async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    // GitHub's reset is in epoch seconds, some 40 s from now.
    const resetAt = Math.ceil((t0 + 40_000) / 1000);
    github.script("POST", /\/dispatches$/, [{ status: 204, headers: { "x-ratelimit-remaining": "3", "x-ratelimit-reset": String(resetAt) } }]);
    await enqueue(t0, ["acme/npu-backend", "acme/npu-extra"]);
    const running = await startSimulatedWorker(clock, { concurrency: 1 });
    await expect.poll(async () => (await store.dispatchLog("d1")).map((row) => row.outcome), IO).toContain("sent");
    await settled(running);
    // Sleeps until the reset, the other task unsent.
    expect(clock.nextWakeAt()).toBe(resetAt * 1000);
    expect(running.pausedInstallations()).toBe(1);
    expect(github.find("POST", /\/dispatches$/)).toHaveLength(1);
    expect(clock.advanceTo(resetAt * 1000 - 1)).toBe(0);
    await lookNow(running);
    expect(github.find("POST", /\/dispatches$/)).toHaveLength(1);
    expect((await store.dispatchLog("d1")).map((row) => row.outcome).sort()).toEqual(["pending", "sent"]);
    expect(clock.nextWakeAt()).toBe(resetAt * 1000);

    expect(clock.advanceTo(resetAt * 1000)).toBe(1);
    await expect.poll(async () => (await store.dispatchLog("d1")).map((row) => row.outcome), IO).toEqual(["sent", "sent"]);
    await settled(running);
    expect(github.find("POST", /\/dispatches$/).map((request) => request.status)).toEqual([204, 204]);
    const [first, second] = Object.values(await sentAt()).sort();
    expect(first).toBe(t0);
    expect(first).toBeLessThan(resetAt * 1000);
    expect(second).toBe(resetAt * 1000);
    expect(await pauses("primary_reserve")).toBe(1);
  });
});
