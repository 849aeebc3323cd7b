import { describe, expect, it } from "vitest";
import { renderBackendPage } from "../../src/hud/pages/backend-page.js";
import type { PageContext } from "../../src/hud/pages/context.js";
import { renderErrorPage } from "../../src/hud/pages/error-page.js";
import { renderPrPage } from "../../src/hud/pages/pr-page.js";
import { renderSummaryPage } from "../../src/hud/pages/summary-page.js";
import { renderTrunkPage } from "../../src/hud/pages/trunk-page.js";
import { renderHealthPage } from "../../src/hud/pages/health-page.js";
import type { BackendView, PrView } from "../../src/hud/views.js";
import { backendView, ctx, healthTrendView, job, prView, rvvStats, SHAS, summaryView, trunkView } from "./hud-fixtures.js";
import { elements, parseTags, type Tag, textOf } from "./hud-markup.js";

const attrOf = (markup: string, name: string, attr: string): string[] =>
  parseTags(markup)
    .filter((tag) => tag.name === name && tag.attrs.has(attr))
    .map((tag) => tag.attrs.get(attr)!);

const hasClass = (tag: Tag, name: string) => (tag.attrs.get("class") ?? "").split(" ").includes(name);

const hrefs = (markup: string) => attrOf(markup, "a", "href");

function rowStarting(page: string, text: string): string {
  const row = elements(page, "tr").find((candidate) => textOf(candidate).startsWith(text));
  if (row === undefined) throw new Error(`no row starting with ${text}`);
  return row;
}

/** The rows of the page's (first) history grid. */
function gridRows(page: string): string[] {
  const [table] = elements(page, "table", (tag) => hasClass(tag, "grid"));
  const [tbody] = elements(table!, "tbody");
  return elements(tbody!, "tr");
}

const EVIL_TEST = `test_y[<b title="x">&</b>]`;

/** The PR view with npu's failures compared with trunk: partly (one new test), also on trunk, new. */
function trunkMarkedPrView(): PrView {
  const view = prView();
  const npu = view.gating[0]!;
  npu.jobs = [
    {
      ...npu.jobs[0]!,
      failedTests: ["test_a", "test_b", EVIL_TEST],
      trunk: { kind: "partly", trunkSha: SHAS[3]!, trunkUrl: "https://github.com/acme-ai/torch-npu-ci/actions/runs/77/job/1", tests: ["test_a", "test_b"], newTests: [EVIL_TEST] },
    },
    { ...job({ jobName: "lint", conclusion: "failure" }), trunk: { kind: "also_on_trunk", trunkSha: SHAS[3]!, tests: [], newTests: [] } },
    { ...job({ jobName: "docs", conclusion: "failure" }), trunk: { kind: "new", trunkSha: SHAS[4]! } },
  ];
  npu.trunk = { failing: 3, alsoOnTrunk: 1 };
  return view;
}

describe("every page", () => {
  const pages = {
    summary: renderSummaryPage(summaryView(), ctx),
    backend: renderBackendPage(backendView(), ctx),
    pr: renderPrPage(prView(), ctx),
    trunk: renderTrunkPage(trunkView(null), ctx),
    error: renderErrorPage(404, "no such backend", ctx),
  };

  it.each(Object.entries(pages))("%s is a well-formed, script-free, self-contained page", (_name, page) => {
    expect(page.startsWith("<!doctype html>\n<html lang=\"en\">")).toBe(true);
    const tags = parseTags(page);
    const names = tags.map((tag) => tag.name);
    expect(names.filter((name) => name === "style")).toHaveLength(1);
    expect(names).not.toContain("script");
    expect(names).not.toContain("link");
    expect(tags.some((tag) => tag.name === "meta" && tag.attrs.get("charset") === "utf-8")).toBe(true);
    expect(tags.some((tag) => tag.name === "meta" && tag.attrs.get("name") === "viewport")).toBe(true);
    // No external assets: nothing loads from anywhere.
    expect(tags.filter((tag) => tag.attrs.has("src"))).toEqual([]);
    expect(hrefs(page)).toEqual(expect.arrayContaining(["/hud", "/hud/l4", "/hud/trunk"].map((path) => expect.stringMatching(`^${path}(\\?days=\\d+)?$`))));
  });
});

