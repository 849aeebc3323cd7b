// Sliding-window rate limits (pure, clock injected): at most `limit` events per key in any window of
// `ms`. Used for per-installation GitHub write budgets, per-repo callback limits and per-repo commit
// lookups. Memory stays bounded: a key with no event inside the longest window is forgotten (when next
// looked at, or by a sweep that runs once per `size` new events, so amortised O(1) per call), and past
// `maxKeys` the least recently active keys are forgotten too.

export interface Window {
  ms: number;
  limit: number;
}

export interface LimiterOptions {
  /** Most keys remembered at once (default 100,000); beyond it the least recently active tenth is dropped. */
  maxKeys?: number;
}

const DEFAULT_MAX_KEYS = 100_000;
const MIN_EVENTS_BETWEEN_SWEEPS = 1024;
/** Share of maxKeys dropped at once when it is exceeded, so the linear pass is paid rarely. */
const OVERFLOW_DROP_SHARE = 0.1;

/**
 * A rate budget: at most `limit` events per key in any window of `ms`. In one process (SlidingWindowLimiter)
 * or shared by every replica on one PostgreSQL (src/limits/postgres-window.ts).
 */
export interface RateBudget<K> {
  /** Takes a slot for `key` at `now`; resolves to 0, or to the ms to wait when no slot is free. */
  tryAcquire(key: K, now: number): number | Promise<number>;
  /**
   * No slot for `key` before `until` (GitHub said to wait). Shared budgets tell every replica; an
   * in-process budget leaves it to the caller's own pause.
   */
  block?(key: K, until: number): Promise<void>;
}

/** The wait before another event of a key whose events in the windows are `events` (oldest first), 0 when free. */
export function windowWait(windows: readonly Window[], events: readonly number[], now: number): number {
  let wait = 0;
  for (const { ms, limit } of windows) {
    const inWindow = events.filter((at) => at > now - ms);
    if (inWindow.length >= limit) {
      // The slot frees when the oldest event that still counts leaves the window.
      wait = Math.max(wait, (inWindow[inWindow.length - limit] ?? now) + ms - now);
    }
  }
  return wait;
}

export class SlidingWindowLimiter<K> implements RateBudget<K> {
  /** Event times per key, oldest first, kept for the longest window; keys in order of their last event. */
  readonly #events = new Map<K, number[]>();
  readonly #longest: number;
  readonly #maxKeys: number;
  #eventsSinceSweep = 0;

  constructor(
    private readonly windows: readonly Window[],
    options: LimiterOptions = {},
  ) {
    this.#longest = Math.max(...windows.map((window) => window.ms));
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.#events.size;
  }

  /** Takes a slot for `key` at `now`; returns 0, or the ms to wait when no slot is free. */
  tryAcquire(key: K, now: number): number {
    const wait = this.waitFor(key, now);
    if (wait === 0) this.#record(key, now);
    return wait;
  }

  /** Ms until `key` may act again (0 = now). */
  waitFor(key: K, now: number): number {
    return windowWait(this.windows, this.#recent(key, now), now);
  }

  /** The key's events inside the longest window; a key left with none is forgotten. */
  #recent(key: K, now: number): number[] {
    const events = this.#events.get(key);
    if (!events) return [];
    const kept = events.filter((at) => at > now - this.#longest);
    if (kept.length === 0) this.#events.delete(key);
    else if (kept.length < events.length) this.#events.set(key, kept);
    return kept;
  }

  #record(key: K, now: number): void {
    const events = this.#events.get(key) ?? [];
    events.push(now);
    // Re-inserted so the map stays ordered by last event: idle keys gather at its front.
    this.#events.delete(key);
    this.#events.set(key, events);
    this.#eventsSinceSweep += 1;
    if (this.#eventsSinceSweep >= Math.max(this.#events.size, MIN_EVENTS_BETWEEN_SWEEPS)) this.#forgetIdle(now);
    if (this.#events.size > this.#maxKeys) this.#forgetOldest(Math.ceil(this.#maxKeys * OVERFLOW_DROP_SHARE));
  }

  #forgetIdle(now: number): void {
    this.#eventsSinceSweep = 0;
    for (const [key, events] of this.#events) {
      if ((events.at(-1) ?? -Infinity) <= now - this.#longest) this.#events.delete(key);
    }
  }

  // Deleting from a Map's front one key at a time rescans the deleted slots on every call; in batches it does not.
  #forgetOldest(count: number): void {
    for (const key of this.#events.keys()) {
      if (count-- <= 0) return;
      this.#events.delete(key);
    }
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
  return new SlidingWindowLimiter<number>(writeWindows(budget));
}

/**
 * How much longer than GitHub's windows a write slot is held. A slot is taken a moment before its request
 * reaches GitHub (a store read, a token, a busy event loop in between, on any replica); counted from the
 * taking, a window ending just before a late arrival would let the next slot free too early, and
 * GitHub's own window of the same length would hold one request more than the budget.
 */
export const WRITE_SLOT_MARGIN_MS = 2_000;

/** The windows of an installation's write budget (each held WRITE_SLOT_MARGIN_MS longer than GitHub's). */
export function writeWindows(budget: WriteBudget): Window[] {
  return [
    { ms: 60_000 + WRITE_SLOT_MARGIN_MS, limit: budget.perMinute },
    { ms: 3_600_000 + WRITE_SLOT_MARGIN_MS, limit: budget.perHour },
  ];
}
