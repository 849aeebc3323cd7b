// The rhythm shared by the relay's background queue drainers (the HUD writer, src/hud/writer.ts, and the
// crcr export, src/export/exporter.ts): a drain every flushMs, one at a time (concurrent flushes share the
// running one, and a flush asked for meanwhile runs right after it), only on the leader, backing off
// (doubling up to maxBackoffMs) while drains fail, and the failure state they report.

export interface DrainTiming {
  flushMs: number;
  /** Longest wait between attempts while drains keep failing (default 60 s). */
  maxBackoffMs?: number;
  /** Whether this process drains now: of several replicas, only the leader drains a shared queue. */
  leader?: () => boolean;
  now?: () => number;
}

export interface DrainHealth {
  failing: boolean;
  /** When the current run of failed drains began (epoch ms). */
  failingSince?: number;
  /** The destination's own words: for logs and tests, not for unauthenticated answers. */
  lastError?: string;
}

export class DrainLoop<Result extends { error?: string }> {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<Result> | undefined;
  #again = false;
  #stopped = true;
  #failures = 0;
  #failingSince: number | undefined;
  #lastError: string | undefined;

  /** `drain` empties the queue once; `idle` is the result of a flush that drained nothing (not the leader). */
  constructor(
    private readonly timing: DrainTiming,
    private readonly drain: () => Promise<Result>,
    private readonly idle: () => Result,
  ) {}

  /** Drains in a row that failed (0 while drains get through). */
  get failures(): number {
    return this.#failures;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(this.timing.flushMs);
  }

  /** Drains now. Concurrent calls share one run; a replica that does not lead drains nothing. */
  flush(): Promise<Result> {
    if (this.timing.leader && !this.timing.leader()) return Promise.resolve(this.idle());
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.drain().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.flush();
      }
    });
    return this.#running;
  }

  /** Stops the timer and waits for a drain under way; what is queued waits for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** A drain failed; returns the number of failures in a row (callers log the first and every tenth). */
  failed(error: string): number {
    this.#failures += 1;
    this.#failingSince ??= this.#now();
    this.#lastError = error;
    return this.#failures;
  }

  /** A drain got through; returns how many had failed before it. */
  recovered(): number {
    const before = this.#failures;
    this.#failures = 0;
    this.#failingSince = undefined;
    this.#lastError = undefined;
    return before;
  }

  health(): DrainHealth {
    return {
      failing: this.#failures > 0,
      ...(this.#failingSince !== undefined && { failingSince: this.#failingSince }),
      ...(this.#lastError !== undefined && { lastError: this.#lastError }),
    };
  }

  #now(): number {
    return (this.timing.now ?? Date.now)();
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.flush().then((result) => this.#schedule(result.error ? this.#backoff() : this.timing.flushMs));
    }, delayMs);
    this.#timer.unref();
  }

  /** Doubles from the flush interval up to maxBackoffMs while drains keep failing. */
  #backoff(): number {
    return Math.min(this.timing.maxBackoffMs ?? 60_000, this.timing.flushMs * 2 ** Math.min(this.#failures, 16));
  }
}
