import { describe, expect, it } from "vitest";
import { NO_JOBS } from "../../src/domain/jobs.js";
import {
  applyJobEvent,
  applyRunEvent,
  applyRunReport,
  markReported,
  MAX_RUNS_PER_DISPATCH,
  MAX_TRACKED_JOBS,
  RUN_VERDICT_JOB,
  runConclusion,
  runOver,
  runRollup,
  toSettle,
  unreportedJobs,
  type JobEvent,
  type RunFacts,
} from "../../src/domain/runs.js";

const started = (runs: RunFacts[] = [], fields: Partial<Parameters<typeof applyRunEvent>[1]> = {}) =>
  applyRunEvent(runs, { runId: 7, runAttempt: 1, status: "in_progress", workflowName: "ci", createdAt: 1_000, ...fields })!;

const jobEvent = (name: string, fields: Partial<JobEvent> = {}): JobEvent => ({ runId: 7, runAttempt: 1, name, status: "queued", createdAt: 1_000, ...fields });

function only(runs: RunFacts[] | undefined): RunFacts {
  expect(runs).toHaveLength(1);
  return runs![0]!;
}

describe("run events", () => {
  it("records GitHub's view of a run and never moves its status backwards (events arrive out of order)", () => {
    const completed = applyRunEvent(started(), { runId: 7, runAttempt: 1, status: "completed", conclusion: "failure" })!;
    expect(only(completed).github).toMatchObject({ status: "completed", conclusion: "failure", createdAt: 1_000 });
    expect(applyRunEvent(completed, { runId: 7, runAttempt: 1, status: "in_progress" })).toBeUndefined();
    expect(applyRunEvent(completed, { runId: 7, runAttempt: 1, status: "completed", conclusion: "success" })).toBeUndefined();
  });

  it("starts over for a newer attempt of the run and ignores events of older attempts", () => {
    const first = applyJobEvent(started(), jobEvent("a", { status: "completed", conclusion: "failure" }), false)!;
    const rerun = only(applyRunEvent(first, { runId: 7, runAttempt: 2, status: "queued" }));
    expect(rerun).toMatchObject({ runAttempt: 2, jobs: [], workflowName: "ci", github: { status: "queued" } });
    expect(applyRunEvent([rerun], { runId: 7, runAttempt: 1, status: "completed", conclusion: "success" })).toBeUndefined();
    expect(applyJobEvent([rerun], jobEvent("a"), false)).toBeUndefined();
  });

  it("keeps at most MAX_RUNS_PER_DISPATCH runs of one dispatch", () => {
    let runs: RunFacts[] = [];
    for (let id = 1; id <= MAX_RUNS_PER_DISPATCH; id += 1) runs = applyRunEvent(runs, { runId: id, runAttempt: 1, status: "queued" })!;
    expect(applyRunEvent(runs, { runId: 99, runAttempt: 1, status: "queued" })).toBeUndefined();
    expect(runs.map((run) => run.runId)).toEqual([1, 2, 3, 4]);
  });
});

describe("job events", () => {
  it("follows a job from queued to completed, keeping GitHub's queue and start times", () => {
    let runs = applyJobEvent(started(), jobEvent("a"), false)!;
    runs = applyJobEvent(runs, jobEvent("a", { status: "in_progress", startedAt: 61_000, runnerName: "npu-1" }), false)!;
    runs = applyJobEvent(runs, jobEvent("a", { status: "completed", conclusion: "success", startedAt: 61_000, completedAt: 90_000 }), false)!;
    expect(only(runs).jobs).toEqual([{ name: "a", status: "completed", conclusion: "success", queuedAt: 1_000, startedAt: 61_000, completedAt: 90_000, hadRunner: true, reported: false }]);
    expect(applyJobEvent(runs, jobEvent("a", { status: "in_progress" }), false)).toBeUndefined();
  });

  it("counts jobs past MAX_TRACKED_JOBS instead of keeping them", () => {
    let runs = started();
    for (let i = 0; i < MAX_TRACKED_JOBS; i += 1) runs = applyJobEvent(runs, jobEvent(`job-${i}`), false)!;
    runs = applyJobEvent(runs, jobEvent("one too many"), false)!;
    expect(only(runs)).toMatchObject({ untrackedJobs: 1 });
    expect(only(runs).jobs).toHaveLength(MAX_TRACKED_JOBS);
    expect(runRollup(runs, NO_JOBS).expectedJobs).toBe(MAX_TRACKED_JOBS + 1);
  });

  it("marks a GitHub job reported when a report of the same run, attempt and name arrives, once", () => {
    const runs = applyJobEvent(started(), jobEvent("a"), false)!;
    const marked = markReported(runs, 7, 1, "a")!;
    expect(only(marked).jobs[0]).toMatchObject({ reported: true });
    expect(markReported(marked, 7, 1, "a")).toBeUndefined();
    expect(markReported(runs, 7, 2, "a")).toBeUndefined();
    expect(markReported(runs, 7, 1, "b")).toBeUndefined();
  });
});

