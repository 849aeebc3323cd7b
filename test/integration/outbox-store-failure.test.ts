// The outbox worker when the store fails (e.g. DATA_DIR on a full disk): it fails closed. A task GitHub
// accepted is never sent again while its outcome cannot be recorded, the worker starts no request and
// retries the store with backoff, and it resumes once the store works. Time is simulated (the worker's
// injected clock and timers); GitHub is the stand-in, the store a real SQLite store behind a wrapper that
// throws better-sqlite3's own error for a full disk (a real full disk would need root to set up).
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AllowlistSource } from "../../src/allowlist/source.js";
import { relayBudgets } from "../../src/budgets.js";
import { loadConfig } from "../../src/config.js";
import type { OutboxWorker} from "../../src/dispatch/outbox-worker.js";
import { type Schedule } from "../../src/dispatch/outbox-worker.js";
import { createDispatchService } from "../../src/dispatch/service.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store, StoreTx } from "../../src/store/store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { testProbot } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";
import { enqueueDispatches, outboxWorker } from "../helpers/outbox.js";

const HOUR = 3_600_000;
const REPOS = ["acme/one", "acme/two", "acme/three", "acme/four"];
/** What a full disk refuses: every write that records an outcome. Reads still work. */
const OUTCOME_WRITES = ["markSent", "scheduleRetry", "markFailed", "deferTask"];
/** Store retries in ten minutes at 1 s doubling to 30 s: 1, 2, 4, 8, 16, then every 30 s. */
const RETRIES_IN_TEN_MINUTES = 5 + Math.floor((600 - 31) / 30);
/** For waits on real requests to the stand-in: generous, so a loaded machine does not fail them. */
const IO = { timeout: 10_000 };

/** Store calls started through a faultyStore (or its transactions' tx) and not settled yet. */
let storeCallsPending = 0;

/**
 * Lets the work a fired timer started run to its end: the worker's looks at the store and outcome
 * recordings (a transaction commits on a later turn of the event loop), until no store call is pending.
 */
async function settleStore(): Promise<void> {
  do await new Promise((resolve) => setImmediate(resolve));
  while (storeCallsPending > 0);
}

/**
 * Simulated time for the worker: `advance` fires the timers that fall due, in order, each one's store
 * work settled before the next fires (as it would be in real time, where they are far apart).
 */
class SimulatedClock {
  now = Date.now();
  #timers: { at: number; wake: () => void }[] = [];

  readonly schedule: Schedule = (wake, delayMs) => {
    const timer = { at: this.now + delayMs, wake };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((other) => other !== timer);
    };
  };

  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    // A worker that keeps re-arming a timer at the same instant would spin: fail instead of hanging.
    for (let fired = 0; ; fired++) {
      if (fired > 1000) throw new Error("timers keep firing: the worker spins");
      const next = this.#timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.now = Math.max(this.now, next.at);
      next.wake();
      await settleStore();
    }
    this.now = until;
  }
}

/**
 * A store whose listed methods reject with SQLITE_FULL, as better-sqlite3 throws on a full disk, whether
 * called on the store or on a transaction's tx; counts every call (both ways, by method name).
 */
function faultyStore(inner: Store) {
  const failing = new Set<string>();
  const calls = new Map<string, number>();
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        if (typeof value !== "function") return value;
        const name = String(property);
        return (...args: unknown[]) => {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          if (failing.has(name)) return Promise.reject(new Database.SqliteError("database or disk is full", "SQLITE_FULL"));
          // A transaction's work gets a tx that fails and counts the same way.
          const forwarded =
            name === "transaction" ? [(tx: StoreTx) => (args[0] as (tx: StoreTx) => unknown)(wrap(tx))] : args;
          const result = (value as (...args: unknown[]) => unknown).apply(object, forwarded);
          if (!(result instanceof Promise)) return result;
          storeCallsPending += 1;
          return result.finally(() => {
            storeCallsPending -= 1;
          });
        };
      },
    });
  return { store: wrap(inner), failing, calls: (method: string) => calls.get(method) ?? 0 };
}