describe("summary page", () => {
  const page = renderSummaryPage(summaryView(), ctx);

  it("has one section per level, in the view's order, with the level's title and requirements", () => {
    const sections = elements(page, "section");
    expect(sections.map((section) => textOf(elements(section, "h2")[0]!))).toEqual([
      "L4 merge-gating",
      "L3 check runs on PR",
      "L2 callback-only",
      "L1 webhook-only",
    ]);
    expect(textOf(elements(sections[0]!, "p")[0]!)).toBe(
      "Requirements: infra availability ≥ 95% · test pass rate ≥ 95% · timeout rate ≤ 2% · queue p50 ≤ 5m 00s · run p90 ≤ 1h 30m · window = 7 days",
    );
    expect(textOf(sections[2]!)).toContain("No requirements set for this level.");
  });

  it("lists the backends in the given order, linking to their pages, and marks one no longer allowlisted", () => {
    const rowHeaders = elements(page, "th", (tag) => tag.attrs.get("scope") === "row");
    expect(rowHeaders.map(textOf)).toEqual(["npu", "xpu", "mlu not in allowlist", "tt", "ipu", "rvv"]);
    expect(hrefs(page)).toContain("/hud/acme-ai/torch-npu-ci?days=7");
    expect(hrefs(page)).toContain("https://github.com/acme-ai/torch-npu-ci");
  });

  it("shows the formatted numbers and highlights the failing requirement with its threshold", () => {
    const npuRow = rowStarting(page, "npu ");
    const cells = elements(npuRow, "td").map(textOf);
    expect(cells).toEqual([
      "acme-ai/torch-npu-ci",
      "fails",
      "97.1%",
      "91.2% ✗",
      "90.5%",
      "0.5%",
      "4m 12s",
      "10m 10s",
      "31m 40s",
      "1h 03m",
      "1h 25m",
      "99.7%",
      "212 2 failed",
      "148",
      "3h ago",
    ]);
    const failing = parseTags(npuRow).filter((tag) => tag.name === "td" && hasClass(tag, "fail"));
    expect(failing.map((tag) => tag.attrs.get("title"))).toEqual(["requirement: min_test_pass_rate ≥ 95%"]);
    // A met requirement still says its threshold, without the highlight.
    const queue = parseTags(npuRow).filter((tag) => tag.attrs.get("title") === "requirement: max_queue_time_p50 ≤ 5m 00s");
    expect(queue).toHaveLength(1);
    expect(hasClass(queue[0]!, "fail")).toBe(false);
  });

  it("shows a webhook-only backend's callback metrics as n/a (webhook-only), never as 0", () => {
    const rvvRow = rowStarting(page, "rvv ");
    expect(textOf(rvvRow)).toBe("rvv riscv/torch-rvv no requirements n/a (webhook-only) 40 n/a n/a");
    expect(attrOf(rvvRow, "td", "colspan")).toEqual(["10"]);
  });

  it("has the range selector on its own path, the current range unlinked, and the JSON mirror", () => {
    expect(hrefs(page)).toEqual(expect.arrayContaining(["/hud?days=1", "/hud?days=30", "/api/hud/summary?days=7"]));
    expect(textOf(elements(page, "div", (tag) => hasClass(tag, "range"))[0]!)).toBe("Range: 1d 7d 30d");
    expect(parseTags(page).filter((tag) => tag.attrs.get("aria-current") === "page").map((tag) => tag.attrs.get("href"))).toEqual([
      "/hud?days=7",
    ]);
  });
});

