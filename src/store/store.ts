// The relay's durable state behind one small, asynchronous interface. Implementations: SQLite
// (sqlite-store.ts, the embedded default); a database server shared by several replicas comes with
// scale-out. Nothing SQL-shaped crosses this boundary; test/contract/ is the suite every implementation passes.
//
// Times are Unix epoch milliseconds. Repos are stored as given; lookups are case-insensitive.

import type { CallbackOutcomeCount } from "../domain/callback-audit.js";
import type { DispatchLogEntry, UnreportedReason } from "../domain/dispatches.js";
import type { BackendHeadFacts, HeadFacts } from "../domain/heads.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { JobKey, LatestAttempt, StoredJob } from "../domain/jobs.js";
import type { TrunkJobResult } from "../domain/trunk-baseline.js";

/**
 * A dispatch, a check-run write, the cancellation of a downstream run (a closed PR's), an oncall comment,
 * or an oncall webhook message (the only task not sent to GitHub: src/dispatch/oncall-webhook.ts).
 */
export type TaskKind = "dispatch" | "check_run" | "cancel" | "comment" | "notify";

/**
 * Tasks that hold the desired state of one object the relay owns (a check run, an oncall comment, a
 * webhook message): queued only when that state changes (its hash is kept in check_runs). The first send
 * of a check run or comment creates it, later ones edit it in place by the id the creation returned.
 */
export type RenderedKind = "check_run" | "comment" | "notify";

export function isRenderedKind(kind: TaskKind): kind is RenderedKind {
  return kind === "check_run" || kind === "comment" || kind === "notify";
}

/** GitHub offers redelivery of a delivery for 3 days: deliveries are remembered exactly that long (replays, redelivery). */
export const REDELIVERY_WINDOW_MS = 72 * 3_600_000;

export interface RetentionPolicy {
  /** Settled work, and the state of heads closed or superseded, is kept this long (RELAY_STATE_RETENTION_DAYS). */
  retentionMs: number;
  /** At most this many rows are deleted per table per run, each table in one short transaction. */
  maxRowsPerTable: number;
}

/** Rows deleted by one prune run, per table. */
export type PrunedRows = Record<
  "outbox" | "dispatch_log" | "jobs" | "job_latest" | "check_runs" | "backend_heads" | "tracked_runs" | "trunk_results" | "heads" | "deliveries",
  number
>;

/** An HTTP request to GitHub, replayed verbatim by the outbox worker through Octokit. */
export interface OutboxTaskInput {
  /**
   * Idempotency key: a second task with the same key is ignored, whatever the first one's state.
   * Dispatches: `dispatch:<delivery>:<downstream repo>`; aggregate check runs: `check:<repo>:<name>:<sha>`;
   * cancellations: `cancel:<downstream repo>:<run id>`; oncall comments and webhook messages:
   * `comment:<repo>:<pr>:<sha>:<downstream repo>`, `notify:<repo>:<pr>:<sha>:<downstream repo>`.
   */
  key: string;
  kind: TaskKind;
  /** The repo the request writes to (downstream repo for dispatches and cancellations, upstream repo for check runs). */
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
  /** Bumped when a newer desired state replaces a check-run task's request (queueCheckRun). */
  version: number;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  lastError?: string;
}

/**
 * What a queued row is for: the HUD's two tables (src/hud/writer.ts), or a result exported in the
 * crcr_workflow_job shape of hud.pytorch.org (src/export/). Each has its own drainer.
 */
export const HUD_TARGETS = ["results", "dispatches", "crcr"] as const;
export type HudTarget = (typeof HUD_TARGETS)[number];

/** A row waiting in the store for its drainer. */
export interface QueuedHudRow<T extends HudTarget = HudTarget> {
  id: number;
  target: T;
  row: Record<string, unknown>;
}

export interface HudQueueStats {
  pending: number;
  /** Queue time of the oldest pending row. */
  oldestPendingAt?: number;
  /** Rows their destination refused, kept for inspection. */
  rejected: number;
}

export interface DeliveryRecord {
  /** GitHub's delivery id (`X-GitHub-Delivery`); redeliveries reuse it. */
  id: string;
  event: string;
  /** Hash of the payload, so a redelivery of the same event is recognised. */
  payloadHash: string;
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
  /**
   * While nothing reported runs but the dispatch's runs are not known to be over: until when the relay
   * waits for them (the sweeper's cue), and whether a run was known when the wait began.
   */
  runWait?: { deadline: number; tracked: boolean };
}

