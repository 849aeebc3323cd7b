// The relay's durable state behind one small interface. Implementations: SQLite (sqlite-store.ts);
// a Redis one comes with scale-out. Nothing SQL-shaped crosses this boundary.
//
// Times are Unix epoch milliseconds. Repos are stored as given; lookups are case-insensitive.

import type { DispatchLogEntry, UnreportedReason } from "../domain/dispatches.js";
import type { BackendHeadFacts, HeadFacts } from "../domain/heads.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { JobKey, LatestAttempt, StoredJob } from "../domain/jobs.js";


export type TaskKind = "dispatch" | "check_run";

/** GitHub offers redelivery of a delivery for 3 days: deliveries are remembered exactly that long (replays, redelivery). */
export const REDELIVERY_WINDOW_MS = 72 * 3_600_000;

export interface RetentionPolicy {
  /** Settled work, and the state of heads closed or superseded, is kept this long (RELAY_STATE_RETENTION_DAYS). */
  retentionMs: number;
  /** At most this many rows are deleted per table per run, each table in one short transaction. */
  maxRowsPerTable: number;
}

/** Rows deleted by one prune run, per table. */
export type PrunedRows = Record<"outbox" | "dispatch_log" | "jobs" | "job_latest" | "check_runs" | "backend_heads" | "heads" | "deliveries", number>;

/** An HTTP request to GitHub, replayed verbatim by the outbox worker through Octokit. */
export interface OutboxTaskInput {
  /**
   * Idempotency key: a second task with the same key is ignored, whatever the first one's state.
   * Dispatches: `dispatch:<delivery>:<downstream repo>`; aggregate check runs: `check:<repo>:<name>:<sha>`.
   */
  key: string;
  kind: TaskKind;
  /** The repo the request writes to (downstream repo for dispatches, upstream repo for check runs). */
  repo: string;
  /** Installation to authenticate as; undefined means "resolve the repo's installation at send time". */
  installationId?: number;
  request: GitHubRequest;
  /** For dispatch tasks: the dispatch-log row this task reports into. */
  dispatch?: { deliveryId: string; downstreamRepo: string };
  /** Earliest send time (default: now). Intermediate check-run states wait a little so bursts coalesce. */
  notBefore?: number;
}

export interface OutboxTask extends OutboxTaskInput {
  id: number;
  /** Bumped when a newer desired state replaces a check-run task's request (see syncCheckRuns). */
  version: number;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  lastError?: string;
}

/** The two HUD tables rows are queued for (see src/hud/tables.ts). */
export type HudTarget = "results" | "dispatches";

/** A row waiting in the store for the ClickHouse writer. */
export interface QueuedHudRow {
  id: number;
  target: HudTarget;
  row: Record<string, unknown>;
}

export interface HudQueueStats {
  pending: number;
  /** Queue time of the oldest pending row. */
  oldestPendingAt?: number;
  /** Rows ClickHouse refused, kept for inspection. */
  rejected: number;
}

export interface DeliveryRecord {
  /** GitHub's delivery id (`X-GitHub-Delivery`); redeliveries reuse it. */
  id: string;
  event: string;
  /** Hash of the payload, so a redelivery of the same event is recognised. */
  payloadHash: string;
}

/** Callbacks answered for one repo on one UTC day with one outcome (the per-downstream audit trail). */
export interface CallbackOutcomeCount {
  /** Verified owner/repo (lower case), or "(unverified)". */
  repo: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  outcome: string;
  count: number;
}

export interface AcceptedWork {
  tasks: OutboxTaskInput[];
  /** Rows for every target considered: pending ones (with a task) and skipped ones (with a reason). */
  log: DispatchLogEntry[];
}

export interface TaskExclusion {
  /** Task ids to leave out (e.g. those in flight). */
  excludeIds?: readonly number[];
  /**
   * Installations to leave out (e.g. those out of write budget). A task without an installation id is
   * left out when its repo is recorded under one of them.
   */
  excludeInstallations?: readonly number[];
}

export interface OutboxStats {
  pending: number;
  /** createdAt of the oldest pending task. */
  oldestPendingAt?: number;
  dead: number;
}

export interface HeadKey {
  upstreamRepo: string;
  headSha: string;
}

export interface BackendHeadKey extends HeadKey {
  downstreamRepo: string;
}

/** A backend head as stored: the facts, and the store's bookkeeping for deriving its check runs. */
export interface StoredBackendHead extends BackendHeadFacts {
  /** The seq the next job to report gets. */
  nextSeq: number;
  /** Hash of what the job check runs were last derived from (head state, visibility). */
  frameHash?: string;
}

