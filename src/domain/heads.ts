// Pull-request heads and the backends dispatched to them: the facts check runs are derived from (pure
// types). Webhooks, reports, the outbox and the sweeper change these facts; the desired check runs
// are recomputed from them (src/checks/desired.ts), never edited in place.
import type { DispatchOutcome, UnreportedReason } from "./dispatches.js";
import type { JobCounts, LatestAttempt } from "./jobs.js";
import type { RunFacts } from "./runs.js";

/**
 * `open`: the PR's current head while the PR is open. `superseded`: a commit the PR's head moved away
 * from (it becomes `open` again if the head moves back to it). `closed`: the head of a closed PR.
 */
export type HeadState = "open" | "superseded" | "closed";

/** An upstream PR head as the last pull_request event said. */
export interface HeadFacts {
  upstreamRepo: string;
  headSha: string;
  prNumber: number;
  state: HeadState;
  /**
   * The PR's labels when this head was last its head (label-only backends show with theirs). Undefined:
   * not known since the upgrade that introduced heads (the PR's next event tells).
   */
  labels?: readonly string[];
  /** When `state` last changed. */
  stateChangedAt: number;
  /** The PR's head that superseded this one (state superseded). */
  supersededBy?: string;
}

/** One backend on one PR head: its latest dispatch and the latest attempts of that dispatch's jobs. */
export interface BackendHeadFacts {
  upstreamRepo: string;
  headSha: string;
  /** The backend's name when it was dispatched (check-run names carry it). */
  backendName: string;
  /** The backend's level when it was dispatched. */
  level: string;
  downstreamRepo: string;
  /** The latest dispatch of the head to the backend; reports of earlier ones no longer count. */
  deliveryId: string;
  dispatchOutcome: DispatchOutcome;
  /** Why the dispatch failed or was dead-lettered. */
  dispatchReason?: string;
  /** Set by the sweeper when no job reported by the start timeout. */
  unreported?: UnreportedReason;
  counts: JobCounts;
  /** The newest latest attempt (the aggregate links its run). */
  newest?: LatestAttempt;
  /** The dispatch's downstream runs as GitHub and the run-level report describe them (src/domain/runs.ts). */
  runs?: RunFacts[];
}
