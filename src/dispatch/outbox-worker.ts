// Sends what the store holds: each pending task once, paced per installation, retried with backoff,
// outcome recorded before the next request starts (so a crash can repeat at most the requests on the wire).
// An installation's budget is shared fairly between backends, and GitHub's rate-limit signals pause
// every write of that installation.
import type { Logger } from "pino";
import { httpStatus, type GitHubClient } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import type { RelayMetrics } from "../metrics.js";
import type { GitHubRequest, OutboxTask, Store } from "../store/store.js";
import type { InstallationDirectory } from "../upstream/installations.js";
import { backoffDelay, classifyFailure, installationPause } from "./retry-policy.js";
import { FairShare } from "./fair-share.js";
import { InstallationPauses, primaryLimitPauseUntil, type PauseReason } from "../limits/installation-pause.js";
import type { SlidingWindowLimiter } from "../limits/sliding-window.js";

/**
 * Due tasks looked at per fetch. Deeper than the concurrency so that the fair share sees other
 * backends' tasks behind one backend's burst; a backlog beyond it is served oldest first.
 */
const DUE_WINDOW = 500;

export interface OutboxWorkerOptions {
  store: Store;
  clients: InstallationClients;
  installations: InstallationDirectory;
  /** Per-installation write budget. */
  limiter: SlidingWindowLimiter<number>;
  metrics: RelayMetrics;
  log: Logger;
  concurrency: number;
  maxAgeMs: number;
  requestTimeoutMs: number;
  now?: () => number;
  random?: () => number;
  /** Longest sleep between looks at the store (a safety net; notify() wakes the worker at once). */
  idleMs?: number;
}

export class OutboxWorker {
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #fairShare = new FairShare();
  readonly #pauses = new InstallationPauses();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #pumping = false;
  #again = false;

  constructor(private readonly options: OutboxWorkerOptions) {}

  start(): void {
    this.#running = true;
    this.notify();
  }

  /** Stops taking new work and waits for the requests in flight to finish and be recorded. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await Promise.allSettled(this.#inFlight.values());
  }

  /** New work was stored or a slot freed up: look at the store now. */
  notify(): void {
    if (!this.#running) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#pump();
      } while (this.#again && this.#running);
    } finally {
      this.#pumping = false;
    }
  }

  /** Tasks being sent right now (for tests and shutdown). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Installations whose writes are paused right now (GitHub limited them or their primary limit is nearly spent). */
  pausedInstallations(): number {
    return this.#pauses.active(this.#now()).size;
  }

  #pump(): void {
    const { store, concurrency } = this.options;
    const now = this.#now();
    // Installation → when it may write again (paused, or out of budget), left out of later fetches.
    const waiting = this.#pauses.active(now);
    const passed = new Set<number>();
    // Refetch after holding an installation back, so its backlog never hides other installations' work.
    for (let progress = true; progress && this.#inFlight.size < concurrency; ) {
      progress = false;
      const due = store.dueTasks(now, DUE_WINDOW, {
        excludeIds: [...this.#inFlight.keys(), ...passed],
        excludeInstallations: [...waiting.keys()],
      });
      for (const task of this.#fairShare.order(due, (candidate) => this.#shareKey(candidate))) {
        if (this.#inFlight.size >= concurrency) break;
        passed.add(task.id);
        progress = this.#consider(task, now, waiting) || progress;
      }
    }
    this.#arm(waiting);
  }

  /** Starts, expires or holds back one due task; true when it changed what the next fetch returns. */
  #consider(task: OutboxTask, now: number, waiting: Map<number, number>): boolean {
    if (now - task.createdAt > this.options.maxAgeMs) {
      const lastError = task.lastError ? ` (last error: ${task.lastError})` : "";
      this.#finish(task, "dead", `max_age: not sent within ${Math.round(this.options.maxAgeMs / 60_000)} min${lastError}`);
      return true;
    }
    const installationId = this.#installationOf(task);
    if (installationId !== undefined) {
      if (waiting.has(installationId)) return false;
      const wait = this.#takeWriteSlot(installationId, now);
      if (wait > 0) {
        waiting.set(installationId, now + wait);
        return true;
      }
    }
    this.#fairShare.served(this.#shareKey(task), task);
    this.#launch(task, installationId);
    return true;
  }