/** One job of a backend on the upstream's trunk, whose latest result the trunk baseline keeps. */
export interface TrunkJobKey {
  upstreamRepo: string;
  downstreamRepo: string;
  workflowName: string;
  jobName: string;
}

/** One of the relay's check runs (or oncall comments): its GitHub id once created, and the hash of the desired state last queued. */
export interface CheckRunRecord {
  githubId?: number;
  desiredHash: string;
}

/**
 * The facts check runs are derived from (src/domain/heads.ts), read and written by key. Called by the
 * state core (src/state/) inside one transaction per event.
 */
export interface FactStore {
  head(key: HeadKey): Promise<HeadFacts | undefined>;
  putHead(head: HeadFacts): Promise<void>;
  /** The PR's heads in state open (normally one). */
  openHeadsOfPr(upstreamRepo: string, prNumber: number): Promise<HeadFacts[]>;
  /** Open heads after `after` in key order, at most `limit` (a policy change walks them in pages). */
  openHeads(after: HeadKey | undefined, limit: number): Promise<HeadFacts[]>;
  backendHead(key: BackendHeadKey): Promise<StoredBackendHead | undefined>;
  backendHeads(key: HeadKey): Promise<StoredBackendHead[]>;
  /** The backend head whose latest dispatch this is, if it still is the latest. */
  backendHeadOfDispatch(deliveryId: string, downstreamRepo: string): Promise<StoredBackendHead | undefined>;
  putBackendHead(facts: StoredBackendHead): Promise<void>;
  latestAttempt(key: BackendHeadKey, workflowName: string, jobName: string): Promise<LatestAttempt | undefined>;
  putLatestAttempt(key: BackendHeadKey, attempt: LatestAttempt): Promise<void>;
  /** Forgets the latest attempts of a backend head (a new dispatch starts over). */
  clearLatestAttempts(key: BackendHeadKey): Promise<void>;
  /** The latest attempts the aggregate lists: those that did not pass first, at most `limit`, in seq order. */
  listedAttempts(key: BackendHeadKey, limit: number): Promise<LatestAttempt[]>;
  /** The latest attempts with seq below `below` (the jobs with a check run of their own), in seq order. */
  attemptsBelowSeq(key: BackendHeadKey, below: number): Promise<LatestAttempt[]>;
  /** Backend heads whose run wait's deadline is before `before`, earliest first, at most `limit`. */
  awaitingRuns(before: number, limit: number): Promise<Array<{ deliveryId: string; downstreamRepo: string }>>;
  /** Records that downstream run `runId` of `downstreamRepo` belongs to dispatch `deliveryId` (kept if known; pruned after retention). */
  trackRun(downstreamRepo: string, runId: number, deliveryId: string, now: number): Promise<void>;
  /** The dispatch a tracked downstream run belongs to. */
  trackedRun(downstreamRepo: string, runId: number): Promise<string | undefined>;
  checkRun(key: string): Promise<CheckRunRecord | undefined>;
  /** Records a new desired state's hash and queues its write (replacing a queued older state of the key). */
  queueCheckRun(task: OutboxTaskInput & { kind: RenderedKind }, head: HeadKey, desiredHash: string, now: number): Promise<void>;
  /** The latest completed trunk result of a backend's job (src/domain/trunk-baseline.ts). */
  trunkResult(key: TrunkJobKey): Promise<TrunkJobResult | undefined>;
  /** Keeps `result` as the job's trunk result, unless the one kept is of a trunk commit dispatched later. */
  putTrunkResult(key: TrunkJobKey, result: TrunkJobResult, now: number): Promise<void>;
}

export interface InstallationRecord {
  repo: string;
  /** undefined when the App is known not to be installed on the repo. */
  installationId?: number;
  checkedAt: number;
}

/**
 * Everything the store reads and writes, usable inside a transaction (`Store.transaction`'s `tx`) or, each
 * call in a transaction of its own, on the store itself. Every method is asynchronous so an
 * implementation on a database server fits behind it; the SQLite one answers from its own file.
 */
export interface StoreTx extends FactStore {
  /**
   * Records a webhook delivery and its work in one atomic step. Returns "duplicate" (storing nothing)
   * when a delivery with this id and payload hash was accepted before.
   */
  acceptDelivery(delivery: DeliveryRecord, work: AcceptedWork, now: number): Promise<"accepted" | "duplicate">;
  hasDelivery(id: string): Promise<boolean>;
  /** Records a handled delivery and its payload hash (for events whose handling stores no work). */
  rememberDelivery(delivery: DeliveryRecord, now: number): Promise<void>;
  /** The id of another delivery with this payload hash accepted at or after `since`, if any (a replay). */
  deliveryWithPayload(payloadHash: string, exceptId: string, since: number): Promise<string | undefined>;