describe("run end", () => {
  it("is over when GitHub says completed or the downstream's run-level report came, whichever first", () => {
    const running = only(started());
    expect(runOver(running)).toBe(false);
    expect(runOver(only(applyRunReport([running], 7, 1, "success", 3)))).toBe(true);
    expect(runOver(only(applyRunEvent([running], { runId: 7, runAttempt: 1, status: "completed", conclusion: "success" })))).toBe(true);
    expect(applyRunReport(applyRunReport([running], 7, 1, "success", 3)!, 7, 1, "failure", 3)).toBeUndefined();
  });

  it("is settled from the report first, then once more from GitHub's completion, never twice from one source", () => {
    const reported = only(applyRunReport(started(), 7, 1, "success", 2));
    expect(toSettle(only(started()))).toBeUndefined();
    expect(toSettle(reported)).toBe("report");
    const completed = only(applyRunEvent([{ ...reported, settled: "report" }], { runId: 7, runAttempt: 1, status: "completed", conclusion: "failure" }));
    expect(toSettle(completed)).toBe("github");
    expect(toSettle({ ...completed, settled: "github" })).toBeUndefined();
  });

  it("concludes with the worse of GitHub's and the reported conclusion", () => {
    const reported = applyRunReport(started(), 7, 1, "success", undefined)!;
    expect(runConclusion(only(reported))).toBe("success");
    expect(runConclusion(only(applyRunEvent(reported, { runId: 7, runAttempt: 1, status: "completed", conclusion: "failure" })))).toBe("failure");
    expect(runConclusion(only(started()))).toBeUndefined();
  });

  it("rolls up: over only when every run is; expected jobs from GitHub's jobs or the report's count; waiting for a runner", () => {
    const queued = applyJobEvent(applyRunEvent([], { runId: 7, runAttempt: 1, status: "queued" })!, jobEvent("a"), false)!;
    expect(runRollup(queued, NO_JOBS)).toEqual({ tracked: true, over: false, expectedJobs: 1, waitingForRunner: true });
    const two = applyRunEvent(queued, { runId: 8, runAttempt: 1, status: "completed", conclusion: "success" })!;
    expect(runRollup(two, NO_JOBS)).toMatchObject({ over: false, waitingForRunner: false });
    expect(runRollup([], NO_JOBS)).toEqual({ tracked: false, over: false, waitingForRunner: false });
    const counted = applyRunReport(started(), 7, 1, "success", 5)!;
    expect(runRollup(counted, { jobs: 2, running: 0, conclusions: { success: 2 } })).toMatchObject({ over: true, expectedJobs: 5 });
  });
});

describe("what an ended run leaves unexplained", () => {
  const ended = (runs: RunFacts[], conclusion: string) => only(applyRunEvent(runs, { runId: 7, runAttempt: 1, status: "completed", conclusion }));

  it("a failed job that never reported, as infrastructure, telling a job that never got a runner apart", () => {
    let runs = applyJobEvent(started(), jobEvent("ran", { status: "in_progress", startedAt: 5_000 }), false)!;
    runs = applyJobEvent(runs, jobEvent("ran", { status: "completed", conclusion: "failure", completedAt: 9_000 }), false)!;
    runs = applyJobEvent(runs, jobEvent("no runner", { status: "completed", conclusion: "cancelled" }), false)!;
    runs = applyJobEvent(runs, jobEvent("passed silently", { status: "completed", conclusion: "success", runnerName: "x" }), false)!;
    runs = applyJobEvent(runs, jobEvent("reported", { status: "completed", conclusion: "failure", runnerName: "x" }), true)!;
    const left = unreportedJobs(ended(runs, "failure"), true);
    expect(left.map((job) => [job.jobName, job.conclusion])).toEqual([
      ["ran", "failure"],
      ["no runner", "cancelled"],
    ]);
    expect(left[0]).toMatchObject({ workflowName: "ci", startedAt: 5_000, completedAt: 9_000, queueMs: 4_000 });
    expect(left[0]!.summary).toContain("ran on GitHub but never reported");
    expect(left[1]!.summary).toContain("never got a runner");
  });

  it("the run's own verdict when it failed but no job did: startup_failure, a cancelled run, a failing run report", () => {
    const startup = unreportedJobs(ended([], "startup_failure"), false);
    expect(startup).toMatchObject([{ jobName: RUN_VERDICT_JOB, conclusion: "failure" }]);
    expect(startup[0]!.summary).toContain("startup_failure");
    expect(unreportedJobs(ended(started(), "cancelled"), false)).toMatchObject([{ jobName: RUN_VERDICT_JOB, conclusion: "cancelled" }]);
    const reportedFailure = only(applyRunReport(started(), 7, 1, "failure", 2));
    expect(unreportedJobs(reportedFailure, false)[0]!.summary).toContain("The downstream's run report concluded the run `failure`");
  });

  it("nothing when a reported job already explains the failure, or the run passed", () => {
    expect(unreportedJobs(ended(started(), "failure"), true)).toEqual([]);
    expect(unreportedJobs(ended(started(), "success"), false)).toEqual([]);
  });
});
