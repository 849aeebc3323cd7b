import { describe, expect, it } from "vitest";
import { lifecycleReport, reportFingerprint, transition } from "../../src/callback/lifecycle.js";
import type { JobState, LifecycleReport, Transition } from "../../src/callback/lifecycle.js";
import { CHECK_CONCLUSIONS } from "../../src/callback/schema.js";
import type { CallbackBody } from "../../src/callback/schema.js";
import { CONCLUSION_PRECEDENCE, worstConclusion } from "../../src/checks/aggregate.js";

const base: CallbackBody = {
  schema_version: 1,
  ticket: "header.payload.signature",
  status: "in_progress",
  workflow: { name: "ci", run_id: 42, run_attempt: 1, url: "https://github.com/acme/npu/actions/runs/42" },
  job: { name: "test (npu, 1)" },
};

const body = (fields: Partial<CallbackBody>): CallbackBody => ({ ...base, ...fields });

const started = lifecycleReport(body({}));
const progress = lifecycleReport(body({ summary: "3 of 10 shards done" }));
const passed = lifecycleReport(body({ status: "completed", conclusion: "success" }));
const failed = lifecycleReport(body({ status: "completed", conclusion: "failure", failure_kind: "test" }));
const passedOtherSummary = lifecycleReport(body({ status: "completed", conclusion: "success", summary: "all green" }));

// Relay clocks (ms) used throughout.
const DISPATCHED = 1_000;
const STARTED = 4_000;
const COMPLETED = 9_500;
const NOW = 20_000;

const none = undefined;
const running: JobState = { status: "in_progress", startedAt: STARTED, lastReport: started.fingerprint };
const updated: JobState = { status: "in_progress", startedAt: STARTED, lastReport: progress.fingerprint };
const passedAfterStart: JobState = {
  status: "completed",
  conclusion: "success",
  startedAt: STARTED,
  completedAt: COMPLETED,
  lastReport: passed.fingerprint,
};
const passedWithoutStart: JobState = {
  status: "completed",
  conclusion: "success",
  completedAt: COMPLETED,
  lastReport: passed.fingerprint,
};

const ALREADY_COMPLETED = "job already completed; a re-run reports a new run_attempt";
const alreadyCompletedWith = (conclusion: string) => `job already completed with ${conclusion}; a re-run reports a new run_attempt`;