let github: GitHubStandIn;
let dataDir: string;
let sqlite: Store;
let metrics: RelayMetrics;
let clock: SimulatedClock;
let stopAfterTest: { stop(): Promise<void> }[];
let storesToClose: Store[];

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(11, REPOS);
  dataDir = tempDir("relay-store-failure-");
  sqlite = openSqliteStore(dataDir);
  metrics = createMetrics({ defaultMetrics: false });
  clock = new SimulatedClock();
  stopAfterTest = [];
  storesToClose = [sqlite];
  storeCallsPending = 0;
});
afterEach(async () => {
  for (const running of stopAfterTest) await running.stop();
  for (const store of storesToClose) await store.close();
  await github.close();
});

async function startWorker(store: Store, workerClock: SimulatedClock, concurrency: number): Promise<OutboxWorker> {
  const worker = outboxWorker(store, github.apiUrl, metrics, {
    concurrency,
    maxAgeMs: HOUR,
    now: () => workerClock.now,
    schedule: workerClock.schedule,
  });
  await worker.start();
  return worker;
}

/** Dispatches of delivery d1 to `repos` (installation 11). */
const enqueue = (store: Store, createdAt: number, repos = REPOS) => enqueueDispatches(store, createdAt, repos);

/** Dispatches GitHub received, per downstream repo. */
function dispatchesPerRepo(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of github.find("POST", /\/dispatches$/)) {
    const repo = request.path.replace(/^\/repos\/|\/dispatches$/g, "");
    counts[repo] = (counts[repo] ?? 0) + 1;
  }
  return counts;
}

const outcomes = async (store: Store) => (await store.dispatchLog("d1")).map((row) => row.outcome);
const storeFailingGauge = async () => (await metrics.outboxStoreFailing.get()).values[0]?.value;

/** Ten simulated minutes of wake-ups, a timer tick and a notify() (and its look at the store) each second: no request may start. */
async function wakeForTenMinutes(worker: OutboxWorker): Promise<void> {
  for (let second = 0; second < 600; second++) {
    await clock.advance(1000);
    worker.notify();
    await settleStore();
    expect(worker.inFlight).toBe(0);
  }
}

