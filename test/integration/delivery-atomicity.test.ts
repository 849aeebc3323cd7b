// One transaction per upstream delivery: when a late store write of a synchronize delivery fails (its
// dispatches, after the head facts were written), none of the delivery's effects stay (the old head is not concluded, nothing is queued, the delivery is not
// remembered), and GitHub's redelivery of the same id then applies everything, once.
//
// The app opens its own SQLite store under DATA_DIR and offers no seam to wrap it, so this test runs the
// upstream handlers on a Probot instance with a real SQLite store behind a failing wrapper. A rejected
// `receive` is what the webhook route answers 500 (src/http/webhook-route.ts).
import Database from "better-sqlite3";
import { afterEach, beforeEach, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { AllowlistSource } from "../../src/allowlist/source.js";
import { loadConfig } from "../../src/config.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store, StoreTx } from "../../src/store/store.js";
import { handleUpstreamEvents } from "../../src/upstream/handlers.js";
import { InstallationDirectory } from "../../src/installations/directory.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const BACKEND = "beta/tpu-backend";
const NEW_HEAD = "1".repeat(40);

let sqlite: Store;
let failNextAccept: boolean;
let wakeUps: number;
let receive: (id: string, payload: Payload) => Promise<void>;

/**
 * The real store, except that acceptDelivery (on the store or on a transaction's `tx`) fails with
 * SQLITE_FULL once when `failNextAccept` is set.
 */
function failingOnce<S extends StoreTx>(inner: S): S {
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === "transaction") {
        return (work: (tx: StoreTx) => unknown) => method.call(target, (tx: StoreTx) => work(failingOnce(tx)));
      }
      return (...args: unknown[]) => {
        if (property === "acceptDelivery" && failNextAccept) {
          failNextAccept = false;
          return Promise.reject(new Database.SqliteError("database or disk is full", "SQLITE_FULL"));
        }
        return method.apply(target, args);
      };
    },
  });
}

beforeEach(async () => {
  sqlite = openSqliteStore(tempDir("relay-atomicity-"));
  await sqlite.setInstallation(BACKEND, 12, Date.now());
  failNextAccept = false;
  wakeUps = 0;
  const store = failingOnce(sqlite);
  const probot = testProbot();
  const clients = installationClients(probot, createMetrics({ defaultMetrics: false }));
  const installations = new InstallationDirectory(store, clients, { log: testLog, recheckMs: 3_600_000 });
  const parsed = parseAllowlist(`L4:\n  - ${BACKEND}: "@tpu-oncall"\n`);
  if (!parsed.ok) throw new Error("test allowlist does not parse");
  handleUpstreamEvents(probot, {
    config: loadConfig({ UPSTREAM_REPO: UPSTREAM }),
    allowlist: { current: () => parsed.allowlist } as unknown as AllowlistSource,
    store: () => store,
    installations: () => installations,
    clients: () => clients,
    metrics: createMetrics({ defaultMetrics: false }),
    log: testLog,
    onWork: () => wakeUps++,
  });
  receive = (id, payload) => probot.receive({ id, name: "pull_request", payload } as Parameters<typeof probot.receive>[0]);
});
afterEach(async () => {
  await sqlite.close();
});

function pullRequest(action: string): Payload {
  const payload = webhookExample("pull_request", (p) => p.action === action && p.installation);
  payload.pull_request.author_association = "MEMBER";
  return payload;
}

/** The queued check-run writes for a head (nothing is sent here). */
const checkRunTasks = async (sha: string) =>
  (await sqlite.dueTasks(Number.MAX_SAFE_INTEGER, 1000)).filter((task) => task.kind === "check_run" && task.request.params.head_sha === sha);
/** The desired states of the check runs on a head: [status, conclusion] each. */
const checkRunsOn = async (sha: string) => (await checkRunTasks(sha)).map((task) => [task.request.params.status, task.request.params.conclusion]);
const headState = async (sha: string) => (await sqlite.head({ upstreamRepo: UPSTREAM, headSha: sha }))?.state;

it("commits nothing of a delivery whose last write fails, and everything once on GitHub's redelivery", async () => {
  const opened = pullRequest("opened");
  const oldHead = opened.pull_request.head.sha as string;
  await receive("open-delivery", opened);
  expect(await checkRunsOn(oldHead)).toEqual([["queued", undefined]]);
  const before = { outbox: (await sqlite.outboxStats()).pending, wakeUps };

  const sync = pullRequest("synchronize");
  Object.assign(sync, { before: oldHead, after: NEW_HEAD });
  sync.pull_request.head.sha = NEW_HEAD;
  failNextAccept = true;
  await expect(receive("sync-delivery", sync)).rejects.toThrow(/disk is full/);

  expect(failNextAccept).toBe(false); // the failure was injected where the delivery's work is stored
  expect(await headState(oldHead)).toBe("open");
  expect(await checkRunsOn(oldHead)).toEqual([["queued", undefined]]);
  expect(await checkRunsOn(NEW_HEAD)).toEqual([]);
  expect(await sqlite.hasDelivery("sync-delivery")).toBe(false);
  expect(await sqlite.dispatchLog("sync-delivery")).toEqual([]);
  expect({ outbox: (await sqlite.outboxStats()).pending, wakeUps }).toEqual(before);

  await receive("sync-delivery", sync);
  const applied = {
    oldHeadState: await headState(oldHead),
    oldHead: await checkRunsOn(oldHead),
    newHead: await checkRunsOn(NEW_HEAD),
    log: (await sqlite.dispatchLog("sync-delivery")).map((row) => [row.downstreamRepo, row.outcome]),
    remembered: await sqlite.hasDelivery("sync-delivery"),
    // The new dispatch and the new head's check run; the old head's check run was pending already.
    outbox: (await sqlite.outboxStats()).pending,
  };
  expect(applied).toEqual({
    oldHeadState: "superseded",
    oldHead: [["completed", "cancelled"]],
    newHead: [["queued", undefined]],
    log: [[BACKEND, "pending"]],
    remembered: true,
    outbox: before.outbox + 2,
  });
  expect(wakeUps).toBeGreaterThan(before.wakeUps);

  const versions = async () => (await checkRunTasks(oldHead)).map((task) => task.version);
  const settledVersions = await versions();
  await receive("sync-delivery", sync);
  expect({ ...applied, outbox: (await sqlite.outboxStats()).pending }).toEqual(applied);
  expect(await versions()).toEqual(settledVersions);
});

it("lets only one of two copies of a payload, received together under different ids, commit", async () => {
  const opened = pullRequest("opened");
  // Both pass the replay check made before preparing (neither is stored yet); the check inside the
  // transaction lets only the first to commit take effect.
  await Promise.all([receive("twin-a", opened), receive("twin-b", opened)]);
  expect([(await sqlite.dispatchLog("twin-a")).length, (await sqlite.dispatchLog("twin-b")).length].sort()).toEqual([0, 1]);
  expect((await sqlite.outboxStats()).pending).toBe(2); // one dispatch and its queued check run
});
