// The merge gate of a head as a pure function of the facts (src/gate/gate-view.ts): no store, no network.
import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import type { DesiredCheckSettings } from "../../src/checks/desired.js";
import type { HeadFacts } from "../../src/domain/heads.js";
import { countAttempt, NO_JOBS, type LatestAttempt } from "../../src/domain/jobs.js";
import { gateView, type GateBackendFacts } from "../../src/gate/gate-view.js";
import { GateViewSchema } from "../../src/gate/schema.js";

const SHA = "a".repeat(40);
const ALLOWLIST = `
L1:
  - acme/l1-backend
L3:
  npu:
    acme/npu-backend: [npu-oncall]
L4:
  - acme/tpu-backend:
      name: tpu
      oncalls: "@tpu-oncall"
  - acme/gpu-backend:
      name: gpu
      oncalls: "@gpu-oncall"
      block_pr: false
`;

function allowlist(): Allowlist {
  const parsed = parseAllowlist(ALLOWLIST);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  return parsed.allowlist;
}

const settings: DesiredCheckSettings = {
  checkPrefix: "oot",
  maxJobChecksPerBackend: 50,
  publicUrl: "https://relay.example",
  labelPrefix: "ciflow/oot/",
  webBaseUrl: "https://github.example",
  startTimeoutMs: 30 * 60_000,
  runEndWaitMs: 30 * 60_000,
};

const head = (labels: string[] = []): HeadFacts => ({ upstreamRepo: "pytorch/pytorch", headSha: SHA, prNumber: 5, state: "open", labels, stateChangedAt: 1 });

/** `repo` dispatched with one job of `conclusion`, its run over by report. */
function failedOn(repo: string, name: string, conclusion: string): GateBackendFacts {
  const attempt: LatestAttempt = { deliveryId: "d1", downstreamRepo: repo, runId: 9, runAttempt: 1, jobName: "test", prNumber: 5, workflowName: "ci", status: "completed", conclusion, updatedAt: 1, seq: 0 };
  return {
    backend: {
      upstreamRepo: "pytorch/pytorch",
      headSha: SHA,
      backendName: name,
      level: "L4",
      downstreamRepo: repo,
      deliveryId: "d1",
      dispatchOutcome: "sent",
      counts: countAttempt(NO_JOBS, undefined, attempt),
      newest: attempt,
      nextSeq: 1,
      runs: [{ runId: 9, runAttempt: 1, reported: { conclusion }, jobs: [], untrackedJobs: 0, settled: "report" }],
    },
    listed: [attempt],
  };
}

describe("gateView", () => {
  it("blocks on a blocking backend never dispatched; leaves out L1 and an L3 backend without its label", () => {
    const view = gateView({ head: head(), allowlist: allowlist(), backends: new Map(), settings });
    expect(GateViewSchema.parse(view)).toEqual(view);
    expect(view.verdict).toBe("blocked");
    expect(view.blocking).toEqual([
      { name: "tpu", downstreamRepo: "acme/tpu-backend", level: "L4", blocksMerge: true, state: "not_dispatched", conclusion: null, title: null, checkRunName: "oot / tpu", failedJobs: [] },
    ]);
    // gpu is L4 but does not block (block_pr: false): shown, not blocking, and not failed.
    expect(view.backends.map((backend) => [backend.name, backend.state])).toEqual([
      ["tpu", "not_dispatched"],
      ["gpu", "not_dispatched"],
    ]);
    expect(view.nonBlockingFailures).toEqual([]);
  });

  it("a failure of a non-blocking backend is listed apart and never blocks; a labelled L3 backend counts", () => {
    const backends = new Map([
      ["acme/tpu-backend", failedOn("acme/tpu-backend", "tpu", "success")],
      ["acme/gpu-backend", failedOn("acme/gpu-backend", "gpu", "failure")],
      ["acme/npu-backend", failedOn("acme/npu-backend", "npu", "timed_out")],
    ]);
    const view = gateView({ head: head(["ciflow/oot/npu"]), allowlist: allowlist(), backends, settings });
    expect(view.verdict).toBe("clear");
    // Blocking backends first, then in the allowlist's order.
    expect(view.backends.map((backend) => backend.name)).toEqual(["tpu", "npu", "gpu"]);
    expect(view.nonBlockingFailures.map((backend) => [backend.name, backend.conclusion])).toEqual([
      ["npu", "timed_out"],
      ["gpu", "failure"],
    ]);
    expect(view.nonBlockingFailures[0]!.failedJobs).toEqual([{ workflowName: "ci", jobName: "test", conclusion: "timed_out", alsoOnTrunk: null, trunkSha: null }]);
    // Without its label the L3 backend's results are not on the PR, so not in the gate either.
    expect(gateView({ head: head(), allowlist: allowlist(), backends, settings }).backends.map((backend) => backend.name)).toEqual(["tpu", "gpu"]);
  });
});
