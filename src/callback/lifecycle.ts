// The job state machine (pure). A job is one (delivery id, downstream repo, run_id, run_attempt, job name): a
// re-run reports a new run_attempt and so is a new job, never a step back for the old one. States:
//
//   (none) ──in_progress──> in_progress ──completed──> completed
//   (none) ──completed──────────────────────────────> completed     (start report lost: accepted, execution time unknown)
//
// Identical repeats are duplicates (2xx, nothing changes); a changed in_progress report is an update (e.g. a
// progress summary); anything that would go backwards, or a second, different completion, is a conflict (409).
// Times are the relay's own clock (ms): queue time = dispatch → first in_progress, execution time = first
// in_progress → completed. The downstream's started_at/completed_at are kept as reported, not used here.
import { createHash } from "node:crypto";
import type { CallbackBody, CallbackStatus } from "./schema.js";
import type { StoredJob } from "../domain/jobs.js";

export interface JobState {
  status: "in_progress" | "completed";
  /** Set once completed. */
  conclusion?: string;
  /** Relay clock (ms) of the first in_progress report; undefined when none was seen. */
  startedAt?: number;
  /** Relay clock (ms) of the completed report. */
  completedAt?: number;
  /** Fingerprint (reportFingerprint) of the last accepted report, to recognise identical repeats. */
  lastReport: string;
}

/** What transition() needs from a callback: its status, conclusion and reportFingerprint(). */
export interface LifecycleReport {
  status: CallbackStatus;
  /** Required when status is completed (the body schema guarantees it). */
  conclusion?: string | undefined;
  fingerprint: string;
}

export type Transition =
  /** none → in_progress. queueMs when the dispatch time is known. */
  | { kind: "start"; next: JobState; queueMs?: number }
  /** in_progress → in_progress with a different report (e.g. a progress summary); startedAt is kept. */
  | { kind: "update"; next: JobState }
  /**
   * in_progress → completed, or none → completed (start report lost). queueMs needs the dispatch time and a
   * seen start; executionMs needs a seen start.
   */
  | { kind: "complete"; next: JobState; queueMs?: number; executionMs?: number }
  /** An identical repeat of the last accepted report: answer 2xx with duplicate: true, change nothing. */
  | { kind: "duplicate" }
  /** in_progress after completed, or a second, different completion: answer 409 with the message. */
  | { kind: "conflict"; message: string };

/**
 * The next state of a job given a new report. `now` is the relay's clock (ms) when the report arrived;
 * `dispatchedAt` is when the relay's dispatch was accepted by GitHub, if known. Durations that come out
 * negative (clocks of different relay instances disagreeing) are reported as unknown (undefined), not as 0.
 */
export function transition(
  current: JobState | undefined,
  report: LifecycleReport,
  now: number,
  dispatchedAt?: number,
): Transition {
  if (report.status === "completed" && report.conclusion === undefined) {
    throw new TypeError("a completed report needs a conclusion (the callback schema requires one)");
  }
  if (current !== undefined && current.lastReport === report.fingerprint && current.status === report.status) {
    return { kind: "duplicate" };
  }

  if (report.status === "in_progress") {
    if (current === undefined) {
      const next: JobState = { status: "in_progress", startedAt: now, lastReport: report.fingerprint };
      return withDefined({ kind: "start" as const, next }, { queueMs: duration(dispatchedAt, now) });
    }
    if (current.status === "in_progress") {
      return { kind: "update", next: { ...current, lastReport: report.fingerprint } };
    }
    return { kind: "conflict", message: "job already completed; a re-run reports a new run_attempt" };
  }

  if (current?.status === "completed") {
    return {
      kind: "conflict",
      message: `job already completed with ${current.conclusion ?? "an unknown conclusion"}; a re-run reports a new run_attempt`,
    };
  }
  const startedAt = current?.startedAt;
  const next: JobState = {
    status: "completed",
    conclusion: report.conclusion,
    ...(startedAt !== undefined && { startedAt }),
    completedAt: now,
    lastReport: report.fingerprint,
  };
  return withDefined(
    { kind: "complete" as const, next },
    { queueMs: duration(dispatchedAt, startedAt), executionMs: duration(startedAt, now) },
  );
}

/** The transition input for a parsed callback body. */
export function lifecycleReport(body: CallbackBody): LifecycleReport {
  return { status: body.status, conclusion: body.conclusion, fingerprint: reportFingerprint(body) };
}

/**
 * sha256 (hex) of what a report says: status, conclusion, summary, tests, failed_tests, failure_kind,
 * artifact_url and environment. Not the ticket (a re-sent report may carry a refreshed one), nor the job's
 * identity, URLs or the downstream's timestamps. Stable across key order; absent and undefined are the same.
 */
export function reportFingerprint(body: CallbackBody): string {
  const tests = body.tests;
  const canonical = [
    "callback-report/v1",
    body.status,
    body.conclusion ?? null,
    body.summary ?? null,
    tests === undefined ? null : [tests.total, tests.passed, tests.failed, tests.skipped, tests.errors ?? null],
    body.failed_tests ?? null,
    body.failure_kind ?? null,
    body.artifact_url ?? null,
    body.environment === undefined
      ? null
      : Object.entries(body.environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ];
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

function duration(from: number | undefined, to: number | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const ms = to - from;
  return ms >= 0 ? ms : undefined;
}

// Adds only the fields that are defined, so transitions compare cleanly (no `queueMs: undefined`).
function withDefined<T extends object>(base: T, optional: Record<string, number | undefined>): T {
  const defined = Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined));
  return { ...base, ...defined };
}

/** The lifecycle state of a stored job attempt. */
export function storedJobState(job: StoredJob): JobState {
  return {
    status: job.status,
    ...(job.conclusion !== undefined && { conclusion: job.conclusion }),
    ...(job.startedAt !== undefined && { startedAt: job.startedAt }),
    ...(job.completedAt !== undefined && { completedAt: job.completedAt }),
    lastReport: job.fingerprint,
  };
}