describe("transition: every (current state × report)", () => {
  const table: Array<[string, JobState | undefined, LifecycleReport, Transition]> = [
    // (none)
    [
      "none + in_progress → start, queue time from the dispatch",
      none,
      started,
      { kind: "start", next: { status: "in_progress", startedAt: NOW, lastReport: started.fingerprint }, queueMs: NOW - DISPATCHED },
    ],
    [
      "none + completed → complete (start report lost: no queue or execution time)",
      none,
      failed,
      { kind: "complete", next: { status: "completed", conclusion: "failure", completedAt: NOW, lastReport: failed.fingerprint } },
    ],
    // in_progress
    ["in_progress + identical in_progress → duplicate", running, started, { kind: "duplicate" }],
    [
      "in_progress + different in_progress → update, keeping startedAt",
      running,
      progress,
      { kind: "update", next: { status: "in_progress", startedAt: STARTED, lastReport: progress.fingerprint } },
    ],
    ["updated in_progress + the same update again → duplicate", updated, progress, { kind: "duplicate" }],
    [
      "updated in_progress + the original start again → update (the latest report wins)",
      updated,
      started,
      { kind: "update", next: { status: "in_progress", startedAt: STARTED, lastReport: started.fingerprint } },
    ],
    [
      "in_progress + completed → complete with queue and execution time",
      running,
      passed,
      {
        kind: "complete",
        next: { status: "completed", conclusion: "success", startedAt: STARTED, completedAt: NOW, lastReport: passed.fingerprint },
        queueMs: STARTED - DISPATCHED,
        executionMs: NOW - STARTED,
      },
    ],
    [
      "updated in_progress + completed → complete",
      updated,
      failed,
      {
        kind: "complete",
        next: { status: "completed", conclusion: "failure", startedAt: STARTED, completedAt: NOW, lastReport: failed.fingerprint },
        queueMs: STARTED - DISPATCHED,
        executionMs: NOW - STARTED,
      },
    ],
    // completed (after a start)
    ["completed + in_progress → conflict (backwards)", passedAfterStart, started, { kind: "conflict", message: ALREADY_COMPLETED }],
    ["completed + in_progress update → conflict (backwards)", passedAfterStart, progress, { kind: "conflict", message: ALREADY_COMPLETED }],
    ["completed + identical completion → duplicate", passedAfterStart, passed, { kind: "duplicate" }],
    [
      "completed + a different conclusion → conflict",
      passedAfterStart,
      failed,
      { kind: "conflict", message: alreadyCompletedWith("success") },
    ],
    [
      "completed + same conclusion, different report → conflict",
      passedAfterStart,
      passedOtherSummary,
      { kind: "conflict", message: alreadyCompletedWith("success") },
    ],
    // completed (start never seen)
    ["completed without start + late in_progress → conflict", passedWithoutStart, started, { kind: "conflict", message: ALREADY_COMPLETED }],
    ["completed without start + identical completion → duplicate", passedWithoutStart, passed, { kind: "duplicate" }],
    [
      "completed without start + a different completion → conflict",
      passedWithoutStart,
      failed,
      { kind: "conflict", message: alreadyCompletedWith("success") },
    ],
  ];

  it.each(table)("%s", (_name, current, report, expected) => {
    expect(transition(current, report, NOW, DISPATCHED)).toStrictEqual(expected);
  });

  it("covers every (state × report) pair", () => {
    const states = new Set(table.map(([, current]) => current?.status ?? "none"));
    const reports = new Set(table.map(([, current, report]) => `${current?.status ?? "none"}×${report.status}`));
    expect([...states].sort()).toEqual(["completed", "in_progress", "none"]);
    expect([...reports].sort()).toEqual([
      "completed×completed",
      "completed×in_progress",
      "in_progress×completed",
      "in_progress×in_progress",
      "none×completed",
      "none×in_progress",
    ]);
  });

  it("never changes the current state object", () => {
    const current = structuredClone(running);
    transition(current, passed, NOW, DISPATCHED);
    transition(current, progress, NOW, DISPATCHED);
    expect(current).toStrictEqual(running);
  });

  it("refuses a completed report without a conclusion (a caller bug, not a client error)", () => {
    expect(() => transition(undefined, { status: "completed", fingerprint: "x" }, NOW)).toThrow(/needs a conclusion/);
  });
});

