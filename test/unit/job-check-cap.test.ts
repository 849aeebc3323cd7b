import { describe, expect, it } from "vitest";
import { aggregateRequest, checkContext, hasOwnCheckRun, LISTED_JOBS } from "../../src/checks/job-checks.js";
import { countAttempt, NO_JOBS, type JobCounts, type JobSummary, type LatestAttempt } from "../../src/domain/jobs.js";

const SHA = "a".repeat(40);
const entry = { repo: "acme/npu-backend", name: "npu", level: "L4" as const, policy: { block_pr: false } } as Parameters<typeof checkContext>[0];
const settings = (maxJobChecksPerBackend: number) => ({ checkPrefix: "oot", publicUrl: "https://relay.example", webBaseUrl: "https://github.com", maxJobChecksPerBackend });
const contextWith = (cap: number) => checkContext(entry, { upstreamRepo: "pytorch/pytorch", headSha: SHA, prNumber: 7 }, settings(cap));

/** The latest attempt of job `test-<seq>`, `seq` being its order of first report on the head. */
function attempt(seq: number, fields: Partial<JobSummary> = {}): LatestAttempt {
  return {
    deliveryId: "d1",
    downstreamRepo: "acme/npu-backend",
    runId: 9,
    runAttempt: 1,
    jobName: `test-${seq}`,
    prNumber: 5,
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    updatedAt: seq,
    seq,
    ...fields,
  };
}

/** Counts as the store keeps them: each job's latest attempt added once, with countAttempt. */
const countsOf = (attempts: readonly LatestAttempt[]): JobCounts => attempts.reduce<JobCounts>((counts, job) => countAttempt(counts, undefined, job), NO_JOBS);

/**
 * What the store lists (SqliteStore.listedAttempts, ORDER BY passed, seq LIMIT n, shown by seq): the jobs
 * that did not pass first, then passed ones, at most `limit`, in the order the jobs first reported.
 */
function listedLikeStore(attempts: readonly LatestAttempt[], limit = LISTED_JOBS): LatestAttempt[] {
  const passed = (job: LatestAttempt) => (job.status === "completed" && job.conclusion === "success" ? 1 : 0);
  return [...attempts]
    .sort((a, b) => passed(a) - passed(b) || a.seq - b.seq)
    .slice(0, limit)
    .sort((a, b) => a.seq - b.seq);
}

const rollupOf = (attempts: readonly LatestAttempt[]) => ({ counts: countsOf(attempts), listed: listedLikeStore(attempts), newest: attempts.at(-1), runEnd: "over" as const });
const summaryOf = (request: { params: Record<string, unknown> }) => (request.params.output as { summary: string }).summary;
const tableRows = (request: { params: Record<string, unknown> }) => summaryOf(request).split("\n").filter((line) => line.startsWith("| ci / "));

describe("job check-run cap", () => {
  it("gives the first jobs to report a check run of their own, up to the cap", () => {
    const context = contextWith(3);
    const shown = Array.from({ length: 5 }, (_, seq) => attempt(seq)).filter((job) => hasOwnCheckRun(context, job));
    expect(shown.map((job) => job.jobName)).toEqual(["test-0", "test-1", "test-2"]);
    expect(hasOwnCheckRun(context, { seq: 2 })).toBe(true);
    expect(hasOwnCheckRun(context, { seq: 3 })).toBe(false);
  });

  it("keeps a shown job shown through its later states and re-run attempts (they keep its seq)", () => {
    const context = contextWith(2);
    expect(hasOwnCheckRun(context, attempt(0, { status: "in_progress", conclusion: undefined }))).toBe(true);
    expect(hasOwnCheckRun(context, attempt(0, { runAttempt: 2 }))).toBe(true);
    expect(hasOwnCheckRun(context, attempt(1, { runId: 10, runAttempt: 1 }))).toBe(true);
    expect(hasOwnCheckRun(context, attempt(2, { runAttempt: 2 }))).toBe(false);
  });

  it("shows no job check runs at all with a cap of 0", () => {
    expect(hasOwnCheckRun(contextWith(0), { seq: 0 })).toBe(false);
  });

  it("still counts the jobs past the cap in the aggregate, and says where to see them", () => {
    const jobs = [...Array.from({ length: 5 }, (_, seq) => attempt(seq)), attempt(5, { jobName: "late", conclusion: "failure" })];
    const request = aggregateRequest(contextWith(3), rollupOf(jobs), "https://ci.example");
    expect(request.params).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "5 of 6 jobs passed" } });
    expect(summaryOf(request)).toContain("3 more jobs not shown as check runs; see the HUD: https://relay.example/hud/acme/npu-backend");
    expect(summaryOf(request)).toContain("| ci / late | failure | 1 |");
    expect(summaryOf(aggregateRequest(contextWith(5), rollupOf(jobs), "https://ci.example"))).toContain(
      "1 more job not shown as check runs; see the HUD: https://relay.example/hud/acme/npu-backend",
    );
    expect(summaryOf(aggregateRequest(contextWith(6), rollupOf(jobs), "https://ci.example"))).not.toContain("not shown");
    expect(summaryOf(aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example"))).not.toContain("not shown");
  });

  it("counts a job once across its attempts: a re-run that passes replaces its failure", () => {
    const failed = attempt(1, { conclusion: "failure" });
    const rerun = attempt(1, { runAttempt: 2, conclusion: "success" });
    const counts = countAttempt(countsOf([attempt(0), failed]), failed, rerun);
    const request = aggregateRequest(contextWith(50), { counts, listed: [attempt(0), rerun], newest: rerun, runEnd: "over" }, "https://ci.example");
    expect(request.params).toMatchObject({ status: "completed", conclusion: "success", output: { title: "2 of 2 jobs passed" } });
    expect(tableRows(request)).toEqual(["| ci / test-0 | success | 1 |", "| ci / test-1 | success | 2 |"]);
  });
});