  #installationOf(task: OutboxTask): number | undefined {
    return task.installationId ?? this.options.installations.cachedId(task.repo);
  }

  /** Tasks share a budget per installation; one not resolved yet is grouped by its repo. */
  #shareKey(task: OutboxTask): string {
    return String(this.#installationOf(task) ?? `repo:${task.repo.toLowerCase()}`);
  }

  /** 0 when the installation may write now (a budget slot is taken), else the ms to wait. */
  #takeWriteSlot(installationId: number, now: number): number {
    return this.#pauses.remaining(installationId, now) || this.options.limiter.tryAcquire(installationId, now);
  }

  #pause(installationId: number, until: number, reason: PauseReason): void {
    if (!this.#pauses.pause(installationId, until, this.#now())) return;
    this.options.metrics.githubPauses.inc({ reason });
    this.options.log.warn({ installationId, reason, pausedForMs: until - this.#now() }, "GitHub limits this installation; pausing its writes");
  }

  #launch(task: OutboxTask, installationId: number | undefined): void {
    const run = this.#send(task, installationId)
      .catch((error: unknown) => this.options.log.error({ task: task.key, err: String(error) }, "outbox task crashed"))
      .finally(() => {
        this.#inFlight.delete(task.id);
        this.notify();
      });
    this.#inFlight.set(task.id, run);
  }

  async #send(task: OutboxTask, knownInstallationId: number | undefined): Promise<void> {
    const { store, clients, installations, requestTimeoutMs } = this.options;
    let installationId = knownInstallationId;
    try {
      if (installationId === undefined) {
        installationId = await installations.resolve(task.repo);
        if (installationId === undefined) {
          this.#finish(task, "failed", "not_installed");
          return;
        }
        // Resolved now; the write itself waits for a slot in that installation's budget.
        const wait = this.#takeWriteSlot(installationId, this.#now());
        if (wait > 0) {
          store.deferTask(task.id, this.#now() + wait);
          return;
        }
      }
      const client: GitHubClient = await clients.get(installationId);
      const { route, params } = requestFor(task, store);
      const response = await client.request(route, { ...params, request: { signal: AbortSignal.timeout(requestTimeoutMs) } });
      const reserveSpentUntil = primaryLimitPauseUntil(response.headers);
      if (reserveSpentUntil !== undefined) this.#pause(installationId, reserveSpentUntil, "primary_reserve");
      const data: unknown = response.data;
      const resultId = typeof data === "object" && data !== null && "id" in data && typeof data.id === "number" ? data.id : undefined;
      store.markSent(task.id, { at: this.#now(), version: task.version, ...(resultId !== undefined && { resultId }) });
      if (task.kind === "dispatch") this.options.metrics.dispatches.inc({ outcome: "sent", reason: "" });
    } catch (error) {
      this.#failed(task, error, installationId);
    }
  }

  #failed(task: OutboxTask, error: unknown, installationId: number | undefined): void {
    const { store, metrics, log, maxAgeMs } = this.options;
    const now = this.#now();
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
      // 404 on a dispatch usually means the App was uninstalled from that repo: look again next time.
      if (httpStatus(error) === 404 && task.kind === "dispatch") this.options.installations.forget(task.repo);
      this.#finish(task, "failed", verdict.reason);
      return;
    }
    const at = now + backoffDelay(task.attempts, verdict.retryAfterMs, (this.options.random ?? Math.random)());
    if (at - task.createdAt > maxAgeMs) {
      this.#finish(task, "dead", `max_age after ${verdict.reason}`);
      return;
    }
    metrics.outboxRetries.inc({ kind: task.kind, reason: verdict.reason });
    log.warn({ task: task.key, reason: verdict.reason, attempt: task.attempts + 1, retryInMs: at - now }, "GitHub request failed; will retry");
    store.scheduleRetry(task.id, { at, error: verdict.reason });
  }

  #finish(task: OutboxTask, outcome: "failed" | "dead", reason: string): void {
    this.options.store.markFailed(task.id, { at: this.#now(), reason, outcome });
    if (task.kind === "dispatch") this.options.metrics.dispatches.inc({ outcome, reason: reason.split(":")[0] ?? reason });
    this.options.log.warn({ task: task.key, outcome, reason }, "outbox task not sent");
  }

  /** Sleeps until the next task is due or a waiting installation may write again. */
  #arm(waiting: Map<number, number>): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    const now = this.#now();
    const candidates = [now + (this.options.idleMs ?? 5000), ...waiting.values()];
    // With every slot taken, the next finished request wakes the worker (notify), not a due task.
    const nextDue =
      this.#inFlight.size < this.options.concurrency
        ? this.options.store.nextDueAt({ excludeIds: [...this.#inFlight.keys()], excludeInstallations: [...waiting.keys()] })
        : undefined;
    if (nextDue !== undefined) candidates.push(nextDue);
    const delay = Math.max(0, Math.min(...candidates) - now);
    this.#timer = setTimeout(() => this.notify(), delay);
    this.#timer.unref();
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/**
 * The request to send for a task. A check-run task holds the run's desired state: the first send
 * creates the run, later ones update it in place (same id), so re-reports never add duplicate runs.
 */
export function requestFor(task: OutboxTask, store: Pick<Store, "checkRunId">): GitHubRequest {
  if (task.kind !== "check_run") return task.request;
  const checkRunId = store.checkRunId(task.key);
  if (checkRunId === undefined) return task.request;
  const { head_sha: _headSha, ...update } = task.request.params;
  return { route: "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", params: { ...update, check_run_id: checkRunId } };
}
