// The installation directory on a real SQLite store, with GitHub played by nock (App JWT lookups).
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installationClients } from "../../src/github/installation-clients.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { InstallationDirectory } from "../../src/installations/directory.js";
import { webhookExample } from "../helpers/fixtures.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";

const API = "https://api.github.com";
const TEN_MINUTES = 600_000;
let store: Store;
let clock: number;

function directory(): InstallationDirectory {
  const clients = installationClients(testProbot(), createMetrics({ defaultMetrics: false }));
  return new InstallationDirectory(store, clients, { log: testLog, recheckMs: TEN_MINUTES, now: () => clock });
}

beforeEach(() => {
  nock.disableNetConnect();
  store = openSqliteStore(tempDir());
  clock = Date.parse("2026-11-29T10:00:00Z");
});
afterEach(async () => {
  await store.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

describe("InstallationDirectory", () => {
  it("looks a repo up once with the App's JWT and remembers the answer", async () => {
    const scope = nock(API).get("/repos/acme/npu/installation").once().reply(200, { id: 5, suspended_at: null });
    const installations = directory();
    expect(await installations.known("acme/npu")).toBeUndefined();
    expect(await installations.resolve("acme/npu")).toBe(5);
    expect(await installations.resolve("ACME/NPU")).toBe(5);
    expect(await installations.known("Acme/Npu")).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("treats 404 and suspended installations as absent, and looks again after the recheck interval", async () => {
    nock(API)
      .get("/repos/acme/npu/installation")
      .reply(404, { message: "Not Found" })
      .get("/repos/beta/tpu/installation")
      .reply(200, { id: 6, suspended_at: "2026-11-01T00:00:00Z" })
      .get("/repos/acme/npu/installation")
      .reply(200, { id: 7, suspended_at: null });
    const installations = directory();
    expect(await installations.resolve("acme/npu")).toBeUndefined();
    expect(await installations.resolve("beta/tpu")).toBeUndefined();
    expect(await installations.known("acme/npu")).toBe(false);
    expect(await installations.notInstalled(["acme/npu", "beta/tpu", "gamma/x"])).toEqual(["acme/npu", "beta/tpu"]);

    clock += TEN_MINUTES;
    expect(await installations.known("acme/npu")).toBeUndefined();
    expect(await installations.resolve("acme/npu")).toBe(7);
  });

  it("applies installation events: created, repositories added and removed, deleted", async () => {
    const installations = directory();
    const created = webhookExample("installation", (p) => p.action === "created");
    await installations.apply("installation", created as never);
    const repo = created.repositories[0].full_name as string;
    expect(await installations.cachedId(repo)).toBe(created.installation.id);

    const added = webhookExample("installation_repositories", (p) => p.action === "added");
    await installations.apply("installation_repositories", added as never);
    expect(await installations.cachedId(added.repositories_added[0].full_name)).toBe(added.installation.id);
    await installations.apply("installation_repositories", { ...added, action: "removed", repositories_added: [], repositories_removed: added.repositories_added } as never);
    expect(await installations.known(added.repositories_added[0].full_name)).toBe(false);

    const deleted = webhookExample("installation", (p) => p.action === "deleted");
    deleted.installation.id = created.installation.id;
    await installations.apply("installation", deleted as never);
    expect(await installations.known(repo)).toBe(false);
  });
});