describe("backend page", () => {
  const page = renderBackendPage(backendView(), ctx);

  it("has a header with name, level and verdict, the downstream repo and the oncalls", () => {
    expect(textOf(elements(page, "h1")[0]!)).toBe("npu L4 fails");
    expect(hrefs(page)).toEqual(
      expect.arrayContaining([
        "https://github.com/acme-ai/torch-npu-ci",
        "https://github.com/npu-oncall",
        "https://github.com/orgs/acme-ai/teams/torch-team",
        "/api/hud/backends/acme-ai/torch-npu-ci?days=7",
        "/hud/acme-ai/torch-npu-ci?days=30",
      ]),
    );
  });

  it("shows the summary cards", () => {
    const cards = elements(page, "div", (tag) => hasClass(tag, "card")).map((card) => [
      textOf(elements(card, "div", (tag) => hasClass(tag, "label"))[0]!),
      textOf(elements(card, "div", (tag) => hasClass(tag, "value"))[0]!),
    ]);
    expect(Object.fromEntries(cards)).toEqual({
      "Test pass rate": "91.2%",
      "Infra availability": "97.1%",
      PRs: "148",
      "Failures + timed out": "57 + 3",
      "Avg queue (dispatch to start)": "2m 05s",
      "Avg execution": "34m 10s",
      "Timeout rate": "0.5%",
      Dispatches: "212",
    });
  });

  it("lists the requirement checks with verdict and measured value", () => {
    const checks = elements(page, "li", (tag) => (tag.attrs.get("class") ?? "").startsWith("check-")).map(textOf);
    expect(checks).toEqual([
      "meets infra availability ≥ 95% measured 97.1%",
      "fails test pass rate ≥ 95% measured 91.2%",
      "meets timeout rate ≤ 2% measured 0.5%",
      "meets queue p50 ≤ 5m 00s measured 4m 12s",
      "meets run p90 ≤ 1h 30m measured 1h 03m",
    ]);
  });

  it("plots a point per day for the pass rate and infra availability, a bar per day for the queue and run time", () => {
    const [passRate, availability, queue, runTime] = elements(page, "svg");
    // Seven days, the fourth without data: six points, and the line breaks at the gap.
    for (const chart of [passRate!, availability!]) {
      expect(parseTags(chart).filter((tag) => tag.name === "circle")).toHaveLength(6);
      expect(parseTags(chart).filter((tag) => tag.name === "polyline")).toHaveLength(2);
    }
    expect(textOf(availability!)).toContain("2026-11-27: 90% (102 jobs)");
    for (const chart of [queue!, runTime!]) expect(parseTags(chart).filter((tag) => tag.name === "rect" && hasClass(tag, "bar"))).toHaveLength(6);
    expect(textOf(queue!)).toContain("2026-11-27: 6m 50s (102 jobs)");
    expect(textOf(runTime!)).toContain("2026-11-27: 40m 00s (102 jobs)");
  });

  it("renders the history grid: 5 rows × 3 columns, a glyph per reported job, the never-reported row marked", () => {
    const rows = gridRows(page);
    expect(rows).toHaveLength(5);
    expect(rows.map((row) => elements(row, "td", (tag) => hasClass(tag, "cell")).length)).toEqual([3, 3, 0, 3, 3]);
    const glyphs = rows.flatMap((row) => parseTags(row).filter((tag) => hasClass(tag, "glyph")));
    const kinds = glyphs.map((tag) => (tag.attrs.get("class") ?? "").replace("glyph k-", ""));
    expect(kinds).toEqual(["success", "success", "success", "success", "failure", "running", "timed_out", "infra", "cancelled", "success", "skipped", "neutral"]);
    expect(glyphs.every((tag) => tag.attrs.get("aria-label") !== undefined && tag.attrs.get("title") !== undefined)).toBe(true);

    const missing = rows[2]!;
    expect(parseTags(missing)[0]!.attrs.get("class")).toBe("missing");
    expect(attrOf(missing, "td", "colspan")).toEqual(["3"]);
    expect(textOf(missing)).toBe("11-28 22:15 c3d4e5f Fix typo in docs #140003 hud carol never reported");
  });

  it("links each row to its commit and PR and each cell to its job, with the details in the tooltip", () => {
    const row = gridRows(page)[1]!;
    expect(hrefs(row)).toEqual([
      `https://github.com/pytorch/pytorch/commit/${SHAS[1]}`,
      "https://github.com/pytorch/pytorch/pull/140002",
      `/hud/pr/140002?sha=${SHAS[1]}`,
      "https://github.com/acme-ai/torch-npu-ci/actions/runs/9001/job/1",
      "https://github.com/acme-ai/torch-npu-ci/actions/runs/9002/job/7",
      "https://github.com/acme-ai/torch-npu-ci/actions/runs/9001/job/1",
    ]);
    const failed = parseTags(row).find((tag) => hasClass(tag, "k-failure"))!;
    expect(failed.attrs.get("title")).toBe(
      [
        "pull / test (default, 1, 2)",
        "status: completed, conclusion: failure (attempt 2)",
        "duration: 25m 20s",
        "queue: 1m 05s",
        "tests: 1176/1183 passed, 7 failed, 0 skipped",
        "failure kind: test",
        "failed tests:",
        "  test/test_ops.py::TestCommonNPU::test_out_addmm_npu_float32",
        "  test/test_ops.py::TestCommonNPU::test_out_baddbmm_npu_float32",
        "  test/test_nn.py::TestNNDeviceTypeNPU::test_conv2d_npu",
        "  test/test_nn.py::TestNNDeviceTypeNPU::test_batchnorm_npu",
        "  test/test_torch.py::TestTorchNPU::test_where_npu",
        "  (+2 more)",
        "summary: 7 tests failed in test_ops.py, test_nn.py and test_torch.py. See the log for details.",
      ].join("\n"),
    );
    expect(failed.attrs.get("aria-label")).toBe("failure, attempt 2");
    // A job without a job URL links to its workflow run.
    const cancelled = parseTags(gridRows(page)[3]!).find((tag) => hasClass(tag, "k-cancelled"))!;
    expect(cancelled.attrs.get("href")).toBe("https://github.com/acme-ai/torch-npu-ci/actions/runs/9001");
  });

  it("marks a row that reported some jobs but not all next to its title", () => {
    const view = backendView();
    view.history.rows[0]!.missing = { kind: "waiting", detail: "dispatched, waiting for the first report" };
    delete view.history.rows[0]!.cells["pull / build"];
    const row = gridRows(renderBackendPage(view, ctx))[0]!;
    expect(elements(row, "td", (tag) => hasClass(tag, "cell"))).toHaveLength(3);
    expect(textOf(elements(row, "td", (tag) => hasClass(tag, "title"))[0]!)).toBe("[inductor] Fuse pointwise ops into reductions waiting");
  });

  it("reads only a row's own cells, whatever a column is called", () => {
    const view = backendView();
    view.history.columns.push("constructor", "__proto__", "toString");
    const rows = gridRows(renderBackendPage(view, ctx));
    expect(elements(rows[0]!, "td", (tag) => hasClass(tag, "cell")).map(textOf)).toEqual(["✓", "✓", "✓", "", "", ""]);
  });

  it("shows a webhook-only backend's callback metrics as n/a (webhook-only), with no charts", () => {
    const view: BackendView = { ...backendView(), health: { stats: rvvStats, checks: [], verdict: "no_data", next: null }, daily: [] };
    const l1 = renderBackendPage(view, ctx);
    const values = elements(l1, "div", (tag) => hasClass(tag, "value")).map(textOf);
    expect(values).toEqual([...Array<string>(7).fill("n/a (webhook-only)"), "40"]);
    expect(elements(l1, "svg")).toEqual([]);
  });
});

