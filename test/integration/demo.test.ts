// `npm run demo` end to end: runDemo drives the relay (embedded stores), the GitHub stand-in and two
// simulated downstream backends over two weeks of backdated history, and must leave dispatches, check runs
// and HUD rows behind, with something on every HUD page.
import { expect, it } from "vitest";
import { browserHint, runDemo } from "../../dev/demo.js";

it("dispatches to each backend, turns their reports into check runs and fills every HUD page", { timeout: 60_000 }, async () => {
  const lines: string[] = [];
  const demo = await runDemo({ print: (line) => lines.push(line) });

  expect(demo.dispatches.map((dispatch) => [dispatch.repo, dispatch.payload.backend.name, dispatch.payload.backend.level]).sort()).toEqual([
    ["demo-npu/torch-npu", "npu", "L3"],
    ["demo-tpu/tpu-backend", "tpu", "L4"],
  ]);
  for (const { eventType, payload } of demo.dispatches) {
    expect(eventType).toBe("pytorch-pr-trigger");
    expect(payload).toMatchObject({ event: { name: "pull_request", action: "opened" }, pr_number: demo.prNumber, callback_url: `${demo.relayUrl}/relay/callback` });
  }

  // Each simulated downstream ends its run with a run-level report (scope run), as the reference workflow's
  // report-run job does: only then do the aggregates conclude.
  expect(lines.filter((line) => line.includes(" report-run ")).map((line) => line.trim().split(/\s+/).slice(0, 5).join(" ")).sort()).toEqual([
    "demo-npu/torch-npu report-run run over, failure",
    "demo-tpu/tpu-backend report-run run over, success",
  ]);
  expect(demo.checkRuns.map((run) => [run.name, run.status, run.conclusion])).toEqual([
    ["oot / npu", "completed", "failure"],
    ["oot / npu / pytorch-pr / test (npu, 1/2)", "completed", "success"],
    ["oot / npu / pytorch-pr / test (npu, 2/2)", "completed", "failure"],
    ["oot / tpu", "completed", "success"],
    ["oot / tpu / pytorch-pr / test (tpu, 1/1)", "completed", "success"],
  ]);
  expect(demo.checkRuns.find((run) => run.name.endsWith("(npu, 2/2)"))?.title).toBe("failure — 771 passed, 2 failed, 25 skipped");

  // HUD (src/hud/): runDemo only gets here once GET /api/hud/pr/<n> shows every reported job completed.
  expect(demo.hud.pr.gating.flatMap((box) => box.jobs.map((job) => `${box.backendName} (${box.level}) / ${job.jobName} ${job.conclusion}`))).toEqual([
    "tpu (L4) / test (tpu, 1/1) success",
    "npu (L3) / test (npu, 2/2) failure",
    "npu (L3) / test (npu, 1/2) success",
  ]);
  expect(demo.hud.pr.hudOnly).toEqual([]);
  // Its failure is new: the same job passed on the pushed commit.
  expect(demo.hud.pr.gating[1]!.jobs[0]!.trunk).toEqual({ kind: "new", trunkSha: demo.pushDispatches[0]!.payload.head_sha });

  // The push to the default branch went to both backends as a trunk event.
  expect(demo.pushDispatches.map((dispatch) => [dispatch.repo, dispatch.payload.event.name, dispatch.payload.pr_number]).sort()).toEqual([
    ["demo-npu/torch-npu", "push", null],
    ["demo-tpu/tpu-backend", "push", null],
  ]);
  expect(demo.history).toEqual({ prs: 42, pushes: 28, jobs: 202 });

  const pages = ["/hud", "/hud/l4", "/hud/trunk", "/hud/health", "/hud/demo-npu/torch-npu", "/hud/demo-tpu/tpu-backend", `/hud/pr/${demo.prNumber}`];
  expect(demo.hud.urls).toEqual(pages.map((page) => `${demo.relayUrl}${page}`));
  const html = Object.fromEntries(demo.hud.pages.map(({ url, html: page }) => [url.slice(demo.relayUrl.length), page]));
  // Every page has data: no "nothing yet" note, no empty chart, no backend without figures.
  for (const page of pages) expect([page, html[page]!.match(/class="[^"]*\bempty\b[^"]*"[^>]*>[^<]*/g)]).toEqual([page, null]);
  const gridRows = (page: string) => (html[page]!.match(/<tr[ >]/g) ?? []).length - 1;
  // Trunk: the live push and the week's 14 backdated ones; L4: the same commits, tpu's jobs only.
  expect([gridRows("/hud/trunk"), gridRows("/hud/l4")]).toEqual([15, 15]);
  expect(html["/hud/l4"]).toContain('title="tpu · pytorch-pr / test (tpu, 1/1)"');
  for (const backend of ["/hud/demo-npu/torch-npu", "/hud/demo-tpu/tpu-backend"]) {
    // Four charts with a point or bar on every day of the week, and the week's PR heads and commits.
    expect(html[backend]!.match(/<(circle|rect) class="(point|bar)"/g)?.length).toBeGreaterThanOrEqual(4 * 7);
    expect(gridRows(backend)).toBeGreaterThanOrEqual(30);
  }
  // Both weeks judged for both backends, against their level's requirements.
  const verdicts = html["/hud/health"]!.match(/badge verdict-(meets|fails)/g) ?? [];
  expect(verdicts.length).toBeGreaterThanOrEqual(4);
  expect(html["/hud"]).not.toContain("no requirements");

  // The relay has stopped: no URL is printed that would not open, only how to keep it running.
  for (const url of demo.hud.urls) expect(lines).not.toContain(`     ${url}`);
  expect(lines).toContain("   Run `npm run demo -- --serve` to keep the relay running and open these pages in a browser.");
});

it("prints every page's URL when the relay keeps running (--serve)", () => {
  const urls = ["http://127.0.0.1:1/hud", "http://127.0.0.1:1/hud/l4"];
  expect(browserHint(urls, true)).toEqual(["   Open in a browser:", "     http://127.0.0.1:1/hud", "     http://127.0.0.1:1/hud/l4"]);
  expect(browserHint(urls, false)).toEqual(["   Run `npm run demo -- --serve` to keep the relay running and open these pages in a browser."]);
});
