// The HUD over HTTP: the real relay on loopback, its store seeded before start, rows written to embedded
// ClickHouse by the relay's own writer; pages, JSON mirrors, validation and an outage.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openClickHouse } from "../../src/hud/clickhouse.js";
import { BackendViewSchema, HealthTrendViewSchema, HealthViewSchema, PrViewSchema, SummaryViewSchema, TrunkViewSchema } from "../../src/hud/views.js";
import { utcDay } from "../../src/domain/callback-audit.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { seedHud, seedJob, SEED_ALLOWLIST } from "../helpers/hud-seed.js";
import { startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";

let github: GitHubStandIn;
let relay: RunningRelay;
let dataDir: string;

// GitHub names are case-insensitive: the allowlist and the configuration spell acme/npu and the upstream
// their own way, the data keeps them in lower case. The pages write each as configured.
const NPU = "Acme/NPU";
const UPSTREAM_SPELLED = "PyTorch/pytorch";

async function start(dir: string): Promise<RunningRelay> {
  return startRelayAgainst(github, SEED_ALLOWLIST.replace("acme/npu", NPU), { DATA_DIR: dir, UPSTREAM_REPO: UPSTREAM_SPELLED, RELAY_HUD_FLUSH_MS: "50" });
}

/** tpu's nightly self-reports: with the seed's two commits, 62 trunk rows (two pages). */
const NIGHTLIES = 60;

const hudPending = async () => {
  const pending = /^relay_hud_rows_pending (\d+)$/m.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1];
  return pending === undefined ? undefined : Number(pending);
};

beforeAll(async () => {
  github = await startGitHubStandIn();
  dataDir = tempDir();
  const store = openSqliteStore(dataDir);
  await seedHud(store, Date.now());
  const tpu = { repo: "beta/tpu", name: "tpu", level: "L3" };
  for (let night = 0; night < NIGHTLIES; night += 1) {
    const sha = (0xabc000 + night).toString(16).padStart(40, "0");
    await seedJob(store, { ...tpu, delivery: `self:nightly:${night}`, pr: null, sha, workflow: "nightly", job: "test", at: Date.now() - 3_600_000 - night * 60_000, conclusion: "success", noStart: true, eventType: "nightly" });
  }
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
      ["/api/hud/trunk?before=yesterday", 400, /^before must be a row cursor as the Older link gives it: <time in ms>_<PR number, 0 for a push>_<head sha>$/],
      ["/api/hud/l4?after=1_x_abc", 400, /^after must be a row cursor as the Newer link gives it/],
      ["/api/hud/backends/acme/npu?before=", 400, /^before must be a row cursor/],
      ["/api/hud/trunk?before=1_0_abc&after=2_0_abc", 400, /^give before or after, not both$/],
      ["/api/hud/backends/acme/npu?page=2", 400, /^unknown query parameter page; accepted: days, before, after$/],
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

describe("paging", () => {
  it("pages the trunk grid 50 rows at a time: page 1 and 2 disjoint and together complete, each saying whether there is more", async () => {
    const first = TrunkViewSchema.parse(await (await get("/api/hud/trunk")).json());
    expect([first.history.rows.length, first.history.page.newer]).toEqual([50, null]);
    const second = TrunkViewSchema.parse(await (await get(`/api/hud/trunk?before=${first.history.page.older!}`)).json());
    expect([second.history.rows.length, second.history.page.older]).toEqual([NIGHTLIES + 2 - 50, null]);
    const shas = [...first.history.rows, ...second.history.rows].map((row) => row.headSha);
    expect(new Set(shas).size).toBe(NIGHTLIES + 2);
    expect(shas).toEqual(expect.arrayContaining(["trunk1", "trunk2"]));
    // Back from the second page: the first.
    expect(TrunkViewSchema.parse(await (await get(`/api/hud/trunk?after=${second.history.page.newer!}`)).json()).history).toEqual(first.history);
  });

  it("links the older page from the page, keeping the window, and the newer one back", async () => {
    const page = await (await get("/hud/trunk?days=30")).text();
    const older = /<a href="([^"]+)" rel="next">Older →<\/a>/.exec(page)?.[1]?.replaceAll("&amp;", "&");
    expect(older).toMatch(/^\/hud\/trunk\?days=30&before=\d+_0_[0-9a-f]{40}$/);
    const next = await (await get(older!)).text();
    expect(next).toMatch(/<a href="\/hud\/trunk\?days=30&amp;after=\d+_0_[0-9a-f]{40}" rel="prev">← Newer<\/a>/);
    expect(next).not.toContain("Older →");
  });
});

describe("repo names", () => {
  /** Mentions of acme/npu and the upstream in any case, but in downstream-reported job URLs (data, not the HUD's spelling). */
  const spellings = (html: string) => new Set([...html.matchAll(/acme\/npu(?!\/actions)|pytorch\/pytorch/gi)].map((match) => match[0]));

  it("writes each repo as configured on every page, whatever the URL's case, and the backend page answers either", async () => {
    for (const path of ["/hud", "/hud/acme/npu", "/hud/ACME/npu?days=30", "/hud/Acme/NPU", "/hud/pr/101", "/hud/pr/103", "/hud/health", "/hud/trunk", "/hud/l4"]) {
      const response = await get(path);
      expect([path, response.status]).toEqual([path, 200]);
      const html = await response.text();
      expect([path, spellings(html)]).toEqual([path, new Set([UPSTREAM_SPELLED, ...(/\/(pr|health)|^\/hud$|acme/i.test(path) ? [NPU] : [])])]);
    }
    // Links to the backend use the allowlist's spelling.
    expect(await (await get("/hud")).text()).toContain(`href="/hud/${NPU}?days=7"`);
    // The JSON keeps the data's key (lower case), as relay health and the health audit read it.
    expect(BackendViewSchema.parse(await (await get("/api/hud/backends/ACME/Npu")).json()).health.stats.downstreamRepo).toBe("acme/npu");
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
