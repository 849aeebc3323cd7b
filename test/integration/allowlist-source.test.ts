// Where the allowlist comes from and how it stays fresh: local file, config repo with ETags,
// reload on push, and last-known-good on a bad edit.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileFetcher } from "../../src/allowlist/file-fetcher.js";
import { repoFetcher } from "../../src/allowlist/repo-fetcher.js";
import { AllowlistSource } from "../../src/allowlist/source.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { webhookExample } from "../helpers/fixtures.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { deliver, startRelay, type RunningRelay } from "../helpers/server.js";

const API = "https://api.github.com";
const CONTENTS = "/repos/Codertocat/Hello-World/contents/allowlist.yml";
const V1 = "L1:\n  - acme/npu-backend\n";
const V2 = "L1:\n  - acme/npu-backend\nL2:\n  - beta/xpu-backend\n";
const BAD = "L1:\n  - acme/npu-backend\nL9:\n  - beta/xpu-backend\n";

async function counter(metrics: RelayMetrics, outcome: string): Promise<number> {
  const values = (await metrics.allowlistReloads.get()).values;
  return values.filter((value) => value.labels.outcome === outcome).reduce((sum, value) => sum + value.value, 0);
}

describe("file source", () => {
  let dir: string;
  let file: string;
  let source: AllowlistSource | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "relay-allowlist-"));
    file = path.join(dir, "allowlist.yml");
  });
  afterEach(async () => {
    source?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the file, keeps the last good version on a bad edit and reports it", async () => {
    await writeFile(file, V1);
    const metrics = createMetrics({ defaultMetrics: false });
    source = new AllowlistSource(fileFetcher(file), { log: testLog, metrics, refreshSeconds: 60 });
    await source.reload("test");
    expect(source.current()?.entries.map((entry) => entry.repo)).toEqual(["acme/npu-backend"]);
    expect(source.readiness().ready).toBe(true);

    await writeFile(file, BAD);
    await source.reload("test");
    expect(source.current()?.entries.map((entry) => entry.repo)).toEqual(["acme/npu-backend"]);
    const status = source.status();
    expect(status.lastError?.message).toContain("keeping the last good version");
    expect(status.lastError?.issues[0]).toMatch(/allowlist\.yml:3:1: .*L9/);
    expect(source.readiness().ready).toBe(true);
    expect(await counter(metrics, "invalid")).toBe(1);
    expect((await metrics.allowlistInvalidVersions.get()).values[0]?.value).toBe(1);

    await writeFile(file, V2);
    await source.reload("test");
    expect(source.current()?.entries).toHaveLength(2);
    expect(source.status().lastError).toBeUndefined();
    expect((await metrics.allowlistBackends.get()).values.find((value) => value.labels.level === "L2")?.value).toBe(1);
  });

  it("is not ready while no valid version was ever loaded", async () => {
    await writeFile(file, BAD);
    source = new AllowlistSource(fileFetcher(file), { log: testLog, metrics: createMetrics({ defaultMetrics: false }), refreshSeconds: 60 });
    await source.reload("test");
    expect(source.current()).toBeUndefined();
    expect(source.readiness()).toMatchObject({ ready: false, details: { loaded: false } });
    expect(source.status().lastError?.message).toContain("no valid version loaded yet");
  });

  it("reports a missing file as a read error", async () => {
    source = new AllowlistSource(fileFetcher(file), { log: testLog, metrics: createMetrics({ defaultMetrics: false }), refreshSeconds: 60 });
    await source.reload("test");
    expect(source.status().lastError?.message).toContain("ENOENT");
  });

  it("reloads by itself when the file is edited", async () => {
    await writeFile(file, V1);
    source = new AllowlistSource(fileFetcher(file, 20), { log: testLog, metrics: createMetrics({ defaultMetrics: false }), refreshSeconds: 60 });
    await source.start();
    expect(source.current()?.entries).toHaveLength(1);
    await writeFile(file, V2);
    await expect.poll(() => source?.current()?.entries.length, { timeout: 5000, interval: 20 }).toBe(2);
  });
});