describe("PR page", () => {
  const page = renderPrPage(prView(), ctx);
  const boxes = (markup: string) => elements(markup, "section", (tag) => hasClass(tag, "box"));
  const levelOf = (box: string) => textOf(elements(box, "span", (tag) => (tag.attrs.get("class") ?? "").includes("badge level-"))[0]!);

  it("has the PR header, its GitHub links and the other heads", () => {
    expect(textOf(elements(page, "h1")[0]!)).toBe("PR #140002: Add torch.special.xlog1py for half");
    expect(hrefs(page)).toEqual(
      expect.arrayContaining([
        "https://github.com/pytorch/pytorch/pull/140002",
        `https://github.com/pytorch/pytorch/commit/${SHAS[1]}`,
        `/hud/pr/140002?sha=${SHAS[0]}`,
        "/api/hud/pr/140002",
      ]),
    );
    // The head shown is not a link to itself.
    expect(hrefs(page)).not.toContain(`/hud/pr/140002?sha=${SHAS[1]}`);
    expect(textOf(elements(page, "p", (tag) => hasClass(tag, "shas"))[0]!)).toBe("Heads (newest first): b2c3d4e a1b2c3d");
    expect(page).not.toContain("Range:");
  });

  it("shows one box per backend with its own level badge, and marks the one not reporting", () => {
    const all = boxes(page);
    expect(all.map(levelOf)).toEqual(["L4", "L4", "L3", "L2"]);
    expect(all.map((box) => parseTags(box)[0]!.attrs.get("class"))).toEqual([
      "box state-failing",
      "box state-missing",
      "box state-passed",
      "box state-passed",
    ]);
    expect(textOf(all[1]!)).toBe(
      "xpu L4 expected, not reporting intel/torch-xpu-ci never reported : dispatched, but no job started before the start timeout (infrastructure failure)",
    );
    expect(textOf(page)).toContain("HUD only (L2)");
  });

  it("explains a missing box by its kind, with a detail that does not repeat it", () => {
    const view = prView();
    view.gating[1]!.missing = { kind: "not_dispatched", detail: "no dispatch recorded for this commit" };
    const box = boxes(renderPrPage(view, ctx))[1]!;
    expect(elements(box, "p").map(textOf)).toEqual(["not dispatched : no dispatch recorded for this commit"]);
  });

  it("lists a box's jobs in the given order with glyph, duration, test counts and link", () => {
    const jobs = elements(boxes(page)[0]!, "li").map(textOf);
    expect(jobs).toEqual([
      "✗ pull / test (default, 1, 2) 25m 20s · 1176/1183 passed, 7 failed, 0 skipped test/test_ops.py::TestCommonNPU::test_out_addmm_npu_float32 test/test_ops.py::TestCommonNPU::test_out_baddbmm_npu_float32 test/test_nn.py::TestNNDeviceTypeNPU::test_conv2d_npu",
      "◷ pull / test (default, 2, 2) running",
      "✓ pull / build 25m 20s",
    ]);
    expect(hrefs(boxes(page)[0]!)).toContain("https://github.com/acme-ai/torch-npu-ci/actions/runs/9001/job/1");
  });

  it("marks failures also failing on trunk or new, links the trunk commit, and lists new failed tests first, escaped", () => {
    const box = boxes(renderPrPage(trunkMarkedPrView(), ctx))[0]!;
    expect(elements(box, "p").map(textOf)).toEqual(["1 of 3 failures also on trunk"]);
    expect(elements(box, "li").map(textOf)).toEqual([
      `✗ pull / test (default, 1, 2) 25m 20s · 1176/1183 passed, 7 failed, 0 skipped also failing on trunk d4e5f60 ( trunk job ), 1 new failed test ${EVIL_TEST} new test_a test_b`,
      "✗ pull / lint 25m 20s also failing on trunk d4e5f60",
      "✗ pull / docs 25m 20s new failure passes on trunk e5f6071",
    ]);
    // Besides the PR's own jobs (run 9001): the trunk commits and the trunk job that was compared.
    expect(hrefs(box).filter((href) => !href.includes("/runs/9001/"))).toEqual([
      "/hud/acme-ai/torch-npu-ci",
      `https://github.com/pytorch/pytorch/commit/${SHAS[3]}`,
      "https://github.com/acme-ai/torch-npu-ci/actions/runs/77/job/1",
      `https://github.com/pytorch/pytorch/commit/${SHAS[3]}`,
      `https://github.com/pytorch/pytorch/commit/${SHAS[4]}`,
    ]);
    expect(box).toContain("test_y[&lt;b title=&quot;x&quot;&gt;&amp;&lt;/b&gt;]");
    expect(parseTags(box).map((tag) => tag.name)).not.toContain("b");
  });

  it("never replaces a level it does not know with a default", () => {
    const view = prView();
    view.gating[2]!.level = "L5";
    const box = boxes(renderPrPage(view, ctx))[2]!;
    expect(levelOf(box)).toBe("L5");
    expect(box).toContain("badge level-other");
  });

  it("says so when no out-of-tree CI was recorded, and links the JSON of an older head it shows", () => {
    const none: PrView = { ...prView(), headSha: null, shas: [], gating: [], hudOnly: [] };
    const empty = renderPrPage(none, ctx);
    expect(textOf(empty)).toContain("No out-of-tree CI has been recorded for this PR.");
    expect(textOf(empty)).not.toContain("Out-of-Tree Backends");

    const older = renderPrPage({ ...prView(), headSha: SHAS[0]!, hudOnly: [] }, ctx);
    expect(hrefs(older)).toContain(`/api/hud/pr/140002?sha=${SHAS[0]}`);
    expect(hrefs(older)).toContain(`/hud/pr/140002?sha=${SHAS[1]}`);
    expect(textOf(older)).not.toContain("HUD only");
  });
});