describe("transition: times on the relay's clock", () => {
  it("measures queue time (dispatch → start) and execution time (start → complete) exactly", () => {
    const start = transition(undefined, started, 61_000, 1_000);
    expect(start).toMatchObject({ kind: "start", queueMs: 60_000 });
    if (start.kind !== "start") return;

    const update = transition(start.next, progress, 100_000, 1_000);
    expect(update).toStrictEqual({ kind: "update", next: { ...start.next, lastReport: progress.fingerprint } });
    if (update.kind !== "update") return;

    const complete = transition(update.next, passed, 3_661_000, 1_000);
    expect(complete).toStrictEqual({
      kind: "complete",
      next: { status: "completed", conclusion: "success", startedAt: 61_000, completedAt: 3_661_000, lastReport: passed.fingerprint },
      queueMs: 60_000,
      executionMs: 3_600_000,
    });
    if (complete.kind !== "complete") return;

    expect(transition(complete.next, passed, 3_700_000, 1_000)).toStrictEqual({ kind: "duplicate" });
  });

  it("leaves queue time unknown when the dispatch time is unknown, but still measures execution", () => {
    const start = transition(undefined, started, 5_000);
    expect(start).toStrictEqual({ kind: "start", next: { status: "in_progress", startedAt: 5_000, lastReport: started.fingerprint } });
    if (start.kind !== "start") return;
    expect(transition(start.next, passed, 8_000)).toStrictEqual({
      kind: "complete",
      next: { status: "completed", conclusion: "success", startedAt: 5_000, completedAt: 8_000, lastReport: passed.fingerprint },
      executionMs: 3_000,
    });
  });

  it("accepts a completion whose start report was lost: neither queue nor execution time, even with a dispatch time", () => {
    const complete = transition(undefined, failed, 8_000, 1_000);
    expect(complete).toStrictEqual({
      kind: "complete",
      next: { status: "completed", conclusion: "failure", completedAt: 8_000, lastReport: failed.fingerprint },
    });
  });

  it("treats a negative duration (clocks of two relay instances disagreeing) as unknown", () => {
    const start = transition(undefined, started, 900, 1_000);
    expect(start).toStrictEqual({ kind: "start", next: { status: "in_progress", startedAt: 900, lastReport: started.fingerprint } });
    const complete = transition(running, passed, STARTED - 1, 1_000);
    expect(complete).toStrictEqual({
      kind: "complete",
      next: { status: "completed", conclusion: "success", startedAt: STARTED, completedAt: STARTED - 1, lastReport: passed.fingerprint },
      queueMs: STARTED - 1_000,
    });
  });

  it("measures zero-length durations as 0", () => {
    expect(transition(undefined, started, 1_000, 1_000)).toMatchObject({ kind: "start", queueMs: 0 });
    expect(transition(running, passed, STARTED, STARTED)).toMatchObject({ kind: "complete", queueMs: 0, executionMs: 0 });
  });
});

describe("transition: duplicate and out-of-order delivery", () => {
  it("a retried start and a retried completion change nothing", () => {
    const start = transition(undefined, started, 2_000, 1_000);
    if (start.kind !== "start") throw new Error(start.kind);
    expect(transition(start.next, started, 2_500, 1_000)).toStrictEqual({ kind: "duplicate" });
    const complete = transition(start.next, failed, 3_000, 1_000);
    if (complete.kind !== "complete") throw new Error(complete.kind);
    expect(transition(complete.next, failed, 3_500, 1_000)).toStrictEqual({ kind: "duplicate" });
  });

  it("a completion that overtakes its start is accepted; the late start is a conflict, and the result stays", () => {
    const complete = transition(undefined, passed, 3_000, 1_000);
    expect(complete).toStrictEqual({
      kind: "complete",
      next: { status: "completed", conclusion: "success", completedAt: 3_000, lastReport: passed.fingerprint },
    });
    if (complete.kind !== "complete") return;
    expect(transition(complete.next, started, 3_100, 1_000)).toStrictEqual({ kind: "conflict", message: ALREADY_COMPLETED });
  });

  it("a re-run is a new job: the same report for attempt 2 starts from nothing", () => {
    const attempt2 = lifecycleReport({ ...base, workflow: { ...base.workflow, run_attempt: 2 } });
    // The job key (with run_attempt) selects the state; the report itself is the same.
    expect(attempt2.fingerprint).toBe(started.fingerprint);
    expect(transition(undefined, attempt2, 5_000, 1_000)).toMatchObject({ kind: "start", queueMs: 4_000 });
  });
});