  /**
   * Pending tasks whose next attempt is due, oldest first, leaving out the excluded ones and those
   * claimed by anyone (claimTasks) whose lease has not expired at `now`.
   */
  dueTasks(now: number, limit: number, exclude?: TaskExclusion): Promise<OutboxTask[]>;
  /** The earliest time a pending task is due (a claimed one: not before its lease expires), leaving out the excluded ones. */
  nextDueAt(exclude?: TaskExclusion): Promise<number | undefined>;
  /**
   * Claims tasks for `owner` until `now + leaseMs`, in one write, and returns the ids it got: those still
   * pending and not claimed by another owner whose lease is unexpired. Recording an outcome (markSent,
   * scheduleRetry, markFailed, deferTask) releases the claim; an owner that dies loses it at expiry.
   */
  claimTasks(ids: readonly number[], owner: string, now: number, leaseMs: number): Promise<number[]>;
  /** Owners holding claims on pending tasks (expired or not). */
  claimOwners(): Promise<string[]>;
  /**
   * Releases the claims of `owner` on pending tasks: every one (the owner is known to be dead), or those of
   * `taskIds` only (claimed, then not sent: no write slot); returns how many it released.
   */
  releaseClaims(owner: string, taskIds?: readonly number[]): Promise<number>;
  /** Moves a pending task's next attempt to `at` without counting an attempt (it waited for a write slot). */
  deferTask(taskId: number, at: number): Promise<void>;
  /**
   * GitHub accepted the request. `resultId` is the created object's id (check runs). When the task's
   * version moved on while it was being sent (a newer check-run state arrived), it stays pending so
   * the newer state is written too.
   */
  markSent(taskId: number, result: { at: number; resultId?: number; version?: number }): Promise<void>;
  /** A transient failure: try again at `at` (attempts is incremented). */
  scheduleRetry(taskId: number, retry: { at: number; error: string }): Promise<void>;
  /** A permanent failure ("failed") or a task past its maximum age or attempts ("dead"). */
  markFailed(taskId: number, failure: { at: number; reason: string; outcome: "failed" | "dead" }): Promise<void>;
  outboxStats(): Promise<OutboxStats>;

  dispatchLog(deliveryId: string): Promise<DispatchLogEntry[]>;

  /** The id of the check run a `check_run` task created, by its task key. */
  checkRunId(key: string): Promise<number | undefined>;
  /** The task with this key, in any state. */
  taskByKey(key: string): Promise<OutboxTask | undefined>;
  /** When the dispatch to this downstream was accepted by GitHub. */
  dispatchSentAt(deliveryId: string, downstreamRepo: string): Promise<number | undefined>;

  getJob(key: JobKey): Promise<StoredJob | undefined>;
  /** Stores a job attempt's new state, and its HUD row (backends shown on the HUD). */
  putJob(job: StoredJob, hudRow: Record<string, unknown> | undefined, now: number): Promise<void>;
  /** Every job attempt reported on a head sha, any backend. */
  shaJobs(upstreamRepo: string, headSha: string): Promise<StoredJob[]>;
  /** Jobs still in progress that started before `before`. */
  staleJobs(before: number, limit: number): Promise<StoredJob[]>;
  /** Sent dispatches older than `sentBefore` with no job reported, not yet marked, on shas still open. */
  unreportedDispatches(sentBefore: number, limit: number): Promise<DispatchLogEntry[]>;
  /**
   * Records on a sent dispatch-log row that no job came back by the start timeout: `never_reported` (an
   * infrastructure failure of the backend) or `reports_not_expected` (a forward-only backend).
   */
  markUnreported(deliveryId: string, downstreamRepo: string, reason: UnreportedReason, now: number): Promise<void>;
  /** Queues a row for `target` (inside the caller's transaction, so it commits with the state it shows). */
  queueHudRow(target: HudTarget, row: Record<string, unknown>, now: number): Promise<void>;
  /**
   * Rows not yet written, oldest first, of `targets` only (default: all). Result rows come from putJob;
   * every change of a dispatch-log row queues a snapshot of it (target "dispatches", with a `hudVersion`
   * that grows); "crcr" rows from queueHudRow.
   */
  pendingHudRows<T extends HudTarget = HudTarget>(limit: number, targets?: readonly T[]): Promise<QueuedHudRow<T>[]>;
  /** Rows now written: they leave the queue. */
  removeHudRows(ids: readonly number[]): Promise<void>;
  /** Rows their destination refused: kept, with the error, and no longer offered by pendingHudRows. */
  rejectHudRows(ids: readonly number[], error: string, now: number): Promise<void>;
  /** The queue of `targets` (default: all). */
  hudQueueStats(targets?: readonly HudTarget[]): Promise<HudQueueStats>;