describe("trunk and L4 pages", () => {
  it("titles the L4 view as the merge-gating main view and links its JSON with the level", () => {
    const page = renderTrunkPage(trunkView("L4"), ctx);
    expect(textOf(elements(page, "h1")[0]!)).toBe("Merge-gating backends on trunk");
    expect(textOf(elements(page, "title")[0]!)).toBe("Merge-gating backends on trunk · Out-of-tree CI HUD");
    expect(hrefs(page)).toEqual(expect.arrayContaining(["/api/hud/trunk?days=7&level=L4", "/hud/l4?days=1", "/hud/l4?days=30"]));
    const current = parseTags(page).filter((tag) => tag.attrs.get("aria-current") === "page");
    expect(current.map((tag) => tag.attrs.get("href"))).toEqual(["/hud/l4?days=7"]);
  });

  it("uses the shared grid with backend-prefixed columns", () => {
    const page = renderTrunkPage(trunkView(null), ctx);
    expect(textOf(elements(page, "h1")[0]!)).toBe("Trunk");
    expect(hrefs(page)).toContain("/api/hud/trunk?days=7");
    expect(attrOf(page, "th", "title")).toEqual(["npu · pull / build", "npu · pull / test (default, 1, 2)", "npu · pull / test (default, 2, 2)"]);
    expect(gridRows(page).map((row) => elements(row, "td", (tag) => hasClass(tag, "cell")).length)).toEqual([3, 3, 0, 3, 3]);
  });

  it("says so when there are no runs in the window", () => {
    const page = renderTrunkPage({ ...trunkView(null), history: { columns: [], rows: [], page: { newer: null, older: null } } }, ctx);
    expect(textOf(page)).toContain("No runs in this window.");
    expect(elements(page, "table")).toEqual([]);
  });
});