describe("config repo source", () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  function repoSource(metrics: RelayMetrics) {
    const probot = testProbot();
    return new AllowlistSource(
      repoFetcher({
        repo: { owner: "Codertocat", repo: "Hello-World" },
        path: "allowlist.yml",
        ref: "main",
        client: () => probot.auth(1),
      }),
      { log: testLog, metrics, refreshSeconds: 60 },
    );
  }

  it("revalidates with the ETag and reuses the held version on 304", async () => {
    const seenEtags: Array<string | undefined> = [];
    const scope = nock(API)
      .post("/app/installations/1/access_tokens")
      .reply(200, { token: "installation-token" })
      .get(CONTENTS)
      .query({ ref: "main" })
      .reply(function () {
        seenEtags.push(this.req.headers["if-none-match"]);
        expect(this.req.headers.accept).toBe("application/vnd.github.raw+json");
        return [200, V1, { etag: '"v1"' }];
      })
      .get(CONTENTS)
      .query({ ref: "main" })
      .reply(function () {
        seenEtags.push(this.req.headers["if-none-match"]);
        return [304, ""];
      });
    const metrics = createMetrics({ defaultMetrics: false });
    const source = repoSource(metrics);
    await source.reload("first");
    const first = source.current();
    await source.reload("second");

    expect(scope.isDone()).toBe(true);
    expect(seenEtags).toEqual([undefined, '"v1"']);
    expect(source.current()).toBe(first);
    expect(await counter(metrics, "loaded")).toBe(1);
    expect(await counter(metrics, "unchanged")).toBe(1);
  });

  it("keeps the version in force when GitHub cannot be reached, and reports why", async () => {
    nock(API)
      .post("/app/installations/1/access_tokens")
      .reply(200, { token: "installation-token" })
      .get(CONTENTS)
      .query({ ref: "main" })
      .reply(200, V1, { etag: '"v1"' })
      .get(CONTENTS)
      .query({ ref: "main" })
      .reply(404, { message: "Not Found" });
    const source = repoSource(createMetrics({ defaultMetrics: false }));
    await source.reload("first");
    await source.reload("second");
    expect(source.current()?.entries).toHaveLength(1);
    expect(source.status().lastError?.message).toContain("allowlist.yml not found in Codertocat/Hello-World@main");
  });
});

describe("reload on push (through the running relay)", () => {
  let relay: RunningRelay | undefined;

  /** GitHub answering the relay's first load: installation lookup, token, then V1 of the file. */
  function startupLoad(): nock.Scope {
    return nock(API)
      .get("/repos/Codertocat/Hello-World/installation")
      .reply(200, { id: 1 })
      .post("/app/installations/1/access_tokens")
      .reply(200, { token: "installation-token" })
      .get(CONTENTS)
      .reply(200, V1, { etag: '"v1"' });
  }

  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(async () => {
    await relay?.stop();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("loads at startup, then reloads at the pushed sha when a push touches the file", async () => {
    const push = webhookExample("push", (payload) => payload.ref === "refs/heads/master" && payload.installation);
    push.commits[0].modified = ["allowlist.yml"];
    const scope = startupLoad()
      .get(CONTENTS)
      .query({ ref: push.after })
      .reply(200, V2, { etag: '"v2"' });

    const running = (relay = await startRelay({ ALLOWLIST_REPO: "Codertocat/Hello-World" }));
    const loads = async () => /relay_allowlist_reloads_total\{source="repo",outcome="loaded"\} (\d+)/.exec(await (await fetch(`${running.url}/metrics`)).text())?.[1];
    expect(await loads()).toBe("1");

    const response = await deliver(relay, "push", push);
    expect(response.status).toBe(200);

    expect(scope.isDone()).toBe(true);
    expect(await loads()).toBe("2");
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/relay_allowlist_backends\{level="L2"\} 1/);
  });

  it("does not reload for a push that leaves the file alone", async () => {
    const push = webhookExample("push", (payload) => payload.ref === "refs/heads/master" && payload.installation);
    const scope = startupLoad();

    relay = await startRelay({ ALLOWLIST_REPO: "Codertocat/Hello-World" });
    expect((await deliver(relay, "push", push)).status).toBe(200);
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });
});
