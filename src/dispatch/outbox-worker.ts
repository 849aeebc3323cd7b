// Sends what the store holds: each pending task once, paced per installation, retried with backoff,
// outcome recorded before the next request starts (so a crash can repeat at most the requests on the wire).
import type { Logger } from "pino";
import { httpStatus, type GitHubClient } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import type { RelayMetrics } from "../metrics.js";
import type { GitHubRequest, OutboxTask, Store } from "../store/store.js";
import type { InstallationDirectory } from "../upstream/installations.js";
import { backoffDelay, classifyFailure } from "./retry-policy.js";
import type { SlidingWindowLimiter } from "../limits/sliding-window.js";

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

  #pump(): void {
    const { store, concurrency } = this.options;
    const now = this.#now();
    const throttled = new Map<number, number>();
    const passed = new Set<number>();
    // Refetch after throttling an installation, so its backlog never hides other installations' work.
    for (let progress = true; progress && this.#inFlight.size < concurrency; ) {
      progress = false;
      const due = store.dueTasks(now, concurrency * 4, {
        excludeIds: [...this.#inFlight.keys(), ...passed],
        excludeInstallations: [...throttled.keys()],
      });
      for (const task of due) {
        if (this.#inFlight.size >= concurrency) break;
        passed.add(task.id);
        progress = this.#consider(task, now, throttled) || progress;
      }
    }
    this.#arm(throttled);
  }

  /** Starts, expires or holds back one due task; true when it changed what the next fetch returns. */
  #consider(task: OutboxTask, now: number, throttled: Map<number, number>): boolean {
    if (now - task.createdAt > this.options.maxAgeMs) {
      const lastError = task.lastError ? ` (last error: ${task.lastError})` : "";
      this.#finish(task, "dead", `max_age: not sent within ${Math.round(this.options.maxAgeMs / 60_000)} min${lastError}`);
      return true;
    }
    const installationId = task.installationId ?? this.options.installations.cachedId(task.repo);
    if (installationId !== undefined) {
      if (throttled.has(installationId)) return false;
      const wait = this.options.limiter.tryAcquire(installationId, now);
      if (wait > 0) {
        throttled.set(installationId, now + wait);
        return true;
      }
    }
    this.#launch(task, installationId);
    return true;
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
        const wait = this.options.limiter.tryAcquire(installationId, this.#now());
        if (wait > 0) {
          store.deferTask(task.id, this.#now() + wait);
          return;
        }
      }
      const client: GitHubClient = await clients.get(installationId);
      const { route, params } = requestFor(task, store);
      const response = await client.request(route, { ...params, request: { signal: AbortSignal.timeout(requestTimeoutMs) } });
      const data: unknown = response.data;
      const resultId = typeof data === "object" && data !== null && "id" in data && typeof data.id === "number" ? data.id : undefined;
      store.markSent(task.id, { at: this.#now(), version: task.version, ...(resultId !== undefined && { resultId }) });
      if (task.kind === "dispatch") this.options.metrics.dispatches.inc({ outcome: "sent", reason: "" });
    } catch (error) {
      this.#failed(task, error);
    }
  }

  #failed(task: OutboxTask, error: unknown): void {
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

  /** Sleeps until the next task is due or a throttled installation has a free slot. */
  #arm(throttled: Map<number, number>): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    const now = this.#now();
    const candidates = [now + (this.options.idleMs ?? 5000), ...throttled.values()];
    const nextDue = this.options.store.nextDueAt({ excludeIds: [...this.#inFlight.keys()], excludeInstallations: [...throttled.keys()] });
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