/** One of the relay's check runs: its GitHub id once created, and the hash of the desired state last queued. */
export interface CheckRunRecord {
  githubId?: number;
  desiredHash: string;
}

/**
 * The facts check runs are derived from (src/domain/heads.ts), read and written by key. Called by the
 * state core (src/state/) inside one transaction per event.
 */
export interface FactStore {
  head(key: HeadKey): HeadFacts | undefined;
  putHead(head: HeadFacts): void;
  /** The PR's heads in state open (normally one). */
  openHeadsOfPr(upstreamRepo: string, prNumber: number): HeadFacts[];
  /** Open heads after `after` in key order, at most `limit` (a policy change walks them in pages). */
  openHeads(after: HeadKey | undefined, limit: number): HeadFacts[];
  backendHead(key: BackendHeadKey): StoredBackendHead | undefined;
  backendHeads(key: HeadKey): StoredBackendHead[];
  /** The backend head whose latest dispatch this is, if it still is the latest. */
  backendHeadOfDispatch(deliveryId: string, downstreamRepo: string): StoredBackendHead | undefined;
  putBackendHead(facts: StoredBackendHead): void;
  latestAttempt(key: BackendHeadKey, workflowName: string, jobName: string): LatestAttempt | undefined;
  putLatestAttempt(key: BackendHeadKey, attempt: LatestAttempt): void;
  /** Forgets the latest attempts of a backend head (a new dispatch starts over). */
  clearLatestAttempts(key: BackendHeadKey): void;
  /** The latest attempts the aggregate lists: those that did not pass first, at most `limit`, in seq order. */
  listedAttempts(key: BackendHeadKey, limit: number): LatestAttempt[];
  /** The latest attempts with seq below `below` (the jobs with a check run of their own), in seq order. */
  attemptsBelowSeq(key: BackendHeadKey, below: number): LatestAttempt[];
  checkRun(key: string): CheckRunRecord | undefined;
  /** Records a new desired state's hash and queues its write (replacing a queued older state of the key). */
  queueCheckRun(task: OutboxTaskInput & { kind: "check_run" }, head: HeadKey, desiredHash: string, now: number): void;
}

export interface InstallationRecord {
  repo: string;
  /** undefined when the App is known not to be installed on the repo. */
  installationId?: number;
  checkedAt: number;
}

export interface Store extends FactStore {
  /**
   * Runs `work` in one transaction: every write it makes (through this store's methods, whose own
   * transactions nest in it) commits together when it returns, or none does when it throws. `work` must
   * be synchronous: a function returning a Promise is refused (and rolled back), since what it would
   * write after its first await would escape the transaction.
   */
  atomically<T>(work: () => T): T;
  /**
   * Runs `work` like atomically, in a transaction shared with the other work queued at the same moment
   * (group commit: one fsync for all of it). Resolves once that transaction has committed; rejects with
   * `work`'s own error (its writes rolled back, the others' kept) or with the error that kept the
   * transaction from committing (then nothing of it was written). The hot paths (webhooks, callbacks,
   * the outbox's outcomes) write through it; an answer sent after it resolves is durable.
   */
  transaction<T>(work: () => T): Promise<T>;
  /**
   * Records a webhook delivery and its work in one atomic step. Returns "duplicate" (storing nothing)
   * when a delivery with this id and payload hash was accepted before.
   */
  acceptDelivery(delivery: DeliveryRecord, work: AcceptedWork, now: number): "accepted" | "duplicate";
  hasDelivery(id: string): boolean;
  /** Records a handled delivery and its payload hash (for events whose handling stores no work). */
  rememberDelivery(delivery: DeliveryRecord, now: number): void;
  /** The id of another delivery with this payload hash accepted at or after `since`, if any (a replay). */
  deliveryWithPayload(payloadHash: string, exceptId: string, since: number): string | undefined;

