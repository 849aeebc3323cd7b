// Sends what the store holds: each pending task once, paced per installation, retried with backoff,
// outcome recorded before the next request starts (so a crash can repeat at most the requests on the wire).
// An installation's budget is shared fairly between backends, and GitHub's rate-limit signals pause
// every write of that installation. When the store fails, the worker fails closed: it starts no request,
// keeps the outcomes it could not record in memory and retries them, so a task GitHub accepted is never
// picked again (docs/dispatch.md, "When the store fails").
import type { Logger } from "pino";
import { httpStatus, type GitHubClient } from "../github/client.js";
import { postOncallWebhook } from "./oncall-webhook.js";
import type { InstallationClients } from "../github/installation-clients.js";
import type { RelayMetrics } from "../metrics.js";
import { isRenderedKind, type OutboxTask, type Store, type StoreTx } from "../store/store.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { InstallationDirectory } from "../installations/directory.js";
import { backoffDelay, classifyFailure, installationPause } from "./retry-policy.js";
import { claimOwner, isGoneLocalOwner, processAlive, thisProcess } from "./claim-owner.js";
import { FairShare } from "./fair-share.js";
import { InstallationPauses, primaryLimitPauseUntil, type PauseReason } from "../limits/installation-pause.js";
import type { RateBudget } from "../limits/sliding-window.js";

/**
 * Due tasks looked at per fetch. Deeper than the concurrency so that the fair share sees other
 * backends' tasks behind one backend's burst (a backend has at most RELAY_MAX_JOB_CHECKS + 1 check runs
 * per head, and installations out of budget are left out of the fetch); a backlog beyond it is served
 * oldest first. Each fetch costs about 10 µs per task read, and the worker fetches after every burst of
 * answers: 500 made a fan-out to 200 downstreams spend most of the event loop in fetches.
 */
const DUE_WINDOW = 100;

/** First wait before trying a failing store again; it doubles up to STORE_RETRY_MAX_MS. */
const STORE_RETRY_FIRST_MS = 1000;
const STORE_RETRY_MAX_MS = 30_000;

/** Calls `wake` after `delayMs` without keeping the process alive; returns how to cancel it. */
export type Schedule = (wake: () => void, delayMs: number) => () => void;