describe("history grid headers and pages", () => {
  const page = renderBackendPage(backendView(), ctx);
  const headers = (markup: string) => parseTags(markup).filter((tag) => tag.name === "th" && hasClass(tag, "col"));

  it("shows short, distinct column headers with the full name as the tooltip and in the column legend", () => {
    const [grid] = elements(page, "table", (tag) => hasClass(tag, "grid"));
    expect(elements(grid!, "th", (tag) => hasClass(tag, "col")).map(textOf)).toEqual(["build", "test (default, 1, 2)", "test (default, 2, 2)"]);
    expect(headers(page).map((tag) => tag.attrs.get("title"))).toEqual(["pull / build", "pull / test (default, 1, 2)", "pull / test (default, 2, 2)"]);
    const [legend] = elements(page, "details", (tag) => hasClass(tag, "columns"));
    expect(textOf(elements(legend!, "summary")[0]!)).toBe("Column names (all start with pull / )");
    expect(elements(legend!, "div").map(textOf)).toEqual([
      "build pull / build",
      "test (default, 1, 2) pull / test (default, 1, 2)",
      "test (default, 2, 2) pull / test (default, 2, 2)",
    ]);
  });

  it("has no column legend when every header shows its whole name", () => {
    const view = backendView();
    view.history.columns = ["ci / build", "nightly / test"];
    expect(elements(renderBackendPage(view, ctx), "details")).toEqual([]);
  });

  it("links the older and newer pages of the same window, and none when the window fits one page", () => {
    expect(elements(page, "nav", (tag) => hasClass(tag, "pager"))).toEqual([]);
    const view = backendView();
    view.history.page = { newer: "1764410400000_140001_a1b2", older: `1764353700000_140004_${SHAS[4]}` };
    const pager = elements(renderBackendPage(view, ctx), "nav", (tag) => hasClass(tag, "pager"))[0]!;
    expect(textOf(pager)).toBe("← Newer Older →");
    expect(hrefs(pager)).toEqual([
      "/hud/acme-ai/torch-npu-ci?days=7&after=1764410400000_140001_a1b2",
      `/hud/acme-ai/torch-npu-ci?days=7&before=1764353700000_140004_${SHAS[4]}`,
    ]);
    // The trunk page of one level keeps its level in its page links and its range selector.
    const trunk = trunkView("L3");
    trunk.history.page = { newer: null, older: "5_0_abc" };
    const trunkPage = renderTrunkPage(trunk, ctx);
    expect(hrefs(elements(trunkPage, "nav", (tag) => hasClass(tag, "pager"))[0]!)).toEqual(["/hud/trunk?days=7&level=L3&before=5_0_abc"]);
    expect(hrefs(trunkPage)).toContain("/hud/trunk?level=L3&days=30");
  });
});