  /**
   * Pending tasks whose next attempt is due, oldest first, leaving out the excluded ones and those
   * claimed by anyone (claimTasks) whose lease has not expired at `now`.
   */
  dueTasks(now: number, limit: number, exclude?: TaskExclusion): OutboxTask[];
  /** The earliest time a pending task is due (a claimed one: not before its lease expires), leaving out the excluded ones. */
  nextDueAt(exclude?: TaskExclusion): number | undefined;
  /**
   * Claims tasks for `owner` until `now + leaseMs`, in one write, and returns the ids it got: those still
   * pending and not claimed by another owner whose lease is unexpired. Recording an outcome (markSent,
   * scheduleRetry, markFailed, deferTask) releases the claim; an owner that dies loses it at expiry.
   */
  claimTasks(ids: readonly number[], owner: string, now: number, leaseMs: number): number[];
  /** Owners holding claims on pending tasks (expired or not). */
  claimOwners(): string[];
  /** Releases every claim of `owner` (known to be dead); returns how many tasks it held. */
  releaseClaims(owner: string): number;
  /** Moves a pending task's next attempt to `at` without counting an attempt (it waited for a write slot). */
  deferTask(taskId: number, at: number): void;
  /**
   * GitHub accepted the request. `resultId` is the created object's id (check runs). When the task's
   * version moved on while it was being sent (a newer check-run state arrived), it stays pending so
   * the newer state is written too.
   */
  markSent(taskId: number, result: { at: number; resultId?: number; version?: number }): void;
  /** A transient failure: try again at `at` (attempts is incremented). */
  scheduleRetry(taskId: number, retry: { at: number; error: string }): void;
  /** A permanent failure ("failed") or a task past its maximum age or attempts ("dead"). */
  markFailed(taskId: number, failure: { at: number; reason: string; outcome: "failed" | "dead" }): void;
  outboxStats(): OutboxStats;

  dispatchLog(deliveryId: string): DispatchLogEntry[];

  /** The id of the check run a `check_run` task created, by its task key. */
  checkRunId(key: string): number | undefined;
  /** The task with this key, in any state. */
  taskByKey(key: string): OutboxTask | undefined;
  /** When the dispatch to this downstream was accepted by GitHub. */
  dispatchSentAt(deliveryId: string, downstreamRepo: string): number | undefined;

  getJob(key: JobKey): StoredJob | undefined;
  /** Stores a job attempt's new state, and its HUD row (backends shown on the HUD). */
  putJob(job: StoredJob, hudRow: Record<string, unknown> | undefined, now: number): void;
  /** Every job attempt reported on a head sha, any backend. */
  shaJobs(upstreamRepo: string, headSha: string): StoredJob[];
  /** Jobs still in progress that started before `before`. */
  staleJobs(before: number, limit: number): StoredJob[];
  /** Sent dispatches older than `sentBefore` with no job reported, not yet marked, on shas still open. */
  unreportedDispatches(sentBefore: number, limit: number): DispatchLogEntry[];
  /**
   * Records on a sent dispatch-log row that no job came back by the start timeout: `never_reported` (an
   * infrastructure failure of the backend) or `reports_not_expected` (a forward-only backend).
   */
  markUnreported(deliveryId: string, downstreamRepo: string, reason: UnreportedReason, now: number): void;
  /**
   * HUD rows not yet written to ClickHouse, oldest first. Result rows come from recordJob; every change
   * of a dispatch-log row queues a snapshot of it (target "dispatches", with a `hudVersion` that grows).
   */
  pendingHudRows(limit: number): QueuedHudRow[];
  /** Rows now in ClickHouse: they leave the queue. */
  removeHudRows(ids: readonly number[]): void;
  /** Rows ClickHouse refused: kept, with the error, and no longer offered by pendingHudRows. */
  rejectHudRows(ids: readonly number[], error: string, now: number): void;
  hudQueueStats(): HudQueueStats;

  /** Adds callback outcome counts and removes days before `keepFrom` (YYYY-MM-DD), in one transaction. */
  addCallbackOutcomes(counts: readonly CallbackOutcomeCount[], keepFrom: string): void;
  /** Callback outcome counts of UTC days from `fromDay` (YYYY-MM-DD) on. */
  callbackOutcomes(fromDay: string): CallbackOutcomeCount[];

  getInstallation(repo: string): InstallationRecord | undefined;
  setInstallation(repo: string, installationId: number | undefined, now: number): void;
  /** Marks every repo recorded under this installation as not installed (it was deleted or suspended). */
  dropInstallation(installationId: number, now: number): void;
  listInstallations(): InstallationRecord[];

  /**
   * Deletes settled state past retention (docs/dispatch.md, "Storage and retention"), at most
   * `maxRowsPerTable` rows per table, and returns freed pages to the file system. Pending work, check-run
   * ids of heads still open and rows not yet exported to the HUD are kept.
   */
  prune(now: number, policy: RetentionPolicy): PrunedRows;

  close(): void;
}