describe("aggregate conclusion", () => {
  it.each([
    [["success", "success"], "success"],
    [["success", "skipped"], "success"],
    [["skipped", "skipped"], "skipped"],
    [["success", "neutral"], "neutral"],
    [["success", "cancelled", "neutral"], "cancelled"],
    [["success", "timed_out", "cancelled"], "timed_out"],
    [["timed_out", "failure", "success"], "failure"],
    [["success", "startup_failure"], "failure"],
  ] as const)("%j roll up to %s", (conclusions, expected) => {
    const jobs = conclusions.map((conclusion, seq) => attempt(seq, { conclusion }));
    const request = aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example");
    expect(request.params).toMatchObject({ status: "completed", conclusion: expected });
  });

  it("counts a completed job without a conclusion as failed", () => {
    const jobs = [attempt(0), attempt(1, { conclusion: undefined })];
    expect(aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example").params).toMatchObject({
      status: "completed",
      conclusion: "failure",
      output: { title: "1 of 2 jobs passed" },
    });
  });

  it("stays in progress while any job runs, whatever the others concluded", () => {
    const jobs = [attempt(0, { conclusion: "failure" }), attempt(1, { status: "in_progress", conclusion: undefined }), attempt(2)];
    const request = aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example");
    expect(request.params.status).toBe("in_progress");
    expect(request.params).not.toHaveProperty("conclusion");
    expect(request.params.output).toMatchObject({ title: "2 of 3 reported jobs done (total not known yet)" });
    expect(tableRows(request)).toContain("| ci / test-1 | running | 1 |");
  });

  it("does not conclude while the run is not known to be over, even with every reported job done", () => {
    const jobs = [attempt(0), attempt(1)];
    const open = aggregateRequest(contextWith(50), { ...rollupOf(jobs), runEnd: "open", expectedJobs: 4, runNote: "waiting for the run" }, "https://ci.example");
    expect(open.params).toMatchObject({ status: "in_progress", output: { title: "2 of 4 jobs done" } });
    expect(summaryOf(open)).toContain("waiting for the run");
    expect(aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example").params).toMatchObject({ status: "completed", conclusion: "success" });
  });

  it("links the newest attempt's run", () => {
    const jobs = [attempt(0), attempt(1, { runId: 12, downstreamRepo: "Acme/NPU-Backend" })];
    expect(aggregateRequest(contextWith(50), rollupOf(jobs), "https://ci.example").params).toMatchObject({
      external_id: "run:acme/npu-backend:12",
      details_url: "https://ci.example",
    });
  });
});

describe("aggregate job list", () => {
  const context = contextWith(50);

  it(`lists every job up to ${LISTED_JOBS}`, () => {
    const jobs = Array.from({ length: LISTED_JOBS }, (_, seq) => attempt(seq));
    const request = aggregateRequest(context, rollupOf(jobs), "https://ci.example");
    expect(tableRows(request)).toHaveLength(LISTED_JOBS);
    expect(summaryOf(request)).not.toContain("more job");
  });

  it(`lists at most ${LISTED_JOBS} jobs, those that did not pass first, in report order, and counts every job`, () => {
    const jobs = Array.from({ length: 300 }, (_, seq) =>
      attempt(seq, seq % 100 === 99 ? { conclusion: "failure" } : seq === 150 ? { status: "in_progress", conclusion: undefined } : {}),
    );
    const request = aggregateRequest(context, rollupOf(jobs), "https://ci.example");
    const rows = tableRows(request);
    expect(rows).toHaveLength(LISTED_JOBS);
    expect(rows.slice(0, 4)).toEqual(["| ci / test-0 | success | 1 |", "| ci / test-1 | success | 1 |", "| ci / test-2 | success | 1 |", "| ci / test-3 | success | 1 |"]);
    expect(rows).toEqual(expect.arrayContaining(["| ci / test-99 | failure | 1 |", "| ci / test-150 | running | 1 |", "| ci / test-299 | failure | 1 |"]));
    expect(rows.indexOf("| ci / test-99 | failure | 1 |")).toBeLessThan(rows.indexOf("| ci / test-150 | running | 1 |"));
    expect(summaryOf(request)).toContain("… and 250 more jobs (passed ones are left out first); see the [HUD](https://relay.example/hud/acme/npu-backend).");
    expect(summaryOf(request)).toContain("250 more jobs not shown as check runs");
    expect(request.params.output).toMatchObject({ title: "299 of 300 reported jobs done (total not known yet)" });
  });

  it("says how many jobs are left out, in the singular for one", () => {
    const jobs = Array.from({ length: LISTED_JOBS + 1 }, (_, seq) => attempt(seq));
    const request = aggregateRequest(context, rollupOf(jobs), "https://ci.example");
    expect(tableRows(request)).toHaveLength(LISTED_JOBS);
    expect(summaryOf(request)).toContain("… and 1 more job (passed ones are left out first)");
    expect(request.params.output).toMatchObject({ title: `${LISTED_JOBS + 1} of ${LISTED_JOBS + 1} jobs passed` });
  });
});