describe("repo names", () => {
  // The allowlist says Acme-AI/Torch-NPU-CI; the views carry the data's lower-case key.
  const spelled: PageContext = { ...ctx, repoName: (repo) => (repo.toLowerCase() === "acme-ai/torch-npu-ci" ? "Acme-AI/Torch-NPU-CI" : repo) };
  const mentions = (markup: string) => [...markup.matchAll(/acme-ai\/torch-npu-ci(?!\/actions)/gi)].map((match) => match[0]);

  it.each([
    ["summary", renderSummaryPage(summaryView(), spelled)],
    ["backend", renderBackendPage(backendView(), spelled)],
    ["PR", renderPrPage(prView(), spelled)],
    ["health", renderHealthPage(healthTrendView(), spelled)],
  ])("%s page writes a repo one way, in text and links: the allowlist's", (_name, page) => {
    expect(mentions(page).length).toBeGreaterThan(0);
    expect(new Set(mentions(page))).toEqual(new Set(["Acme-AI/Torch-NPU-CI"]));
  });
});

describe("verdicts without requirements", () => {
  it("says no requirements, not meets, where a level sets none", () => {
    const view: BackendView = { ...backendView(), health: { ...backendView().health, checks: [], verdict: "meets" } };
    const page = renderBackendPage(view, ctx);
    expect(textOf(elements(page, "h1")[0]!)).toBe("npu L4 no requirements");
    expect(textOf(page)).toContain("No requirements set for this level.");
    const trend = healthTrendView();
    trend.backends[0]!.weeks[0] = { ...trend.backends[0]!.weeks[0]!, checks: [] };
    trend.backends[0]!.weeks[1] = { ...trend.backends[0]!.weeks[1]!, checks: [], verdict: "no_data" };
    expect(textOf(elements(renderHealthPage(trend, ctx), "tr")[1]!)).toBe("npu L4 no requirements 96% pass · 97% avail no data 91.2% pass · 97% avail —");
  });
});

describe("error page", () => {
  it("shows the status and message, and links back to the summary", () => {
    const page = renderErrorPage(503, "ClickHouse is unavailable", { ...ctx, days: 30 });
    expect(textOf(elements(page, "h1")[0]!)).toBe("503 Service Unavailable");
    expect(textOf(page)).toContain("ClickHouse is unavailable");
    expect(hrefs(page)).toContain("/hud?days=30");
    expect(textOf(page)).not.toContain("JSON");
    expect(textOf(elements(renderErrorPage(599, "x", ctx), "h1")[0]!)).toBe("599 Error");
  });
});

