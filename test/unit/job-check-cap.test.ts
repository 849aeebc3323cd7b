import { describe, expect, it } from "vitest";
import { aggregateRequest, checkContext, hasOwnCheckRun, jobsWithCheckRuns } from "../../src/checks/job-checks.js";
import type { StoredJob } from "../../src/store/store.js";

const SHA = "a".repeat(40);
const entry = { repo: "acme/npu-backend", name: "npu", level: "L4" as const, policy: { block_pr: false } } as Parameters<typeof checkContext>[0];
const settings = (maxJobChecksPerBackend: number) => ({ checkPrefix: "oot", publicUrl: "https://relay.example", maxJobChecksPerBackend });

function job(jobName: string, fields: Partial<StoredJob> = {}): StoredJob {
  return {
    deliveryId: "d1",
    downstreamRepo: "acme/npu-backend",
    runId: 9,
    runAttempt: 1,
    jobName,
    upstreamRepo: "pytorch/pytorch",
    prNumber: 5,
    headSha: SHA,
    backendName: "npu",
    level: "L4",
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    fingerprint: jobName,
    report: {},
    updatedAt: 0,
    ...fields,
  };
}

const summaryOf = (request: { params: Record<string, unknown> }) => (request.params.output as { summary: string }).summary;

describe("job check-run cap", () => {
  const jobs = Array.from({ length: 5 }, (_, index) => job(`test-${index}`));

  it("gives the first jobs to report a check run of their own, up to the cap", () => {
    const context = checkContext(entry, "pytorch/pytorch", SHA, settings(3));
    expect(jobsWithCheckRuns(context, jobs).map((shown) => shown.jobName)).toEqual(["test-0", "test-1", "test-2"]);
    expect(hasOwnCheckRun(context, jobs, job("test-3"))).toBe(false);
    expect(hasOwnCheckRun(context, jobs.slice(0, 2), job("test-new"))).toBe(true);
  });

  it("keeps a shown job shown through its later states and re-run attempts", () => {
    const context = checkContext(entry, "pytorch/pytorch", SHA, settings(2));
    const running = [job("first", { status: "in_progress" }), job("second"), job("third")];
    expect(hasOwnCheckRun(context, running, job("first"))).toBe(true);
    expect(hasOwnCheckRun(context, running, job("first", { runAttempt: 2 }))).toBe(true);
    expect(hasOwnCheckRun(context, running, job("third", { runAttempt: 2 }))).toBe(false);
  });

  it("shows no job check runs at all with a cap of 0", () => {
    const context = checkContext(entry, "pytorch/pytorch", SHA, settings(0));
    expect(jobsWithCheckRuns(context, jobs)).toEqual([]);
  });

  it("still counts the jobs past the cap in the aggregate, and says where to see them", () => {
    const failed = [...jobs, job("late", { conclusion: "failure" })];
    const request = aggregateRequest(checkContext(entry, "pytorch/pytorch", SHA, settings(3)), failed, "https://ci.example");
    expect(request.params).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "5 of 6 jobs passed" } });
    expect(summaryOf(request)).toContain("3 more jobs not shown as check runs; see the HUD: https://relay.example/hud/acme/npu-backend");
    expect(summaryOf(request)).toContain("| ci / late | failure | 1 |");
    expect(summaryOf(aggregateRequest(checkContext(entry, "pytorch/pytorch", SHA, settings(50)), failed, "https://ci.example"))).not.toContain("not shown");
  });
});

describe("aggregate job list", () => {
  const context = checkContext(entry, "pytorch/pytorch", SHA, settings(50));
  const tableRows = (request: { params: Record<string, unknown> }) => summaryOf(request).split("\n").filter((line) => line.startsWith("| ci / "));

  it("lists every job up to 50", () => {
    const jobs = Array.from({ length: 50 }, (_, index) => job(`test-${index}`));
    const request = aggregateRequest(context, jobs, "https://ci.example");
    expect(tableRows(request)).toHaveLength(50);
    expect(summaryOf(request)).not.toContain("more job");
  });

  it("lists at most 50 jobs, those that did not pass first, in stored order, and counts every job", () => {
    const jobs = Array.from({ length: 300 }, (_, index) =>
      job(`test-${index}`, index % 100 === 99 ? { conclusion: "failure" } : index === 150 ? { status: "in_progress" } : {}),
    );
    const request = aggregateRequest(context, jobs, "https://ci.example");
    const rows = tableRows(request);
    expect(rows).toHaveLength(50);
    expect(rows.slice(0, 4)).toEqual(["| ci / test-0 | success | 1 |", "| ci / test-1 | success | 1 |", "| ci / test-2 | success | 1 |", "| ci / test-3 | success | 1 |"]);
    expect(rows).toEqual(expect.arrayContaining(["| ci / test-99 | failure | 1 |", "| ci / test-150 | running | 1 |", "| ci / test-299 | failure | 1 |"]));
    expect(summaryOf(request)).toContain("… and 250 more jobs (passed ones are left out first); see the [HUD](https://relay.example/hud/acme/npu-backend).");
    expect(summaryOf(request)).toContain("250 more jobs not shown as check runs");
    expect(request.params.output).toMatchObject({ title: "1 of 300 jobs running" });
  });
});