/** The real Schedule: a timer that does not keep the process alive. */
export const unrefTimeout: Schedule = (wake, delayMs) => {
  const timer = setTimeout(wake, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

/** The store write that records what happened to a task, run in a transaction; kept and retried while the store fails. */
type Recording = (tx: StoreTx) => Promise<unknown>;

/** Why the worker is paused: the store failed a read or a write. */
export interface StoreFailure {
  /** When the current run of failures began. */
  since: number;
  /** The latest error. */
  error: string;
  /** Tasks GitHub answered whose outcome waits in memory to be recorded. */
  unrecorded: number;
}

type OutboxResponse = { headers: Record<string, string | number | undefined>; data: unknown };

export interface OutboxWorkerOptions {
  store: Store;
  clients: InstallationClients;
  installations: InstallationDirectory;
  /** Per-installation write budget. */
  limiter: RateBudget<number>;
  metrics: RelayMetrics;
  log: Logger;
  concurrency: number;
  maxAgeMs: number;
  requestTimeoutMs: number;
  now?: () => number;
  random?: () => number;
  /** Longest sleep between looks at the store (a safety net; notify() wakes the worker at once). */
  idleMs?: number;
  /** Timers (tests drive them with a simulated clock). */
  schedule?: Schedule;
  /** Who claims the tasks this worker sends (default: host, pid and a random suffix). */
  owner?: string;
  /**
   * A dispatch failed for good: called in the transaction that records it, so what follows from it (the
   * backend's aggregate check run, src/state/reports.ts) commits with it. Returns how many writes it queued.
   */
  onDispatchFailed?: (tx: StoreTx, dispatch: NonNullable<OutboxTask["dispatch"]>, outcome: "failed" | "dead", reason: string) => Promise<number>;
  /** The oncall webhook URL of a downstream repo (RELAY_ONCALL_WEBHOOKS), looked up when its message is sent. */
  webhookUrl?: (repo: string) => string | undefined;
}

/** A due task a look chose to send, with its installation as far as known. */
interface Chosen {
  task: OutboxTask;
  installationId: number | undefined;
}

export class OutboxWorker {
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #fairShare = new FairShare();
  readonly #pauses = new InstallationPauses();
  #lookScheduled = false;
  readonly #owner: string;
  /** Installations looked up during the current look at the store (#pump), by lower-cased repo. */
  #installationsSeen: Map<string, number | undefined> | undefined;
  /** Answered by GitHub, outcome not yet in the store: never picked again while here. */
  readonly #unrecorded = new Map<number, Recording>();
  #storeFailure: { since: number; error: string; retries: number } | undefined;
  #cancelWake: (() => void) | undefined;
  #cancelStoreRetry: (() => void) | undefined;
  #running = false;
  #pumping = false;
  /** The look running or last run (stop waits for it). */
  #pumpDone: Promise<boolean> = Promise.resolve(true);
  #again = false;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.#owner = options.owner ?? claimOwner();
  }

  /**
   * How long a claim holds a task: its request (up to the request timeout) and the recording of its
   * outcome, with room to spare. A worker that dies loses its claims after this long.
   */
  get #leaseMs(): number {
    return Math.max(60_000, 3 * this.options.requestTimeoutMs);
  }

  /**
   * Starts the worker. Resolves once its first look at the store is done (never rejects): a store that
   * fails at startup shows in readiness right away.
   */
  async start(): Promise<void> {
    this.#running = true;
    await this.#releaseClaimsOfGoneProcesses();
    await this.#pumpUntilSettled();
  }

  /** A process of this host that died (or this one's previous life) holds claims: they are free now. */
  async #releaseClaimsOfGoneProcesses(): Promise<void> {
    const { store, log } = this.options;
    const here = thisProcess();
    try {
      for (const owner of await store.claimOwners()) {
        if (owner === this.#owner || !isGoneLocalOwner(owner, here, processAlive)) continue;
        const released = await store.releaseClaims(owner);
        log.info({ owner, tasks: released }, "released the outbox claims of a process that is gone");
      }
    } catch (error) {
      // The first look at the store reports the failure (and pauses the worker); claims then only expire.
      log.warn({ err: String(error) }, "could not release stale outbox claims");
    }
  }

  /** Stops taking new work and waits for the requests in flight to finish and be recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancelWake?.();
    this.#cancelStoreRetry?.();
    await Promise.allSettled(this.#inFlight.values());
    // A look still running finishes first (it may have launched requests and recorded outcomes).
    await this.#pumpDone;
    await Promise.allSettled(this.#inFlight.values());
    if (await this.#recordUnrecorded()) return;
    this.options.log.error(
      { tasks: this.#unrecorded.size, err: this.#storeFailure?.error },
      "stopped with outcomes the store did not take; those tasks will be sent again after a restart",
    );
  }

  /**
   * New work was stored or a slot freed up: look at the store on the next turn of the event loop. The
   * calls of one turn (a burst of callbacks, a batch of answers from GitHub) share one look, which
   * reads a window of due tasks: looking once per call made the worker's reads grow with the backlog
   * times the event rate.
   */
  notify(): void {
    // While the store fails, only the store retry looks at it again.
    if (!this.#running || this.#storeFailure || this.#lookScheduled) return;
    this.#lookScheduled = true;
    setImmediate(() => {
      this.#lookScheduled = false;
      if (this.#running && !this.#storeFailure) void this.#pumpUntilSettled();
    });
  }

  /** Set while the worker is paused because the store fails. */
  storeFailure(): StoreFailure | undefined {
    const failure = this.#storeFailure;
    return failure && { since: failure.since, error: failure.error, unrecorded: this.#unrecorded.size };
  }

  /** Tasks being sent right now (for tests and shutdown). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Nothing under way: no look at the store running or queued, no request in flight; the worker waits for
   * its next wake or notify(). For tests that move a simulated clock only once the worker has settled.
   */
  get idle(): boolean {
    return !this.#pumping && !this.#lookScheduled && this.#inFlight.size === 0;
  }

  /** Installations whose writes are paused right now (GitHub limited them or their primary limit is nearly spent). */
  pausedInstallations(): number {
    return this.#pauses.active(this.#now()).size;
  }

  /**
   * Pumps until no new work turns up; false when the store failed (the worker is then paused). One look
   * at a time: a call while one runs asks it for another round.
   */
  #pumpUntilSettled(): Promise<boolean> {
    if (this.#pumping) {
      this.#again = true;
      return Promise.resolve(true);
    }
    this.#pumping = true;
    const done = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pump();
        } while (this.#again && this.#running);
        return true;
      } catch (error) {
        this.#storeFailed(error);
        return false;
      } finally {
        this.#pumping = false;
      }
    })();
    this.#pumpDone = done;
    return done;
  }

  /** Rejects when the store fails. */
  async #pump(): Promise<void> {
    const { store, concurrency } = this.options;
    const now = this.#now();
    // Installation → when it may write again (paused, or out of budget), left out of later fetches.
    const waiting = this.#pauses.active(now);
    const passed = new Set<number>();
    // One lookup per repo per look, not one per due task and use.
    this.#installationsSeen = new Map();
    const slots = () => concurrency - this.#inFlight.size;
    try {
      // Fetch again while slots remain and the window was full (or a task was dead-lettered, which may
      // queue work): an installation held back never hides other installations' work behind its backlog.
      for (let more = true; more && slots() > 0; ) {
        const due = await store.dueTasks(now, DUE_WINDOW, {
          excludeIds: [...this.#busyIds(), ...passed],
          excludeInstallations: [...waiting.keys()],
        });
        await this.#learnInstallations(due);
        const chosen: Chosen[] = [];
        let expired = false;
        for (const task of this.#fairShare.order(due, (candidate) => this.#shareKey(candidate))) {
          if (chosen.length >= slots()) break;
          passed.add(task.id);
          if (await this.#expireIfTooOld(task, now)) {
            expired = true;
            continue;
          }
          const installationId = this.#installationOf(task);
          if (installationId === undefined || !waiting.has(installationId)) chosen.push({ task, installationId });
        }
        await this.#launchChosen(chosen, now, waiting);
        more = due.length === DUE_WINDOW || expired;
      }
    } finally {
      this.#installationsSeen = undefined;
    }
    await this.#arm(waiting);
  }

  /**
   * Claims the tasks this look chose, in one write, then takes a write slot for each task it got and
   * sends it. Claiming comes first so that only the replica that holds a task spends budget on it: with
   * several replicas looking at the same due tasks, slots taken before the claim went to tasks another
   * replica sent (three replicas left half the shared budget unused). A claimed task whose installation
   * has no slot now is released at once, untouched, for whichever replica finds room first.
   */
  async #launchChosen(chosen: readonly Chosen[], now: number, waiting: Map<number, number>): Promise<void> {
    if (chosen.length === 0) return;
    const { store } = this.options;
    const ids = chosen.map(({ task }) => task.id);
    // Through a grouped transaction: the claim shares its commit (an fsync) with the outcomes and events of the moment.
    // Each claimed task is read again inside it: between this look's read and the claim, another process may
    // have sent the task and a newer state replaced its request (queueCheckRun); the claim must send that one,
    // not the state read before (which would write an older state again).
    const claimed = await store.transaction(async (tx) => {
      const current = new Map<number, OutboxTask>();
      const got = new Set(await tx.claimTasks(ids, this.#owner, now, this.#leaseMs));
      for (const { task } of chosen) {
        if (!got.has(task.id)) continue;
        const fresh = await tx.taskByKey(task.key);
        if (fresh?.id === task.id) current.set(task.id, fresh);
      }
      return current;
    });
    const unsent: number[] = [];
    for (const { task, installationId } of chosen) {
      const fresh = claimed.get(task.id);
      if (!fresh) continue;
      if (installationId !== undefined) {
        // The slot is taken as late as possible, at the time of taking (this look may have begun a while ago).
        const wait = waiting.has(installationId) ? waiting.get(installationId)! - now : await this.#takeWriteSlot(installationId, this.#now());
        if (wait > 0) {
          waiting.set(installationId, now + wait);
          unsent.push(task.id);
          continue;
        }
      }
      this.#fairShare.served(this.#shareKey(task), task);
      this.#launch(fresh, installationId);
    }
    if (unsent.length > 0) await store.releaseClaims(this.#owner, unsent);
  }

  /** Dead-letters a task older than the maximum age; true when it did. */
  async #expireIfTooOld(task: OutboxTask, now: number): Promise<boolean> {
    if (now - task.createdAt <= this.options.maxAgeMs) return false;
    const lastError = task.lastError ? ` (last error: ${task.lastError})` : "";
    const recording = this.#finish(task, "dead", `max_age: not sent within ${Math.round(this.options.maxAgeMs / 60_000)} min${lastError}`);
    try {
      await this.options.store.transaction(recording);
    } catch (error) {
      this.#unrecorded.set(task.id, recording);
      throw error;
    }
    return true;
  }

  /** Reads the recorded installation of every repo among `tasks` not looked at yet in this look. */
  async #learnInstallations(tasks: readonly OutboxTask[]): Promise<void> {
    const seen = this.#installationsSeen;
    if (!seen) return;
    for (const task of tasks) {
      const key = task.repo.toLowerCase();
      if (task.kind === "notify") continue;
      if (task.installationId === undefined && !seen.has(key)) seen.set(key, await this.options.installations.cachedId(task.repo));
    }
  }

  /** The task's installation: its own, or its repo's as recorded (read by #learnInstallations for this look). */
  #installationOf(task: OutboxTask): number | undefined {
    // A webhook message is not a GitHub write: no installation, no write slot.
    if (task.kind === "notify") return undefined;
    return task.installationId ?? this.#installationsSeen?.get(task.repo.toLowerCase());
  }

  /** Tasks share a budget per installation; one not resolved yet is grouped by its repo. */
  #shareKey(task: OutboxTask): string {
    return String(this.#installationOf(task) ?? `repo:${task.repo.toLowerCase()}`);
  }

  /** 0 when the installation may write now (a budget slot is taken), else the ms to wait. */
  async #takeWriteSlot(installationId: number, now: number): Promise<number> {
    return this.#pauses.remaining(installationId, now) || (await this.options.limiter.tryAcquire(installationId, now));
  }

  #pause(installationId: number, until: number, reason: PauseReason): void {
    // Replicas sharing the budget hold off too (a failure to tell them only leaves them to meet the limit themselves).
    void this.options.limiter.block?.(installationId, until).catch((error: unknown) => this.options.log.warn({ err: String(error) }, "could not share a pause"));
    if (!this.#pauses.pause(installationId, until, this.#now())) return;
    this.options.metrics.githubPauses.inc({ reason });
    this.options.log.warn({ installationId, reason, pausedForMs: until - this.#now() }, "GitHub limits this installation; pausing its writes");
  }

  #launch(task: OutboxTask, installationId: number | undefined): void {
    const run = this.#send(task, installationId, this.#storeFailure)
      .then(
        (recording) => {
          if (recording) return this.#record(task, recording);
          return undefined;
        },
        // Outside its request a send only reads the store (requestFor), so nothing was sent.
        (error: unknown) => this.#storeFailed(error),
      )
      .finally(() => {
        this.#inFlight.delete(task.id);
        this.notify();
      });
    this.#inFlight.set(task.id, run);
  }

  /** Sends a task; returns how to record the outcome, or nothing when it was left pending unsent. */
  /** `failureAtLaunch`: the store failure in course when the task was launched (the look that resumes after one). */
  async #send(task: OutboxTask, knownInstallationId: number | undefined, failureAtLaunch: object | undefined): Promise<Recording | undefined> {
    const { store, clients, installations, requestTimeoutMs } = this.options;
    if (task.kind === "notify") return this.#notify(task);
    const { route, params } = await requestFor(task, store);
    let installationId = knownInstallationId;
    let response: OutboxResponse;
    // Only GitHub's answers are judged here; recording them is the caller's step, whose failure is the store's.
    try {
      if (installationId === undefined) {
        installationId = await installations.resolve(task.repo);
        if (installationId === undefined) return this.#finish(task, "failed", "not_installed");
        // Resolved now; the write itself waits for a slot in that installation's budget.
        const wait = await this.#takeWriteSlot(installationId, this.#now());
        if (wait > 0) {
          const at = this.#now() + wait;
          return (tx) => tx.deferTask(task.id, at);
        }
      }
      const client: GitHubClient = await clients.get(installationId);
      // The store failed while this task waited for its client (a failure that began after it was launched;
      // the look that resumes after a failure launches during it): keep it pending rather than send it.
      if (this.#storeFailure && this.#storeFailure !== failureAtLaunch) return undefined;
      response = await client.request(route, { ...params, request: { signal: AbortSignal.timeout(requestTimeoutMs) } });
    } catch (error) {
      return this.#failed(task, error, installationId);
    }
    return this.#sent(task, installationId, response);
  }

  /** Posts an oncall webhook message; a backend whose webhook was removed from the configuration since is not retried. */
  async #notify(task: OutboxTask): Promise<Recording> {
    const url = this.options.webhookUrl?.(task.repo);
    if (url === undefined) return this.#finish(task, "failed", "webhook_not_configured");
    try {
      await postOncallWebhook(url, task.request.params, this.options.requestTimeoutMs);
    } catch (error) {
      return this.#failed(task, error, undefined);
    }
    const result = { at: this.#now(), version: task.version };
    return (tx) => tx.markSent(task.id, result);
  }

  #sent(task: OutboxTask, installationId: number, response: OutboxResponse): Recording {
    const reserveSpentUntil = primaryLimitPauseUntil(response.headers);
    if (reserveSpentUntil !== undefined) this.#pause(installationId, reserveSpentUntil, "primary_reserve");
    if (task.kind === "dispatch") this.options.metrics.dispatches.inc({ outcome: "sent", reason: "" });
    const { data } = response;
    const resultId = typeof data === "object" && data !== null && "id" in data && typeof data.id === "number" ? data.id : undefined;
    const result = { at: this.#now(), version: task.version, ...(resultId !== undefined && { resultId }) };
    return (tx) => tx.markSent(task.id, result);
  }

  #failed(task: OutboxTask, error: unknown, installationId: number | undefined): Recording {
    const { metrics, log, maxAgeMs } = this.options;
    const now = this.#now();
    // GitHub answers 409 to cancelling a run that already finished: nothing is left to cancel.
    if (task.kind === "cancel" && httpStatus(error) === 409) return (tx) => tx.markSent(task.id, { at: now, version: task.version });
    // Octokit reports network errors and timeouts as status 500 without a response: no answer arrived.
    const response = (error as { response?: { headers?: Record<string, string> } }).response;
    const verdict = classifyFailure(
      {
        ...(response && { status: httpStatus(error) }),
        headers: response?.headers ?? {},
        message: error instanceof Error ? error.message : String(error),
      },
      now,
    );
    const pause = installationPause(verdict);
    if (pause && installationId !== undefined) this.#pause(installationId, now + pause.ms, pause.reason);
    if (verdict.kind === "permanent") {
      const markFailed = this.#finish(task, "failed", verdict.reason);
      if (httpStatus(error) !== 404 || task.kind !== "dispatch") return markFailed;
      // 404 on a dispatch usually means the App was uninstalled from that repo: look again next time.
      return async (tx) => {
        await this.options.installations.forget(task.repo, tx);
        await markFailed(tx);
      };
    }
    const at = now + backoffDelay(task.attempts, verdict.retryAfterMs, (this.options.random ?? Math.random)());
    if (at - task.createdAt > maxAgeMs) return this.#finish(task, "dead", `max_age after ${verdict.reason}`);
    metrics.outboxRetries.inc({ kind: task.kind, reason: verdict.reason });
    log.warn({ task: task.key, reason: verdict.reason, attempt: task.attempts + 1, retryInMs: at - now }, "outbox request failed; will retry");
    return (tx) => tx.scheduleRetry(task.id, { at, error: verdict.reason });
  }

  #finish(task: OutboxTask, outcome: "failed" | "dead", reason: string): Recording {
    const at = this.#now();
    if (task.kind === "dispatch") this.options.metrics.dispatches.inc({ outcome, reason: reason.split(":")[0] ?? reason });
    this.options.log.warn({ task: task.key, outcome, reason }, "outbox task not sent");
    const { onDispatchFailed } = this.options;
    // What the failure queues (the aggregate's new state) is picked up by the look that follows every recording.
    return async (tx) => {
      await tx.markFailed(task.id, { at, reason, outcome });
      if (task.dispatch && onDispatchFailed) await onDispatchFailed(tx, task.dispatch, outcome, reason);
    };
  }

  /** Records a task's outcome; when the store refuses it, keeps it to retry and pauses the worker. */
  /**
   * Records a task's outcome in a grouped transaction (many outcomes per fsync); the task counts as in
   * flight, so it is never picked again, until the outcome is committed. When the store refuses it, the
   * outcome is kept to retry and the worker pauses.
   */
  async #record(task: OutboxTask, recording: Recording): Promise<void> {
    try {
      await this.options.store.transaction(recording);
    } catch (error) {
      this.#unrecorded.set(task.id, recording);
      this.#storeFailed(error);
    }
  }

  /** Writes the kept outcomes; false (and the failure noted) when the store refuses one. */
  async #recordUnrecorded(): Promise<boolean> {
    for (const [taskId, recording] of this.#unrecorded) {
      try {
        await this.options.store.transaction(recording);
      } catch (error) {
        this.#storeFailed(error);
        return false;
      }
      this.#unrecorded.delete(taskId);
    }
    return true;
  }

  /** Pauses the worker (once per run of failures) and schedules a retry of the store. */
  #storeFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#storeFailure) {
      this.#storeFailure.error = message;
      return;
    }
    this.#storeFailure = { since: this.#now(), error: message, retries: 0 };
    this.#cancelWake?.();
    this.options.metrics.outboxStoreFailing.set(1);
    this.options.log.error({ err: message, unrecorded: this.#unrecorded.size }, "the store failed; the outbox starts no request until it works again");
    this.#scheduleStoreRetry();
  }

  #scheduleStoreRetry(): void {
    if (!this.#running || !this.#storeFailure) return;
    const delay = Math.min(STORE_RETRY_MAX_MS, STORE_RETRY_FIRST_MS * 2 ** this.#storeFailure.retries);
    this.#cancelStoreRetry = this.#schedule(() => void this.#retryStore(), delay);
  }

  /** Records the kept outcomes, then reads the store as the pump does; resumes when both work. */
  async #retryStore(): Promise<void> {
    const failure = this.#storeFailure;
    if (!this.#running || !failure) return;
    if ((await this.#recordUnrecorded()) && (await this.#pumpUntilSettled())) {
      this.#storeFailure = undefined;
      this.options.metrics.outboxStoreFailing.set(0);
      this.options.log.info({ failedForMs: this.#now() - failure.since }, "the store works again; the outbox resumed");
      return;
    }
    failure.retries += 1;
    this.#scheduleStoreRetry();
  }

  /** Tasks not to pick: on the wire, or answered and not yet recorded. */
  #busyIds(): number[] {
    return [...this.#inFlight.keys(), ...this.#unrecorded.keys()];
  }

  /** Sleeps until the next task is due or a waiting installation may write again. */
  async #arm(waiting: Map<number, number>): Promise<void> {
    this.#cancelWake?.();
    if (!this.#running) return;
    const now = this.#now();
    const candidates = [now + (this.options.idleMs ?? 5000), ...waiting.values()];
    // With every slot taken, the next finished request wakes the worker (notify), not a due task.
    const nextDue =
      this.#inFlight.size < this.options.concurrency
        ? await this.options.store.nextDueAt({ excludeIds: this.#busyIds(), excludeInstallations: [...waiting.keys()] })
        : undefined;
    if (nextDue !== undefined) candidates.push(nextDue);
    const delay = Math.max(0, Math.min(...candidates) - now);
    this.#cancelWake = this.#schedule(() => this.notify(), delay);
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }

  #schedule(wake: () => void, delayMs: number): () => void {
    return (this.options.schedule ?? unrefTimeout)(wake, delayMs);
  }
}

/**
 * The request to send for a task. A check-run or comment task holds the object's desired state: the first
 * send creates it, later ones update it in place (same id), so re-reports never add duplicates.
 */
export async function requestFor(task: OutboxTask, store: Pick<Store, "checkRunId">): Promise<GitHubRequest> {
  if (!isRenderedKind(task.kind)) return task.request;
  const id = await store.checkRunId(task.key);
  if (id === undefined) return task.request;
  if (task.kind === "comment") {
    const { owner, repo, body } = task.request.params;
    return { route: "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", params: { owner, repo, body, comment_id: id } };
  }
  const { head_sha: _headSha, ...update } = task.request.params;
  return { route: "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", params: { ...update, check_run_id: id } };
}
