import { describe, expect, it } from "vitest";
import { conclusionOf, countAttempt, isLaterAttempt, NO_JOBS, type JobCounts } from "../../src/domain/jobs.js";

const runningJob = { status: "in_progress" } as const;
const done = (conclusion?: string) => ({ status: "completed" as const, ...(conclusion !== undefined && { conclusion }) });

describe("countAttempt", () => {
  it("counts a new job once, running or completed", () => {
    expect(countAttempt(NO_JOBS, undefined, runningJob)).toEqual({ jobs: 1, running: 1, conclusions: {} });
    expect(countAttempt(NO_JOBS, undefined, done("success"))).toEqual({ jobs: 1, running: 0, conclusions: { success: 1 } });
  });

  it("moves the same attempt from in_progress to completed without counting a second job", () => {
    const started = countAttempt(NO_JOBS, undefined, runningJob);
    expect(countAttempt(started, runningJob, done("failure"))).toEqual({ jobs: 1, running: 0, conclusions: { failure: 1 } });
  });

  it("replaces a failure with a re-run's success, dropping the emptied conclusion", () => {
    let counts: JobCounts = NO_JOBS;
    counts = countAttempt(counts, undefined, done("success"));
    counts = countAttempt(counts, undefined, done("failure"));
    expect(counts).toEqual({ jobs: 2, running: 0, conclusions: { success: 1, failure: 1 } });
    counts = countAttempt(counts, done("failure"), runningJob);
    expect(counts).toEqual({ jobs: 2, running: 1, conclusions: { success: 1 } });
    counts = countAttempt(counts, runningJob, done("success"));
    expect(counts).toEqual({ jobs: 2, running: 0, conclusions: { success: 2 } });
  });

  it("counts a completed attempt without a conclusion as failed, and removes it as such", () => {
    expect(conclusionOf(done())).toBe("failure");
    const counts = countAttempt(NO_JOBS, undefined, done());
    expect(counts.conclusions).toEqual({ failure: 1 });
    expect(countAttempt(counts, done(), done("success")).conclusions).toEqual({ success: 1 });
  });

  it("never leaves a conclusion count at zero or below, even for a previous attempt it did not count", () => {
    const counts = countAttempt(NO_JOBS, undefined, done("success"));
    const next = countAttempt(counts, done("cancelled"), done("success"));
    expect(next.conclusions).toEqual({ success: 2 });
    expect(Object.values(next.conclusions).every((count) => count > 0)).toBe(true);
  });

  it("leaves its input and NO_JOBS untouched", () => {
    const counts = countAttempt(NO_JOBS, undefined, done("failure"));
    const snapshot = structuredClone(counts);
    countAttempt(counts, done("failure"), done("success"));
    expect(counts).toEqual(snapshot);
    expect(NO_JOBS).toEqual({ jobs: 0, running: 0, conclusions: {} });
  });
});

describe("isLaterAttempt", () => {
  it("orders by run id, then attempt; the same attempt counts as later (a repeat report replaces it)", () => {
    expect(isLaterAttempt({ runId: 10, runAttempt: 1 }, { runId: 9, runAttempt: 3 })).toBe(true);
    expect(isLaterAttempt({ runId: 9, runAttempt: 2 }, { runId: 9, runAttempt: 1 })).toBe(true);
    expect(isLaterAttempt({ runId: 9, runAttempt: 1 }, { runId: 9, runAttempt: 1 })).toBe(true);
    expect(isLaterAttempt({ runId: 9, runAttempt: 1 }, { runId: 9, runAttempt: 2 })).toBe(false);
    expect(isLaterAttempt({ runId: 8, runAttempt: 5 }, { runId: 9, runAttempt: 1 })).toBe(false);
  });
});