describe("untrusted text and URLs", () => {
  const PAYLOAD = `<script>alert(1)</script>"><img src=x onerror=alert(1)>'&`;
  const BAD_URLS = ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>"];
  /** Fields the relay's own code fills from fixed sets (the zod-checked enums), left as they are. */
  const ENUMS = new Set(["verdict", "next", "status", "state", "requirement", "kind"]);
  let urlCount = 0;

  /** Every string in the view gets the payload (map keys of `cells` too, so columns still match); URLs become script URLs. */
  function poison<T>(value: T, key = ""): T {
    if (typeof value === "string") {
      if (key === "jobUrl" || key === "workflowUrl" || key === "trunkUrl") return BAD_URLS[urlCount++ % BAD_URLS.length] as T;
      return (ENUMS.has(key) ? value : `${value}${PAYLOAD}`) as T;
    }
    if (Array.isArray(value)) return value.map((item: unknown) => poison(item, key)) as T;
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).map(([name, item]) => [key === "cells" ? poison(name) : name, poison(item, name)]),
      ) as T;
    }
    return value;
  }

  function expectInert(page: string): void {
    const tags = parseTags(page); // throws on any `<` that is not one of the page's own tags
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    // onerror= appears only inside the escaped payload text.
    expect(page.replaceAll("&lt;img src=x onerror=alert(1)&gt;", "")).not.toContain("onerror=");
    for (const tag of tags) {
      for (const [name, value] of tag.attrs) {
        expect(name).not.toMatch(/^on/);
        if (name === "href") expect(value).toMatch(/^(https?:\/\/|\/(?!\/))/);
      }
    }
  }

  const evilBackend = poison(backendView());
  const pages: Record<string, string> = {
    summary: renderSummaryPage(poison(summaryView()), ctx),
    backend: renderBackendPage(evilBackend, ctx),
    "webhook-only backend": renderBackendPage(
      { ...evilBackend, health: { ...evilBackend.health, stats: { ...poison(rvvStats), level: "L1" } } },
      ctx,
    ),
    pr: renderPrPage(poison(prView()), ctx),
    "pr with trunk marks": renderPrPage(poison(trunkMarkedPrView()), ctx),
    trunk: renderTrunkPage(poison(trunkView("L4")), ctx),
    health: renderHealthPage(poison(healthTrendView()), ctx),
    error: renderErrorPage(400, `bad range ${PAYLOAD}`, ctx),
  };

  it.each(Object.entries(pages))("%s escapes every value and links no script URL", (_name, page) => {
    expectInert(page);
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&#39;&amp;");
  });

  it("shows a script URL as plain text, not as a link", () => {
    const row = gridRows(pages.backend!)[1]!;
    const glyphs = parseTags(row).filter((tag) => hasClass(tag, "glyph"));
    expect(glyphs.map((tag) => [tag.name, tag.attrs.has("href")])).toEqual([
      ["span", false],
      ["span", false],
      ["span", false],
    ]);
    expect(hrefs(pages.pr!).filter((href) => href.includes("actions/runs"))).toEqual([]);
  });

  it("does not link GitHub when the configured web base URL is not http(s)", () => {
    const evilCtx: PageContext = { ...ctx, webBaseUrl: "javascript:alert(1)//", upstreamRepo: `pytorch/pytorch${PAYLOAD}` };
    for (const page of [renderBackendPage(backendView(), evilCtx), renderPrPage(prView(), evilCtx), renderSummaryPage(summaryView(), evilCtx)]) {
      expectInert(page);
      // Only the relay's own pages and the downstreams' (valid) job URLs are still links.
      expect(hrefs(page).filter((href) => !href.startsWith("/") && !href.includes("/actions/runs/"))).toEqual([]);
      expect(textOf(page)).toContain("acme-ai/torch-npu-ci");
    }
  });
});

describe("health page", () => {
  const page = renderHealthPage(healthTrendView(), ctx);

  it("shows each backend's verdict per week, oldest first, with pass rate and availability, and the next level", () => {
    const rows = elements(page, "tr").slice(1).map(textOf);
    expect(rows).toEqual([
      "npu L4 meets 96% pass · 97% avail fails 91.2% pass · 97% avail —",
      "tt L3 meets 93% pass · 97% avail meets 93% pass · 97% avail L4 fails",
    ]);
    // The failing week is highlighted; every figure is in the week's tooltip.
    const cells = parseTags(page).filter((tag) => tag.name === "td" && tag.attrs.has("title"));
    expect(cells.filter((tag) => hasClass(tag, "fail"))).toHaveLength(1);
    expect(cells[1]!.attrs.get("title")).toBe(
      "infra availability 97% · test pass rate 91.2% · queue p90 10m 10s · PR time p90 1h 25m · signal validity 99.7% · 320 jobs, 106 dispatches",
    );
    expect(hrefs(page)).toEqual(expect.arrayContaining(["/hud/acme-ai/torch-npu-ci", "/api/hud/health/weekly?weeks=2"]));
  });
});
