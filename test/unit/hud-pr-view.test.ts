// The PR view's trunk marks (src/hud/pr-view.ts): each failed job against the latest trunk result of the
// same job of the same backend, as domain/trunk-baseline's compareWithTrunk judges it.
import { describe, expect, it } from "vitest";
import { needsTrunkBaseline, prView } from "../../src/hud/pr-view.js";
import type { JobRow, TrunkRow } from "../../src/hud/queries/rows.js";
import type { JobCell } from "../../src/hud/views.js";
import { job } from "./hud-fixtures.js";

const NPU = "acme/npu";
const TPU = "beta/tpu";

function prJob(downstreamRepo: string, cell: Partial<JobCell>): JobRow {
  return {
    downstreamRepo,
    backendName: downstreamRepo.split("/")[1]!,
    level: "L4",
    prNumber: 7,
    headSha: "prhead",
    deliveryId: "d7",
    eventType: "pull_request",
    at: 1,
    cell: job({ workflowName: "pull", conclusion: "failure", ...cell }),
  };
}

function trunkJob(downstreamRepo: string, jobName: string, conclusion: string, failedTests: string[] = []): TrunkRow {
  return {
    downstreamRepo,
    workflowName: "pull",
    jobName,
    result: { headSha: `trunk-${jobName}`, conclusion, failedTests, url: `https://ci.example/${jobName}`, dispatchedAt: 1 },
  };
}

function view(jobs: JobRow[], trunk: TrunkRow[]) {
  return prView({ upstreamRepo: "pytorch/pytorch", prNumber: 7, headSha: "prhead", shas: ["prhead"], jobs, dispatches: [], trunk, allowlist: undefined });
}

describe("trunk marks in the PR view", () => {
  const result = view(
    [
      prJob(NPU, { jobName: "same", failedTests: ["A"] }),
      prJob(NPU, { jobName: "partly", failedTests: ["A", "B"] }),
      prJob(NPU, { jobName: "new", failedTests: ["A"] }),
      prJob(NPU, { jobName: "no-trunk", failedTests: ["A"] }),
      prJob(NPU, { jobName: "running", status: "in_progress", conclusion: null }),
      prJob(NPU, { jobName: "passed", conclusion: "success" }),
      // tpu's job has the name of one of npu's, but no trunk result of its own.
      prJob(TPU, { jobName: "same", failedTests: ["A"] }),
    ],
    [
      trunkJob(NPU, "same", "failure", ["A", "Z"]),
      trunkJob(NPU, "partly", "failure", ["A"]),
      trunkJob(NPU, "new", "success"),
      trunkJob(NPU, "running", "failure"),
      trunkJob(NPU, "passed", "failure"),
    ],
  );
  const [npu, tpu] = result.gating;
  const marks = (box: typeof npu) => Object.fromEntries(box!.jobs.map((cell) => [cell.jobName, cell.trunk ?? null]));

  it("marks the same failed job and test on trunk, a new failed test, a job passing on trunk, and nothing without a trunk result", () => {
    expect(marks(npu)).toEqual({
      same: { kind: "also_on_trunk", trunkSha: "trunk-same", trunkUrl: "https://ci.example/same", tests: ["A"], newTests: [] },
      partly: { kind: "partly", trunkSha: "trunk-partly", trunkUrl: "https://ci.example/partly", tests: ["A"], newTests: ["B"] },
      new: { kind: "new", trunkSha: "trunk-new" },
      "no-trunk": null,
      // Not failed (yet, or at all): trunk's failure says nothing about them.
      running: null,
      passed: null,
    });
  });

  it("counts a box's failures that are all trunk's, and sets no count where no failure has a trunk result", () => {
    expect(npu!.trunk).toEqual({ failing: 4, alsoOnTrunk: 1 });
    expect(marks(tpu)).toEqual({ same: null });
    expect(tpu!).not.toHaveProperty("trunk");
  });

  it("reads trunk only for failed jobs", () => {
    expect([job({ conclusion: "failure" }), job({ conclusion: "timed_out" }), job({ conclusion: "cancelled" }), job(), job({ status: "in_progress", conclusion: null })].map(needsTrunkBaseline)).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
