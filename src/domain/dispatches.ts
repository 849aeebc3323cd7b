// Dispatches of an upstream head to downstream repos, and what became of them (pure types).

export type DispatchOutcome = "pending" | "sent" | "skipped" | "failed" | "dead";

/**
 * never_reported: no job reported by the start timeout. reports_not_expected: the same for a forward-only
 * backend. run_started: the same, but GitHub shows the run got a runner (its jobs may report only at
 * their end), so the backend is not failed for it. run_not_confirmed: jobs reported, but nothing said
 * the run ended by the run wait's deadline.
 */
export type UnreportedReason = "never_reported" | "reports_not_expected" | "run_started" | "run_not_confirmed";

/** One row per (delivery, downstream repo): what happened to that dispatch, whatever it was. */
export interface DispatchLogEntry {
  deliveryId: string;
  downstreamRepo: string;
  upstreamRepo: string;
  event: "pull_request" | "push";
  action?: string;
  prNumber?: number;
  headSha: string;
  backendName: string;
  level: string;
  outcome: DispatchOutcome;
  /** Why it was skipped, failed or dead-lettered (e.g. `not_installed`, `untrusted_author`, `http_404`). */
  reason?: string;
  attempts: number;
  createdAt: number;
  /** When GitHub accepted the dispatch; `sentAt - createdAt` is the time to send. */
  sentAt?: number;
  /** PR title, or the head commit's message for a push (HUD history grid). */
  title?: string;
  /** PR author, or the pusher. */
  author?: string;
}
