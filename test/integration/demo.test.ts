// `npm run demo` end to end: runDemo drives the relay (embedded stores), the GitHub stand-in and two
// simulated downstream backends, and must leave dispatches, check runs and HUD rows behind.
import { expect, it } from "vitest";
import { runDemo } from "../../dev/demo.js";

it("dispatches to each backend, turns their reports into check runs and points at the HUD", { timeout: 60_000 }, async () => {
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
  const hudUrls = [`${demo.relayUrl}/hud`, `${demo.relayUrl}/hud/demo-npu/torch-npu`, `${demo.relayUrl}/hud/demo-tpu/tpu-backend`, `${demo.relayUrl}/hud/pr/${demo.prNumber}`];
  expect(demo.hud.urls).toEqual(hudUrls);
  // The relay has stopped: no URL is printed that would not open, only how to keep it running.
  for (const url of hudUrls) expect(lines).not.toContain(`     ${url}`);
  expect(lines).toContain("   Run `npm run demo -- --serve` to keep the relay running and open these pages in a browser.");
});