describe("OutboxWorker when the store fails", () => {
  it("sends each task once while its outcome cannot be recorded, then records it and resumes", async () => {
    const { store, failing, calls } = faultyStore(sqlite);
    for (const method of OUTCOME_WRITES) failing.add(method);
    await enqueue(store, clock.now);
    const worker = await startWorker(store, clock, 2);
    stopAfterTest.push(worker);

    // The two requests on the wire were accepted; neither outcome could be recorded.
    await expect.poll(() => worker.storeFailure()?.unrecorded, IO).toBe(2);
    await expect.poll(() => worker.inFlight, IO).toBe(0);
    const accepted = dispatchesPerRepo();
    expect(Object.values(accepted)).toEqual([1, 1]);
    expect(worker.storeFailure()).toMatchObject({ error: "database or disk is full" });
    expect(await storeFailingGauge()).toBe(1);

    await wakeForTenMinutes(worker);
    expect(dispatchesPerRepo()).toEqual(accepted);
    expect(await outcomes(store)).toEqual(["pending", "pending", "pending", "pending"]);
    // Retried with backoff, not on every wake-up: the first kept outcome per retry, after the two first tries.
    expect(calls("markSent")).toBe(2 + RETRIES_IN_TEN_MINUTES);

    failing.clear();
    await clock.advance(30_000);
    expect(worker.storeFailure()).toBeUndefined();
    expect(await storeFailingGauge()).toBe(0);
    await expect.poll(() => outcomes(store), IO).toEqual(["sent", "sent", "sent", "sent"]);
    expect(dispatchesPerRepo()).toEqual(Object.fromEntries(REPOS.map((repo) => [repo, 1])));
  });

  it("after the process dies with outcomes unrecorded, a restart sends only those tasks once more", async () => {
    const { store, failing } = faultyStore(sqlite);
    for (const method of OUTCOME_WRITES) failing.add(method);
    await enqueue(store, clock.now);
    const dying = await startWorker(store, clock, 2);
    await expect.poll(() => dying.storeFailure()?.unrecorded, IO).toBe(2);
    await expect.poll(() => dying.inFlight, IO).toBe(0);
    const onTheWire = dispatchesPerRepo();

    // The process dies: its worker is abandoned (its simulated timers never fire) and the disk has room again.
    failing.clear();
    const restarted = openSqliteStore(dataDir);
    storesToClose.push(restarted);
    // The dead worker's claims hold the two tasks it had on the wire until their lease runs out (60 s
    // here): a worker started before then sends only the two others.
    const early = new SimulatedClock();
    early.now = clock.now + 30_000;
    const tooEarly = await startWorker(restarted, early, 2);
    expect(tooEarly.inFlight).toBe(2);
    await tooEarly.stop();
    for (const repo of Object.keys(onTheWire)) expect(dispatchesPerRepo()[repo]).toBe(onTheWire[repo]);
    const afterLease = new SimulatedClock();
    afterLease.now = clock.now + 61_000;
    const worker = await startWorker(restarted, afterLease, 2);
    stopAfterTest.push(worker);

    await expect.poll(() => outcomes(restarted), IO).toEqual(["sent", "sent", "sent", "sent"]);
    expect(dispatchesPerRepo()).toEqual(Object.fromEntries(REPOS.map((repo) => [repo, (onTheWire[repo] ?? 0) + 1])));
  });

  it.each(["dueTasks", "nextDueAt"])("neither crashes nor spins while %s throws, and resumes", async (method) => {
    const { store, failing, calls } = faultyStore(sqlite);
    failing.add(method);
    const worker = await startWorker(store, clock, 2);
    stopAfterTest.push(worker);
    expect(worker.storeFailure()).toMatchObject({ error: "database or disk is full", unrecorded: 0 });
    expect(calls(method)).toBe(1);

    await wakeForTenMinutes(worker);
    expect(calls(method)).toBe(1 + RETRIES_IN_TEN_MINUTES);
    expect(await storeFailingGauge()).toBe(1);

    failing.clear();
    await clock.advance(30_000);
    expect(worker.storeFailure()).toBeUndefined();
    await enqueue(store, clock.now);
    worker.notify();
    await expect.poll(() => outcomes(store), IO).toEqual(["sent", "sent", "sent", "sent"]);
    expect(dispatchesPerRepo()).toEqual(Object.fromEntries(REPOS.map((repo) => [repo, 1])));
  });
});

describe("dispatch readiness when the store fails", () => {
  it("is not ready while the worker cannot record an outcome, and ready again once it can", async () => {
    const { store, failing } = faultyStore(sqlite);
    const allowlist = { current: () => undefined, onLoaded: () => undefined } as unknown as AllowlistSource;
    const config = loadConfig({});
    const service = createDispatchService(testProbot({ baseUrl: github.apiUrl }), { config, store, allowlist, metrics, writeBudget: relayBudgets(config).writes });
    // Only the worker: the service's periodic jobs are not under test.
    await service.worker.start();
    stopAfterTest.push(service.worker);
    expect((await service.readiness()).ready).toBe(true);

    for (const method of OUTCOME_WRITES) failing.add(method);
    await enqueue(store, Date.now(), ["acme/one"]);
    service.worker.notify();
    await expect.poll(() => service.readiness(), IO).toMatchObject({
      ready: false,
      details: { storeFailure: { error: "database or disk is full", unrecorded: 1 } },
    });

    failing.clear();
    // The worker's real timer retries the store after a second.
    await expect.poll(async () => (await service.readiness()).ready, { timeout: 15_000 }).toBe(true);
    expect(await outcomes(store)).toEqual(["sent"]);
    expect(dispatchesPerRepo()).toEqual({ "acme/one": 1 });
  });
});
