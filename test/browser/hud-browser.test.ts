// The HUD pages in a real browser (Debian's Chromium driven by playwright-core): what a person looks
// for on each page, with JavaScript off (the pages must work without it), plus hostile text from PR
// authors and downstreams rendered with JavaScript on. Every page is watched for dialogs, console
// errors and failed requests; every page is screenshotted at desktop (1280 px) and phone (390 px) width
// to test-results/screenshots/<page>-<width>.png for a human to look at, and must not overflow the phone's width.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { seedDispatch, seedHud, seedJob, SEED_ALLOWLIST, UPSTREAM } from "../helpers/hud-seed.js";
import { startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";

const CHROMIUM = "/usr/bin/chromium";
/**
 * Without Debian's Chromium these tests are skipped with a message on a developer's machine, and fail in CI
 * (CI=true, where .ci/run installs it): a missing browser must never pass a submission silently.
 */
const SKIP = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (SKIP) console.warn(`HUD browser tests skipped: ${CHROMIUM} not found (install it with \`apt-get install chromium\`; with CI=true they fail instead)`);
const browserDescribe = describe.skipIf(SKIP);
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  // Without these Chromium phones home, and this machine's closed network refuses it.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../test-results/screenshots");
const VIEWPORT = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

// Hostile text, seeded on PR 150 of beta/tpu so the seeded scenario's numbers for acme/npu stay as documented.
const HOSTILE = {
  prTitle: "Harden <svg onload=alert(6)> parser",
  job: "<img src=x onerror=alert(1)>",
  workflow: '"><script>alert(2)</script>',
  summary: "<script>alert(3)</script> & <b>bold</b>",
  failedTests: ["test/test_xss.py::test_<svg onload=alert(4)>", "test/test_xss.py::test_ok"],
  environment: { device: "<script>alert(5)</script>" },
  artifactUrl: 'https://artifacts.example/run?q="><img src=x onerror=alert(7)>',
  jobUrl: "javascript:alert(8)",
};

let github: GitHubStandIn;
let relay: RunningRelay;
let browser: Browser;
/** JavaScript off: the pages must do everything without it. */
let noJs: BrowserContext;
/** JavaScript on, desktop and phone: escaping (and the CSP behind it) must keep injected tags from running. */
let withJs: BrowserContext;
let phone: BrowserContext;

/** Shards of tpu's test job, as PyTorch names them; their headers must still tell them apart. */
const SHARDS = [1, 2, 3, 4].map((shard) => `test (tpu, ${shard}/4, linux.tpu.v5e)`);
/** tpu's PR heads besides the scenario's: more than a page (50 rows) of its history grid. */
const TPU_PRS = 60;

/** tpu's older history: 60 PRs two to five days ago, each running four shards (one failing every seventh PR). */
async function seedTpuHistory(store: Store, now: number): Promise<void> {
  const tpu = { repo: "beta/tpu", name: "tpu", level: "L3" };
  for (let index = 0; index < TPU_PRS; index += 1) {
    const pr = 2000 + index;
    const sha = (0xbee00 + index).toString(16).padEnd(40, "0");
    const at = now - 2 * 86_400_000 - index * 3_600_000;
    await seedDispatch(store, { ...tpu, delivery: `h${pr}`, pr, sha, at, outcome: "sent", title: `[tpu] Lower aten.${["addmm", "conv2d", "softmax", "layer_norm"][index % 4]!} to XLA (part ${index + 1})` });
    for (const [shard, job] of SHARDS.entries()) {
      const failing = index % 7 === 3 && shard === 2;
      await seedJob(store, { ...tpu, delivery: `h${pr}`, pr, sha, workflow: "pytorch-pr", job, at: at + 30_000, conclusion: failing ? "failure" : "success", queueMs: 30_000 + shard * 5_000, executionMs: 900_000 + shard * 60_000, ...(failing && { failureKind: "test" as const, failedTests: ["test/test_ops.py::TestCommonTPU::test_softmax_tpu_float32"] }) });
    }
  }
}

async function seedHostile(store: Store, now: number): Promise<void> {
  const tpu = { repo: "beta/tpu", name: "tpu", level: "L3" };
  const at = now - 3_600_000;
  await seedDispatch(store, { ...tpu, delivery: "x150", pr: 150, sha: "sha150", at, outcome: "sent", title: HOSTILE.prTitle });
  await seedJob(store, {
    ...tpu,
    delivery: "x150",
    pr: 150,
    sha: "sha150",
    workflow: HOSTILE.workflow,
    job: HOSTILE.job,
    at: at + 10_000,
    conclusion: "failure",
    failureKind: "test",
    queueMs: 10_000,
    executionMs: 120_000,
    summary: HOSTILE.summary,
    failedTests: HOSTILE.failedTests,
    tests: { total: 10, passed: 8, failed: 2, skipped: 0 },
    environment: HOSTILE.environment,
    artifactUrl: HOSTILE.artifactUrl,
    jobUrl: HOSTILE.jobUrl,
  });
}

async function hudPending(): Promise<number | undefined> {
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  const pending = /^relay_hud_rows_pending (\d+)$/m.exec(metrics)?.[1];
  return pending === undefined ? undefined : Number(pending);
}

beforeAll(async () => {
  if (SKIP) return;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser tests drive Debian's Chromium; install it with \`apt-get install chromium\` (never a downloaded browser)`);
  }
  github = await startGitHubStandIn();
  const dataDir = tempDir();
  const store = openSqliteStore(dataDir);
  const now = Date.now();
  await seedHud(store, now);
  await seedHostile(store, now);
  await seedTpuHistory(store, now);
  await store.close();
  relay = await startRelayAgainst(github, SEED_ALLOWLIST, { DATA_DIR: dataDir, UPSTREAM_REPO: UPSTREAM, RELAY_HUD_FLUSH_MS: "50" });
  // The relay's writer drains the seeded queue into ClickHouse.
  await vi.waitFor(async () => expect(await hudPending(), "rows the HUD writer has yet to write").toBe(0), { timeout: 15_000, interval: 50 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  [noJs, withJs, phone] = await Promise.all([
    browser.newContext({ javaScriptEnabled: false, viewport: VIEWPORT }),
    browser.newContext({ javaScriptEnabled: true, viewport: VIEWPORT }),
    browser.newContext({ javaScriptEnabled: true, viewport: PHONE, isMobile: true, hasTouch: true }),
  ]);
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  await github?.close();
});

/** A page being watched: anything in `problems` (a dialog, a console error, a failed request) fails the test. */
interface Visit {
  page: Page;
  problems: string[];
}

const visits: Visit[] = [];

/** Opens `pathAndQuery` in a new page of `context` for this test only (to click around in), watching it; expects the HTTP status. */
async function visit(context: BrowserContext, pathAndQuery: string, status = 200): Promise<Visit> {
  const opened = await open(context, pathAndQuery, status);
  visits.push(opened);
  return opened;
}

/** Pages opened once per context and read by several tests (which do not navigate away); watched until the end. */
const shared = new Map<BrowserContext, Map<string, Promise<Visit>>>();

/** `pathAndQuery` in `context`'s shared page: tests that only read a page share one load of it. */
function view(context: BrowserContext, pathAndQuery: string, status = 200): Promise<Visit> {
  const pages = shared.get(context) ?? new Map<string, Promise<Visit>>();
  shared.set(context, pages);
  const known = pages.get(pathAndQuery);
  if (known) return known;
  const opened = open(context, pathAndQuery, status);
  pages.set(pathAndQuery, opened);
  return opened;
}

async function open(context: BrowserContext, pathAndQuery: string, status: number): Promise<Visit> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("dialog", (dialog) => {
    problems.push(`dialog (${dialog.type()}): ${dialog.message()}`);
    void dialog.dismiss();
  });
  const target = `${relay.url}${pathAndQuery}`;
  page.on("console", (message) => {
    // Chromium logs an error status of the page itself, expected for an error page.
    const expected = status >= 400 && message.location().url === target && message.text().includes(`status of ${status}`);
    if (message.type() === "error" && !expected) problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on("response", (response) => {
    // The page itself may be an expected error page; anything else it loads or links to must succeed.
    const expected = response.url() === target && response.status() === status;
    if (response.status() >= 400 && !expected) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  const response = await page.goto(target);
  expect([pathAndQuery, response?.status()]).toEqual([pathAndQuery, status]);
  return { page, problems };
}

// Every page a test opened must have stayed clean; then it is closed. Shared pages must stay clean too.
afterEach(async () => {
  for (const { page, problems } of visits.splice(0)) {
    expect([page.url(), problems]).toEqual([page.url(), []]);
    await page.close();
  }
  for (const pages of shared.values()) {
    for (const { page, problems } of await Promise.all(pages.values())) expect([page.url(), problems]).toEqual([page.url(), []]);
  }
});

const text = async (locator: Locator): Promise<string> => ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();
const texts = async (locator: Locator): Promise<string[]> => (await locator.allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());

/** The summary table row of a backend, by its link text. */
const summaryRow = (page: Page, backend: string) =>
  page.locator("tbody tr").filter({ has: page.getByRole("link", { name: backend, exact: true }) });

/** A column of a summary table, by header text, as a cell locator within `row`. */
async function summaryCell(row: Locator, header: string): Promise<Locator> {
  const table = row.locator("xpath=ancestor::table");
  const headers = await texts(table.locator("thead th"));
  const index = headers.indexOf(header);
  expect(index, `column ${header} in ${headers.join(" | ")}`).toBeGreaterThanOrEqual(0);
  return row.locator("th, td").nth(index);
}

/** A PR page's box for one backend (labelled with its name). */
const box = (page: Page, backend: string) => page.locator(`section.box[aria-label="${backend}"]`);

browserDescribe("summary /hud", () => {
  it("has a section per level, L4 first, each with its heading", async () => {
    const { page } = await view(noJs, "/hud");
    expect(await page.title()).toBe("Summary · Out-of-tree CI HUD");
    expect(await texts(page.locator("main > section > h2"))).toEqual(["L4 merge-gating", "L3 check runs on PR", "L2 callback-only", "L1 webhook-only"]);
    expect(await page.locator("main > section").evaluateAll((sections) => sections.map((s) => s.id))).toEqual(["level-L4", "level-L3", "level-L2", "level-L1"]);
    expect(await texts(page.locator("#level-L4 tbody th a"))).toEqual(["npu", "late"]);
    expect(await text(page.locator("#level-L4 .requirements"))).toContain("test pass rate ≥ 90%");
  });

  it("marks acme/npu as failing, its pass rate cell flagged with the requirement in its tooltip", async () => {
    const { page } = await view(noJs, "/hud");
    const npu = summaryRow(page, "npu");
    expect(await text(npu.locator(".badge[class*=verdict]"))).toBe("fails");
    const passRate = await summaryCell(npu, "Test pass rate");
    expect(await text(passRate)).toBe("80% ✗");
    expect(await passRate.getAttribute("class")).toContain("fail");
    expect(await passRate.getAttribute("title")).toBe("requirement: min_test_pass_rate ≥ 90%");
    // A met requirement is not flagged.
    const availability = await summaryCell(npu, "Infra availability");
    expect([await text(availability), await availability.getAttribute("class")]).toEqual(["50%", "num"]);
    expect(await text(summaryRow(page, "late").locator(".badge[class*=verdict]"))).toBe("no data");
  });

  it("shows the webhook-only L1 backend as n/a, never 0%", async () => {
    const { page } = await view(noJs, "/hud");
    const hooks = summaryRow(page, "hooks");
    expect(await text(hooks.locator("td.na"))).toBe("n/a (webhook-only)");
    expect(await text(hooks)).not.toMatch(/\b0%/);
  });

  it("links a backend to its page", async () => {
    const { page } = await visit(noJs, "/hud");
    await page.getByRole("link", { name: "npu", exact: true }).click();
    await page.waitForURL(`${relay.url}/hud/acme/npu?days=7`);
    expect(await text(page.locator("h1"))).toBe("npu L4 fails");
  });

  it("switches to 30 days from the range selector", async () => {
    const { page } = await visit(noJs, "/hud");
    expect(await text(page.locator("main > p.muted").first())).toMatch(/^Last 7 days: /);
    await page.locator(".range").getByRole("link", { name: "30d" }).click();
    await page.waitForURL(`${relay.url}/hud?days=30`);
    expect(await text(page.locator("main > p.muted").first())).toMatch(/^Last 30 days: /);
    expect(await text(page.locator(".range [aria-current]"))).toBe("30d");
  });
});

browserDescribe("backend page /hud/acme/npu", () => {
  it("shows the summary cards with the scenario's numbers", async () => {
    const { page } = await view(noJs, "/hud/acme/npu");
    const cards = await Promise.all(
      (await page.locator(".card").all()).map((card) => Promise.all([".label", ".value", ".detail"].map((part) => text(card.locator(part))))),
    );
    expect(cards).toEqual([
      ["Test pass rate", "80%", "4 passed, 1 broke tests"],
      ["Infra availability", "50%", "2 of 4 dispatches"],
      ["PRs", "4", "7 jobs"],
      ["Failures + timed out", "1 + 1", "1 test, 0 infra"],
      ["Avg queue (dispatch to start)", "53s", "p50 45s · p90 2m 00s · 5 jobs"],
      ["Avg execution", "20m 40s", "p50 13m 20s · p90 1h 00m · 5 jobs"],
      ["Timeout rate", "16.7%", "1 of 6 finished jobs timed out"],
      ["Dispatches", "5", "1 could not be delivered"],
    ]);
    expect(await texts(page.locator(".checks li"))).toEqual([
      "meets infra availability ≥ 40% measured 50%",
      "fails test pass rate ≥ 90% measured 80%",
      "meets queue p50 ≤ 1m 00s measured 45s",
    ]);
  });

  it("draws four charts with a point or bar for every day that has one", async () => {
    const { page } = await view(noJs, "/hud/acme/npu");
    type Key = "testPassRate" | "infraOkRate" | "queueP50Ms" | "runP50Ms";
    const api = (await (await fetch(`${relay.url}/api/hud/backends/acme/npu?days=7`)).json()) as { daily: Array<{ day: string } & Record<Key, number | null>> };
    const charts = page.locator("figure.chart svg");
    expect(await charts.count()).toBe(4);
    for (const chart of await charts.all()) expect(await chart.isVisible()).toBe(true);
    expect(await page.locator("figure.chart figcaption").allTextContents()).toEqual([
      "Daily test pass rate",
      "Daily jobs without an infrastructure failure",
      "Daily queue time p50 (waiting for a runner)",
      "Daily run time p50 (start to completion)",
    ]);
    const days = (key: Key) => api.daily.filter((point) => point[key] !== null).map((point) => point.day);
    const tipDays = async (index: number, selector: string) => (await charts.nth(index).locator(`${selector} > title`).allTextContents()).map((tip) => tip.slice(0, 10));
    expect(days("testPassRate").length).toBeGreaterThanOrEqual(2);
    expect(await tipDays(0, "circle.point")).toEqual(days("testPassRate"));
    expect(await tipDays(1, "circle.point")).toEqual(days("infraOkRate"));
    expect(await tipDays(2, "rect.bar")).toEqual(days("queueP50Ms"));
    expect(await tipDays(3, "rect.bar")).toEqual(days("runP50Ms"));
    // One x slot per day of the window.
    expect(api.daily.length).toBeGreaterThanOrEqual(7);
  });

  it("lists 7 runs, marking the one that never reported and the failed dispatch", async () => {
    const { page } = await view(noJs, "/hud/acme/npu");
    const rows = page.locator("table.grid tbody tr");
    expect(await rows.count()).toBe(7);
    expect(await texts(page.locator("table.grid thead th.col"))).toEqual(["ci / build", "ci / test", "nightly / test"]);
    const row = (pr: number) => rows.filter({ has: page.getByRole("link", { name: `#${pr}`, exact: true }) });
    for (const [pr, label, detail] of [
      [103, "never reported", /no job started before the start timeout/],
      [106, "dispatch failed", /could not deliver it \(http_404\)/],
    ] as const) {
      expect(await row(pr).getAttribute("class")).toBe("missing");
      const marker = row(pr).locator(".missing-note .tag");
      expect(await text(marker)).toBe(label);
      expect(await marker.getAttribute("title")).toMatch(detail);
      expect(await marker.isVisible()).toBe(true);
    }
    expect(await page.locator("table.grid tbody tr.missing").count()).toBe(2);
    // The failing test cell of PR 101: a red glyph whose tooltip has the test counts and failed tests.
    const cell = row(101).locator("td.cell").nth(1).locator(".glyph");
    expect([await text(cell), await cell.getAttribute("class")]).toEqual(["✗", "glyph k-failure"]);
    const tooltip = await cell.getAttribute("title");
    expect(tooltip).toContain("tests: 98/100 passed, 2 failed, 0 skipped");
    expect(tooltip).toContain("test/test_ops.py::TestOps::test_add");
    // The re-run of PR 102 shows its latest attempt.
    expect(await row(102).locator("td.cell").nth(1).locator(".glyph").getAttribute("aria-label")).toBe("success, attempt 2");
  });

  it("shows the L1 backend without made-up numbers", async () => {
    const { page } = await view(noJs, "/hud/gamma/hooks");
    const values = await texts(page.locator(".card .value"));
    expect(values.slice(0, -1).every((value) => value === "n/a (webhook-only)")).toBe(true);
    expect(values.at(-1)).toBe("1");
    expect(await page.locator("figure.chart").count()).toBe(0);
  });
});

browserDescribe("PR page /hud/pr/<n>", () => {
  it("shows the Out-of-Tree Backends boxes of PR 101: failing npu (failed job first), passing tpu, missing late", async () => {
    const { page } = await view(noJs, "/hud/pr/101");
    expect(await text(page.locator("h1"))).toBe("PR #101: Add <script>alert(1)</script> op");
    expect(await page.getByRole("heading", { name: "Out-of-Tree Backends" }).isVisible()).toBe(true);
    expect(await texts(page.locator("section.box h3"))).toEqual(["npu", "late", "tpu"]);

    const npu = box(page, "npu");
    expect(await npu.getAttribute("class")).toBe("box state-failing");
    expect(await texts(npu.locator("header .badge, header .tag"))).toEqual(["L4", "failing"]);
    expect(await texts(npu.locator("ul.jobs > li > a, ul.jobs > li > span:not(.glyph, .small)"))).toEqual(["ci / test", "ci / build"]);
    expect(await npu.locator("ul.jobs > li .glyph").evaluateAll((glyphs) => glyphs.map((glyph) => glyph.className))).toEqual(["glyph k-failure", "glyph k-success"]);
    expect(await texts(npu.locator(".failed-tests > div"))).toEqual(["test/test_ops.py::TestOps::test_add", "test/test_nn.py::TestNN::test_conv"]);

    const tpu = box(page, "tpu");
    expect([await tpu.getAttribute("class"), await texts(tpu.locator("header .badge, header .tag"))]).toEqual(["box state-passed", ["L3", "passed"]]);
    const late = box(page, "late");
    expect([await late.getAttribute("class"), await texts(late.locator("header .badge, header .tag"))]).toEqual([
      "box state-missing",
      ["L4", "expected, not reporting"],
    ]);
    expect(await text(late.locator("p"))).toMatch(/^not dispatched: /);
  });

  it("shows npu as never reported on PR 103", async () => {
    const { page } = await view(noJs, "/hud/pr/103");
    const npu = box(page, "npu");
    expect(await npu.getAttribute("class")).toBe("box state-missing");
    expect(await texts(npu.locator("header .tag"))).toEqual(["expected, not reporting"]);
    expect(await text(npu.locator("p"))).toMatch(/^never reported: dispatched, but no job started/);
  });

  it("links a box to its backend page", async () => {
    const { page } = await visit(noJs, "/hud/pr/101");
    await box(page, "tpu").getByRole("link", { name: "tpu", exact: true }).click();
    await page.waitForURL(`${relay.url}/hud/beta/tpu`);
    expect(await text(page.locator("h1"))).toBe("tpu L3 no requirements");
  });
});

browserDescribe("trunk pages", () => {
  it("/hud/trunk lists both trunk commits across backends", async () => {
    const { page } = await view(noJs, "/hud/trunk");
    expect(await text(page.locator("h1"))).toBe("Trunk");
    expect(await texts(page.locator("table.grid thead th.col"))).toEqual(["npu · nightly / test", "tpu · ci / test"]);
    expect(await texts(page.locator("table.grid tbody td.sha"))).toEqual(["trunk2", "trunk1"]);
    expect(await page.locator("table.grid tbody .glyph.k-success").count()).toBe(2);
    expect(await text(page.locator("nav [aria-current=page]"))).toBe("Trunk");
  });

  it("/hud/l4 lists the L4 backends' trunk commit only", async () => {
    const { page } = await view(noJs, "/hud/l4");
    expect(await text(page.locator("h1"))).toBe("Merge-gating backends on trunk");
    expect(await texts(page.locator("table.grid thead th.col"))).toEqual(["npu · nightly / test"]);
    expect(await texts(page.locator("table.grid tbody td.sha"))).toEqual(["trunk1"]);
    expect(await text(page.locator("nav [aria-current=page]"))).toBe("Main (L4)");
  });
});

browserDescribe("error page", () => {
  it("answers an unknown backend with a readable 404 page", async () => {
    const { page } = await view(noJs, "/hud/nobody/here", 404);
    expect(await text(page.locator("main"))).toContain("nobody/here is not in the allowlist and has no results in the last 7 days");
  });
});

/** No injected element exists; the dialog/console watch of visit() catches anything that ran. */
async function expectNothingInjected(page: Page): Promise<void> {
  const selectors = ["script", "img[src=x]", "svg[onload]", "[onerror], [onload]", "main b", 'a[href^="javascript:" i]'];
  const counts = await Promise.all(selectors.map((selector) => page.locator(selector).count()));
  expect(Object.fromEntries(selectors.map((selector, index) => [selector, counts[index]]))).toEqual(Object.fromEntries(selectors.map((selector) => [selector, 0])));
}

browserDescribe("hostile text from PR authors and downstreams", () => {
  const visibleText = async (page: Page, literal: string) => page.getByText(literal, { exact: false }).first().isVisible();

  for (const [name, javaScript] of [["without JavaScript", false], ["with JavaScript", true]] as const) {
    it(`shows the hostile PR page's strings as text, ${name}`, async () => {
      const { page } = await view(javaScript ? withJs : noJs, "/hud/pr/150");
      await expectNothingInjected(page);
      expect(await text(page.locator("h1"))).toBe(`PR #150: ${HOSTILE.prTitle}`);
      const tpu = box(page, "tpu");
      expect(await tpu.getAttribute("class")).toBe("box state-failing");
      expect(await text(tpu.locator("ul.jobs > li > a, ul.jobs > li > span:not(.glyph, .small)"))).toBe(`${HOSTILE.workflow} / ${HOSTILE.job}`);
      for (const literal of [HOSTILE.job, HOSTILE.workflow, HOSTILE.failedTests[0]!]) expect([literal, await visibleText(page, literal)]).toEqual([literal, true]);
      // The summary, environment and artifact URL are in the glyph's tooltip, as plain text.
      const tooltip = await tpu.locator(".glyph").getAttribute("title");
      expect(tooltip).toContain(`summary: ${HOSTILE.summary}`);
      expect(tooltip).toContain(`ran on: device=${HOSTILE.environment.device}`);
      expect(tooltip).toContain(`artifacts: ${HOSTILE.artifactUrl}`);
    });

    it(`shows the hostile job in tpu's history grid as text, ${name}`, async () => {
      const { page } = await view(javaScript ? withJs : noJs, "/hud/beta/tpu");
      await expectNothingInjected(page);
      // The header shows a short label; the full name is its tooltip and, as text, in the column legend.
      const column = `${HOSTILE.workflow} / ${HOSTILE.job}`;
      expect(await page.locator("table.grid thead th.col").evaluateAll((headers) => headers.map((header) => header.title))).toContain(column);
      expect(await texts(page.locator("details.columns dd"))).toContain(column);
      const row = page.locator("table.grid tbody tr").filter({ has: page.getByRole("link", { name: "#150", exact: true }) });
      expect(await row.locator("td.title span").getAttribute("title")).toBe(HOSTILE.prTitle);
      expect(await visibleText(page, HOSTILE.prTitle)).toBe(true);
      // javascript: as the job URL is not linked: the glyph links to the workflow run instead.
      const glyph = row.locator(".glyph.k-failure");
      expect(await glyph.getAttribute("href")).toBe("https://github.com/beta/tpu/actions/runs/1150");
      expect(await glyph.getAttribute("title")).toContain(`failed tests:\n  ${HOSTILE.failedTests.join("\n  ")}`);
    });
  }
});

browserDescribe("history grid of tpu: shard headers and pages", () => {
  it("tells the shards apart in the headers, with full names in tooltips and the legend", async () => {
    const { page } = await view(noJs, "/hud/beta/tpu");
    const headers = page.locator("table.grid thead th.col");
    const labels = await texts(headers);
    expect(new Set(labels).size).toBe(labels.length);
    const titles = await headers.evaluateAll((cells) => cells.map((cell) => cell.title));
    const shards = SHARDS.map((shard) => `pytorch-pr / ${shard}`);
    for (const shard of shards) expect(titles).toContain(shard);
    const shown = shards.map((shard) => labels[titles.indexOf(shard)]!);
    expect(shown.map((label) => /\d\/4/.exec(label)?.[0])).toEqual(["1/4", "2/4", "3/4", "4/4"]);
    // The legend opens without JavaScript and lists every column's label and full name.
    const legend = page.locator("details.columns");
    await legend.locator("summary").click();
    expect(await legend.locator("dd").first().isVisible()).toBe(true);
    expect(await texts(legend.locator("dd"))).toEqual(titles);
    expect(await texts(legend.locator("dt"))).toEqual(labels);
    // Closed again: the page is shared with other tests (and its screenshot).
    await legend.locator("summary").click();
    expect(await legend.locator("dd").first().isVisible()).toBe(false);
  });

  it("pages 50 rows at a time: Older shows the rest, Newer comes back", async () => {
    const { page } = await visit(noJs, "/hud/beta/tpu");
    const shas = () => page.locator("table.grid tbody td.sha a").evaluateAll((links) => links.map((link) => link.title));
    const first = await shas();
    expect(first).toHaveLength(50);
    expect(await page.locator("nav.pager a").allTextContents()).toEqual(["Older →"]);
    await page.getByRole("link", { name: "Older →" }).click();
    await page.waitForURL(/\/hud\/beta\/tpu\?days=7&before=\d+_\d+_[0-9a-f]{7,40}$/);
    const second = await shas();
    // PRs 101 and 150, the pushed commit trunk2 and 60 more PRs: 63 rows in the window, each on one page.
    expect(second).toHaveLength(TPU_PRS + 3 - 50);
    expect(new Set([...first, ...second]).size).toBe(TPU_PRS + 3);
    expect(await page.locator("nav.pager a").allTextContents()).toEqual(["← Newer"]);
    await page.getByRole("link", { name: "← Newer" }).click();
    await page.waitForURL(/after=/);
    expect(await shas()).toEqual(first);
  });
});

/** Every page, as named in test-results/screenshots/<name>-<width>.png. */
const PAGES: Record<string, { path: string; status?: number }> = {
  summary: { path: "/hud" },
  backend: { path: "/hud/acme/npu" },
  "backend-paged": { path: "/hud/beta/tpu" },
  "backend-webhook-only": { path: "/hud/gamma/hooks" },
  pr: { path: "/hud/pr/101" },
  trunk: { path: "/hud/trunk" },
  l4: { path: "/hud/l4" },
  health: { path: "/hud/health" },
  error: { path: "/hud/nobody/here", status: 404 },
};

browserDescribe("every page at desktop and phone width", () => {
  it("fits the screen's width (wide tables scroll in their box), runs nothing, and is screenshotted", async () => {
    // Desktop: the pages the tests above read (no script either way); phone: loaded with JavaScript on,
    // where nothing injected may exist or run.
    const widths = [
      { width: VIEWPORT.width, context: noJs },
      { width: PHONE.width, context: phone },
    ];
    await Promise.all(
      widths.flatMap(({ width, context }) =>
        Object.entries(PAGES).map(async ([name, { path: pathAndQuery, status }]) => {
          const { page } = await view(context, pathAndQuery, status);
          await expectNothingInjected(page);
          // Nothing but a scroll box may be wider than the screen: the page itself never scrolls sideways.
          expect([name, width, await page.locator("html").evaluate((html) => html.scrollWidth)]).toEqual([name, width, width]);
          await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
        }),
      ),
    );
  });
});
