// Sliding-window rate limits (pure, clock injected): at most `limit` events per key in any window of
// `ms`. Used for per-installation GitHub write budgets and per-repo callback limits.

export interface Window {
  ms: number;
  limit: number;
}

export class SlidingWindowLimiter<K> {
  /** Event times per key, oldest first, kept for the longest window. */
  readonly #events = new Map<K, number[]>();
  readonly #longest: number;

  constructor(private readonly windows: readonly Window[]) {
    this.#longest = Math.max(...windows.map((window) => window.ms));
  }

  /** Takes a slot for `key` at `now`; returns 0, or the ms to wait when no slot is free. */
  tryAcquire(key: K, now: number): number {
    const wait = this.waitFor(key, now);
    if (wait === 0) this.#history(key, now).push(now);
    return wait;
  }

  /** Ms until `key` may act again (0 = now). */
  waitFor(key: K, now: number): number {
    const events = this.#history(key, now);
    let wait = 0;
    for (const { ms, limit } of this.windows) {
      const inWindow = events.filter((at) => at > now - ms);
      if (inWindow.length >= limit) {
        // The slot frees when the oldest event that still counts leaves the window.
        wait = Math.max(wait, (inWindow[inWindow.length - limit] ?? now) + ms - now);
      }
    }
    return wait;
  }

  #history(key: K, now: number): number[] {
    const kept = (this.#events.get(key) ?? []).filter((at) => at > now - this.#longest);
    this.#events.set(key, kept);
    return kept;
  }
}

export interface WriteBudget {
  perMinute: number;
  perHour: number;
}

/**
 * Per-installation pacing of content-creating requests. GitHub's secondary limits allow no more than
 * 80 content-generating requests a minute and 500 an hour (docs.github.com, "Rate limits for the REST
 * API"). Each installation acts with its own token, so each gets its own windows: one busy installation
 * never slows the others. (GitHub documents primary limits per installation; how secondary limits are
 * counted for Apps is not documented, so the budgets are configurable.)
 */
export function writeLimiter(budget: WriteBudget): SlidingWindowLimiter<number> {
  return new SlidingWindowLimiter<number>([
    { ms: 60_000, limit: budget.perMinute },
    { ms: 3_600_000, limit: budget.perHour },
  ]);
}