describe("reportFingerprint", () => {
  const full: CallbackBody = {
    ...base,
    status: "completed",
    conclusion: "failure",
    summary: "two failures",
    failure_kind: "test",
    tests: { total: 10, passed: 8, failed: 2, skipped: 0 },
    failed_tests: ["a", "b"],
    artifact_url: "https://example.org/a",
    environment: { sdk: "8.0", device: "910B" },
  };

  it("is a sha256 hex digest", () => {
    expect(reportFingerprint(full)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ignores the ticket, the job's identity and URLs, the downstream's timestamps and key order", () => {
    const same: CallbackBody = {
      ...full,
      ticket: "another.signed.ticket",
      workflow: { ...full.workflow, url: "https://github.com/acme/npu/actions/runs/42?check_suite_focus=true" },
      job: { name: "test (npu, 1)", url: "https://github.com/acme/npu/actions/runs/42/job/7" },
      started_at: "2026-01-31T12:00:00Z",
      completed_at: "2026-01-31T12:30:00Z",
      environment: { device: "910B", sdk: "8.0" },
      tests: { skipped: 0, failed: 2, passed: 8, total: 10 },
    };
    expect(reportFingerprint(same)).toBe(reportFingerprint(full));
  });

  it("treats an absent field and an undefined one alike", () => {
    expect(reportFingerprint({ ...base, summary: undefined })).toBe(reportFingerprint(base));
  });

  it.each<[string, Partial<CallbackBody>]>([
    ["status", { status: "in_progress", conclusion: undefined }],
    ["conclusion", { conclusion: "cancelled" }],
    ["summary", { summary: "two failures!" }],
    ["summary removed", { summary: undefined }],
    ["tests", { tests: { total: 10, passed: 7, failed: 3, skipped: 0 } }],
    ["tests.errors", { tests: { total: 10, passed: 8, failed: 2, skipped: 0, errors: 0 } }],
    ["failed_tests", { failed_tests: ["a"] }],
    ["failed_tests order", { failed_tests: ["b", "a"] }],
    ["failure_kind", { failure_kind: "infra" }],
    ["artifact_url", { artifact_url: "https://example.org/b" }],
    ["environment value", { environment: { sdk: "8.1", device: "910B" } }],
    ["environment key", { environment: { sdk: "8.0", chip: "910B" } }],
  ])("changes with %s", (_field, change) => {
    expect(reportFingerprint({ ...full, ...change })).not.toBe(reportFingerprint(full));
  });

  it("keeps fields apart (no ambiguity between neighbouring values)", () => {
    expect(reportFingerprint({ ...base, summary: "infra" })).not.toBe(reportFingerprint({ ...base, failure_kind: "infra" }));
  });
});

describe("worstConclusion", () => {
  it.each<[string[], string]>([
    [["success"], "success"],
    [["success", "success"], "success"],
    [["success", "neutral"], "neutral"],
    [["success", "skipped"], "success"],
    [["skipped", "skipped"], "skipped"],
    [["neutral", "skipped"], "neutral"],
    [["success", "action_required"], "action_required"],
    [["neutral", "cancelled"], "cancelled"],
    [["action_required", "cancelled"], "cancelled"],
    [["cancelled", "timed_out"], "timed_out"],
    [["timed_out", "failure"], "failure"],
    [["success", "failure", "neutral", "skipped", "cancelled", "timed_out", "action_required"], "failure"],
    [["success", "stale"], "failure"],
    [["skipped", "startup_failure"], "failure"],
  ])("%j → %s", (conclusions, expected) => {
    expect(worstConclusion(conclusions)).toBe(expected);
    expect(worstConclusion([...conclusions].reverse())).toBe(expected);
  });

  it("ranks every GitHub conclusion exactly once", () => {
    expect([...CONCLUSION_PRECEDENCE].sort()).toEqual([...CHECK_CONCLUSIONS].sort());
  });

  it("follows CONCLUSION_PRECEDENCE for every pair", () => {
    for (const [i, worse] of CONCLUSION_PRECEDENCE.entries()) {
      for (const better of CONCLUSION_PRECEDENCE.slice(i)) {
        expect(worstConclusion([better, worse])).toBe(worse);
      }
    }
  });

  it("refuses an empty list rather than inventing a conclusion", () => {
    expect(() => worstConclusion([])).toThrow(RangeError);
  });
});
