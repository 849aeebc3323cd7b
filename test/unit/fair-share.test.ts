import { describe, expect, it } from "vitest";
import { aggregateCheckKey } from "../../src/checks/aggregate.js";
import { FairShare, fairShareLane } from "../../src/dispatch/fair-share.js";
import type { OutboxTask } from "../../src/store/store.js";

const SHA = "a".repeat(40);
let nextId = 1;

function checkRun(backend: string, status: string, job?: string, installation = "1"): OutboxTask & { installation: string } {
  const aggregate = aggregateCheckKey("pytorch/pytorch", backend, SHA);
  return {
    id: nextId++,
    key: job ? `${aggregate}:ci/${job}` : aggregate,
    kind: "check_run",
    repo: "pytorch/pytorch",
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { status } },
    version: 0,
    attempts: 0,
    createdAt: 0,
    nextAttemptAt: 0,
    installation,
  };
}

const installationOf = (task: OutboxTask) => (task as OutboxTask & { installation: string }).installation;
/** "a" for backend a's aggregate, "a:ci/j1" for its job j1. */
const names = (tasks: OutboxTask[]) => tasks.map((task) => task.key.replace("check:pytorch/pytorch:", "").replace(`:${SHA}`, ""));

describe("fairShareLane", () => {
  it("is the backend of a check run (aggregate or job) and the downstream repo of a dispatch", () => {
    expect(fairShareLane(checkRun("NPU", "queued"))).toBe("backend:npu");
    expect(fairShareLane(checkRun("npu", "completed", "test"))).toBe("backend:npu");
    expect(fairShareLane({ ...checkRun("x", "queued"), kind: "dispatch", key: "dispatch:d1:Acme/NPU", repo: "Acme/NPU" })).toBe("repo:acme/npu");
  });
});

describe("FairShare", () => {
  it("interleaves one installation's backends instead of serving one backend's burst first", () => {
    const burst = Array.from({ length: 4 }, (_, index) => checkRun("a", "completed", `job-${index}`));
    const due = [...burst, checkRun("b", "completed")];
    expect(names(new FairShare().order(due, installationOf))).toEqual(["a:ci/job-0", "b", "a:ci/job-1", "a:ci/job-2", "a:ci/job-3"]);
  });

  it("starts after the backend served last, so one slot at a time still alternates", () => {
    const share = new FairShare();
    const a = [checkRun("a", "completed", "j1"), checkRun("a", "completed", "j2")];
    const b = checkRun("b", "completed");
    const first = share.order([...a, b], installationOf)[0]!;
    share.served("1", first);
    expect(names(share.order([...a.filter((task) => task !== first), b], installationOf))[0]).toBe("b");
    share.served("1", b);
    expect(names(share.order(a.filter((task) => task !== first), installationOf))).toEqual(["a:ci/j2"]);
  });

  it("puts a backend's final states before its intermediate ones", () => {
    const due = [checkRun("a", "in_progress", "slow"), checkRun("a", "queued"), checkRun("a", "completed", "done")];
    expect(names(new FairShare().order(due, installationOf))).toEqual(["a:ci/done", "a:ci/slow", "a"]);
  });

  it("keeps each installation in its places, reordering only within it", () => {
    const due = [checkRun("a", "completed", "1", "up"), checkRun("x", "completed", undefined, "down"), checkRun("a", "completed", "2", "up"), checkRun("b", "completed", undefined, "up")];
    const ordered = new FairShare().order(due, installationOf);
    expect(ordered.map(installationOf)).toEqual(["up", "down", "up", "up"]);
    expect(names(ordered)).toEqual(["a:ci/1", "x", "b", "a:ci/2"]);
  });
});
