// The HUD over HTTP: the real relay on loopback, its store seeded before start, rows written to embedded
// ClickHouse by the relay's own writer; pages, JSON mirrors, validation and an outage.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openClickHouse } from "../../src/hud/clickhouse.js";
import { BackendViewSchema, HealthTrendViewSchema, HealthViewSchema, PrViewSchema, SummaryViewSchema, TrunkViewSchema } from "../../src/hud/views.js";
import { utcDay } from "../../src/domain/callback-audit.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { seedHud, SEED_ALLOWLIST, UPSTREAM } from "../helpers/hud-seed.js";
import { startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";

let github: GitHubStandIn;
let relay: RunningRelay;
let dataDir: string;

async function start(dir: string): Promise<RunningRelay> {
  return startRelayAgainst(github, SEED_ALLOWLIST, { DATA_DIR: dir, UPSTREAM_REPO: UPSTREAM, RELAY_HUD_FLUSH_MS: "50" });
}

const hudPending = async () => {
  const pending = /^relay_hud_rows_pending (\d+)$/m.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1];
  return pending === undefined ? undefined : Number(pending);
};

beforeAll(async () => {
  github = await startGitHubStandIn();
  dataDir = tempDir();
  const store = openSqliteStore(dataDir);
  await seedHud(store, Date.now());
  // The callback audit: tpu sent 9 valid reports and 1 the relay refused as invalid.
  await store.addCallbackOutcomes(
    [
      { repo: "beta/tpu", day: utcDay(Date.now()), outcome: "accepted", count: 9 },
      { repo: "beta/tpu", day: utcDay(Date.now()), outcome: "invalid_body", count: 1 },
    ],
    "2000-01-01",
  );
  await store.close();
  relay = await start(dataDir);
  // The relay's writer drains the seeded queue into ClickHouse.
  const deadline = Date.now() + 15_000;
  while ((await hudPending()) !== 0) {
    if (Date.now() > deadline) throw new Error("the HUD writer did not drain the seeded rows within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
afterAll(async () => {
  await relay.stop();
  await github.close();
});

const get = (pathAndQuery: string, init?: RequestInit) => fetch(`${relay.url}${pathAndQuery}`, init);

describe("JSON mirrors", () => {
  it("serves the summary, a backend, a PR and trunk as JSON", async () => {
    const summary = await get("/api/hud/summary");
    expect(summary.status).toBe(200);
    expect(summary.headers.get("content-type")).toBe("application/json; charset=utf-8");
    // Every answer matches its published schema (docs/schemas/hud-*.json).
    const body = SummaryViewSchema.parse(await summary.json());
    expect(body.window.days).toBe(7);
    expect(body.levels.map((level) => level.level)).toEqual(["L4", "L3", "L2", "L1"]);

    const backend = BackendViewSchema.parse(await (await get("/api/hud/backends/Acme/NPU?days=7")).json());
    expect(backend.health.stats).toMatchObject({ downstreamRepo: "acme/npu", dispatches: 5, available: 2, unavailable: 2, jobs: 7, testPassRate: 0.8 });
    const pr = PrViewSchema.parse(await (await get("/api/hud/pr/101")).json());
    expect(pr.headSha).toBe("sha101");
    expect(pr.gating.map((box) => [box.backendName, box.level])).toEqual([["npu", "L4"], ["late", "L4"], ["tpu", "L3"]]);
    const trunk = TrunkViewSchema.parse(await (await get("/api/hud/trunk?level=L4")).json());
    expect(trunk).toMatchObject({ level: "L4", history: { rows: [expect.objectContaining({ headSha: "trunk1" })] } });
    // The L4 main view is the trunk view of L4 backends.
    const l4 = TrunkViewSchema.parse(await (await get("/api/hud/l4")).json());
    expect([l4.level, l4.history]).toEqual([trunk.level, trunk.history]);
  });

  it("answers bad input with a specific 400, unknown backends with 404 and other methods with 405", async () => {
    const problems: Array<[string, number, RegExp]> = [
      ["/api/hud/summary?days=0", 400, /days must be a whole number of days from 1 to 90/],
      ["/api/hud/summary?days=1.5", 400, /days must be a whole number/],
      ["/api/hud/summary?days=7&days=30", 400, /days is given more than once/],
      ["/api/hud/summary?range=7", 400, /unknown query parameter range/],
      ["/api/hud/trunk?level=L5", 400, /level must be one of L1, L2, L3, L4/],
      ["/api/hud/pr/abc", 400, /"abc" is not a pull request number/],
      ["/api/hud/pr/0", 400, /is not a pull request number/],
      ["/api/hud/pr/101?sha=zz", 400, /sha must be 7 to 40 hexadecimal characters/],
      ["/api/hud/backends/not%20a/repo!", 400, /is not an owner\/repo name/],
      ["/api/hud/backends/nobody/here", 404, /nobody\/here is not in the allowlist and has no results in the last 7 days/],
    ];
    for (const [url, status, message] of problems) {
      const response = await get(url);
      expect([url, response.status]).toEqual([url, status]);
      expect(((await response.json()) as { error: string }).error).toMatch(message);
    }
    const health = await get("/api/hud/health?days=0");
    expect(health.status).toBe(400);
    expect(((await health.json()) as { error: string }).error).toMatch(/days must be a whole number of days from 1 to 90/);
    const post = await get("/api/hud/summary", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
  });
});

describe("health", () => {
  it("serves every backend against its level and the next, with the callback audit's signal validity", async () => {
    const response = await get("/api/hud/health?days=30");
    expect(response.status).toBe(200);
    const health = HealthViewSchema.parse(await response.json());
    expect(health.window.days).toBe(30);
    expect(health.backends.map((backend) => [backend.stats.downstreamRepo, backend.stats.level, backend.next?.level ?? null])).toEqual([
      ["acme/npu", "L4", null],
      ["zeta/late", "L4", null],
      ["beta/tpu", "L3", "L4"],
      ["delta/gone", "L2", null],
      ["eps/new", "L2", "L3"],
      ["gamma/hooks", "L1", "L2"],
    ]);
    const tpu = health.backends[2]!;
    expect(tpu.stats).toMatchObject({ callbacks: 10, invalidCallbacks: 1, signalValidity: 0.9 });
    // L4's requirements (the seed's), measured on tpu: it would meet them.
    expect(tpu.next?.verdict).toBe("meets");
  });

  it("serves the week-by-week trend as JSON and as a page, and refuses a bad number of weeks", async () => {
    const trend = HealthTrendViewSchema.parse(await (await get("/api/hud/health/weekly?weeks=3")).json());
    expect(trend.windows.map((window) => window.days)).toEqual([7, 7, 7]);
    const npu = trend.backends.find((backend) => backend.downstreamRepo === "acme/npu")!;
    expect(npu.weeks.map((week) => week.verdict)).toEqual(["no_data", "meets", "fails"]);
    const page = await get("/hud/health?weeks=3");
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain("Backend health, week by week");
    expect(text).toContain('href="/api/hud/health/weekly?weeks=3"');
    for (const weeks of ["0", "14", "two"]) {
      const refused = await get(`/api/hud/health/weekly?weeks=${weeks}`);
      expect([weeks, refused.status]).toEqual([weeks, 400]);
      expect(((await refused.json()) as { error: string }).error).toBe("weeks must be a whole number of weeks from 1 to 13");
    }
  });
});

describe("pages", () => {
  it("sends the relay's root to the HUD", async () => {
    const response = await get("/", { redirect: "manual" });
    expect([response.status, response.headers.get("location")]).toEqual([302, "/hud"]);
  });

  it("serves every page as HTML without scripts, under a policy that forbids them", async () => {
    for (const page of ["/hud", "/hud?days=30", "/hud/acme/npu", "/hud/pr/101", "/hud/pr/103", "/hud/trunk", "/hud/l4", "/hud/health"]) {
      const response = await get(page);
      expect([page, response.status]).toEqual([page, 200]);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
      const text = await response.text();
      expect(text).toMatch(/^<!doctype html>/i);
      expect(text).not.toMatch(/<script/i);
    }
  });

  it("escapes what PR authors and downstreams wrote", async () => {
    const text = await (await get("/hud/pr/101")).text();
    expect(text).toContain("Out-of-Tree Backends");
    expect(text).toContain("Add &lt;script&gt;alert(1)&lt;/script&gt; op");
  });

  it("answers a bad request with an HTML error page and its status", async () => {
    const response = await get("/hud/pr/12?sha=zz");
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await response.text()).toContain("sha must be 7 to 40 hexadecimal characters");
    expect((await get("/hud/nobody/here")).status).toBe(404);
  });
});

describe("when ClickHouse is unavailable", () => {
  it("answers 503 with a clear message, keeps accepting, and serves again once it is back", async () => {
    await relay.stop();
    // chDB serves one data directory per process: while another is open, the relay's cannot be.
    const other = await openClickHouse({ kind: "embedded", path: path.join(tempDir(), "other"), database: "relay" });
    await other.ping();
    relay = await start(dataDir);
    const down = await get("/api/hud/summary");
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: string }).error).toBe(
      "the HUD database is unavailable right now; results are kept and will appear once it is back",
    );
    expect((await get("/hud")).status).toBe(503);
    expect((await get("/readyz")).status).toBe(200); // the relay's own work goes on

    await other.close();
    await (await import("chdb")).drainPending();
    expect((await get("/api/hud/summary")).status).toBe(200);
  });
});