  /** Adds callback outcome counts and removes days before `keepFrom` (YYYY-MM-DD), in one transaction. */
  addCallbackOutcomes(counts: readonly CallbackOutcomeCount[], keepFrom: string): Promise<void>;
  /** Callback outcome counts of UTC days from `fromDay` (YYYY-MM-DD) on. */
  callbackOutcomes(fromDay: string): Promise<CallbackOutcomeCount[]>;

  getInstallation(repo: string): Promise<InstallationRecord | undefined>;
  setInstallation(repo: string, installationId: number | undefined, now: number): Promise<void>;
  /** Marks every repo recorded under this installation as not installed (it was deleted or suspended). */
  dropInstallation(installationId: number, now: number): Promise<void>;
  listInstallations(): Promise<InstallationRecord[]>;

  /**
   * Deletes settled state past retention (docs/dispatch.md, "Storage and retention"), at most
   * `maxRowsPerTable` rows per table, and returns freed pages to the file system. Pending work, check-run
   * ids of heads still open and rows not yet exported to the HUD are kept.
   */
  prune(now: number, policy: RetentionPolicy): Promise<PrunedRows>;
}

export interface Store extends StoreTx {
  /**
   * Runs `work` in one transaction: every write it makes through `tx` commits together when it settles,
   * or none does when it rejects. Resolves once that transaction has committed; rejects with `work`'s own
   * error (its writes rolled back) or with the error that kept the transaction from committing (then
   * nothing of it was written). An answer sent after it resolves is durable. The hot paths (webhooks,
   * callbacks, the outbox's outcomes) write through it.
   *
   * `work` uses `tx`, not the store (a store call waits for running transactions to finish, so one made
   * from inside `work` would wait for itself), awaits nothing but `tx`'s calls (no network I/O: a
   * transaction holds the database's write lock), and does not use `tx` after it settled (refused). The
   * SQLite store runs the work queued at the same moment in one transaction (group commit: one fsync for
   * all of it), each with its own savepoint, so a failing work rolls back alone.
   */
  transaction<T>(work: (tx: StoreTx) => Promise<T> | T): Promise<T>;
  /** Commits what is queued, then closes; later calls reject ("store closed"). */
  close(): Promise<void>;
}

/** `T` with every method answering synchronously: what a store on an embedded database implements underneath. */
export type Synchronous<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K];
};

/** Every StoreTx method, for implementations that serve their tables method by method; the check below fails to compile when one is missing. */
export const TX_METHODS = [
  "head", "putHead", "openHeadsOfPr", "openHeads", "backendHead", "backendHeads", "backendHeadOfDispatch", "putBackendHead",
  "latestAttempt", "putLatestAttempt", "clearLatestAttempts", "listedAttempts", "attemptsBelowSeq", "awaitingRuns", "trackRun", "trackedRun",
  "checkRun", "queueCheckRun", "trunkResult", "putTrunkResult",
  "acceptDelivery", "hasDelivery", "rememberDelivery", "deliveryWithPayload",
  "dueTasks", "nextDueAt", "claimTasks", "claimOwners", "releaseClaims", "deferTask", "markSent", "scheduleRetry", "markFailed", "outboxStats",
  "dispatchLog", "checkRunId", "taskByKey", "dispatchSentAt",
  "getJob", "putJob", "shaJobs", "staleJobs", "unreportedDispatches", "markUnreported",
  "queueHudRow", "pendingHudRows", "removeHudRows", "rejectHudRows", "hudQueueStats", "addCallbackOutcomes", "callbackOutcomes",
  "getInstallation", "setInstallation", "dropInstallation", "listInstallations", "prune",
] as const satisfies readonly (keyof StoreTx)[];
type Unlisted = Exclude<keyof StoreTx, (typeof TX_METHODS)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyMethodListed;
