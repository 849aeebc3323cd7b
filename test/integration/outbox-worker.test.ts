// The outbox worker on a real SQLite store against the GitHub stand-in: maximum age and dead letters,
// and pauses of a whole installation when GitHub limits it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutboxWorker } from "../../src/dispatch/outbox-worker.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { tempDir } from "../helpers/server.js";
import { enqueueDispatches, outboxWorker } from "../helpers/outbox.js";
import { cancelRunTask } from "../../src/upstream/run-cancellation.js";
import { WRITE_SLOT_MARGIN_MS, writeLimiter, type RateBudget } from "../../src/limits/sliding-window.js";

const HOUR = 3_600_000;
const EXTRA_REPOS = ["acme/npu-extra", "acme/npu-more", "acme/npu-last"];
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
    await enqueueDispatches(store, Date.now(), ["acme/npu-backend", ...EXTRA_REPOS]);
    let now = Date.now();
    // Two slots now; the others once the (simulated) minute has passed.
    const budget = writeLimiter({ perMinute: 2, perHour: 500 });
    worker = outboxWorker(store, github.apiUrl, metrics, { concurrency: 4, maxAgeMs: 3_600_000, owner: "replica-a", limiter: budget, now: () => now });
    await worker.start();
    await expect.poll(() => github.find("POST", /\/dispatches$/).length).toBe(2);
    await expect.poll(async () => (await store.outboxStats()).pending).toBe(2);
    // The two without a slot are pending, unclaimed (any replica may take them) and not counted as attempted.
    expect(await store.claimOwners()).toEqual([]);
    const waiting = await store.dueTasks(now, 10);
    expect(waiting.map((task) => task.attempts)).toEqual([0, 0]);
    now += 60_000 + WRITE_SLOT_MARGIN_MS;
    worker.notify();
    await expect.poll(async () => (await store.outboxStats()).pending).toBe(0);
    expect(new Set(github.find("POST", /\/dispatches$/).map((request) => request.path)).size).toBe(4);
  });

  it("counts a 409 to a cancellation (the run already finished) as done, and retries one that failed with a 5xx", async () => {
    github.script("POST", "/repos/acme/npu-backend/actions/runs/5/cancel", [{ status: 409, body: { message: "Cannot cancel a workflow run that is completed." } }]);
    github.script("POST", "/repos/acme/npu-extra/actions/runs/6/cancel", [{ status: 503, body: { message: "Service Unavailable" } }]);
    await store.acceptDelivery(
      { id: "close-1", event: "pull_request", payloadHash: "h" },
      { tasks: [cancelRunTask("acme/npu-backend", 5), cancelRunTask("acme/npu-extra", 6)], log: [] },
      Date.now(),
    );
    await startWorker(HOUR);
    await expect.poll(async () => (await store.outboxStats()).pending, { timeout: 10_000 }).toBe(0);
    expect(await store.taskByKey("cancel:acme/npu-backend:5")).toMatchObject({ attempts: 1 });
    expect(await store.taskByKey("cancel:acme/npu-extra:6")).toMatchObject({ attempts: 2 });
    const statuses = (path: string) => github.find("POST", path).map((request) => request.status);
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
    // Two writes a second: the third is refused, and the fourth (another task) waits out the pause too.
    github.limitWrites({ writes: 2, windowMs: 1000 });
    await enqueue(Date.now(), ["acme/npu-backend", ...EXTRA_REPOS]);
    await startWorker(HOUR, 1);
    await expect.poll(async () => (await store.dispatchLog("d1")).filter((row) => row.outcome === "sent").length, { timeout: 10_000 }).toBe(4);
    expect(github.refusals).toHaveLength(1);
    const refusal = github.refusals[0]!;
    const after = github.find("POST", /\/dispatches$/).filter((request) => request.receivedAt > refusal.receivedAt);
    expect(after).toHaveLength(2);
    for (const request of after) expect(request.receivedAt).toBeGreaterThanOrEqual(refusal.respondedAt! + 1000);
    expect(await pauses("secondary_rate_limit")).toBe(1);
  });

  it("pauses an installation whose primary limit runs low until the limit resets", async () => {
    const resetAt = Math.ceil((Date.now() + 1500) / 1000);
    github.script("POST", /\/dispatches$/, [{ status: 204, headers: { "x-ratelimit-remaining": "3", "x-ratelimit-reset": String(resetAt) } }]);
    await enqueue(Date.now(), ["acme/npu-backend", "acme/npu-extra"]);
    await startWorker(HOUR, 1);
    await expect.poll(async () => (await store.dispatchLog("d1")).map((row) => row.outcome), { timeout: 10_000 }).toEqual(["sent", "sent"]);
    const [first, second] = github.find("POST", /\/dispatches$/);
    expect(second!.receivedAt).toBeGreaterThanOrEqual(resetAt * 1000);
    expect(first!.receivedAt).toBeLessThan(resetAt * 1000);
    expect(await pauses("primary_reserve")).toBe(1);
  });
});
