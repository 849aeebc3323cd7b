// Per-installation pacing of content-creating requests (pure, clock injected). GitHub's secondary
// limits allow no more than 80 content-generating requests a minute and 500 an hour
// (docs.github.com, "Rate limits for the REST API"). Each installation acts with its own token, so each
// gets its own sliding windows here: one busy installation never slows the others. (GitHub documents
// primary limits per installation; how secondary limits are counted for Apps is not documented, so
// the budgets are configurable.)

export interface WriteBudget {
  perMinute: number;
  perHour: number;
}

const WINDOWS = [
  { ms: 60_000, key: "perMinute" },
  { ms: 3_600_000, key: "perHour" },
] as const;

export class WriteLimiter {
  /** Send times per installation, oldest first, kept for the longest window. */
  readonly #sent = new Map<number, number[]>();

  constructor(private readonly budget: WriteBudget) {}

  /** Takes a slot for `installationId` at `now`; returns 0, or the ms to wait when no slot is free. */
  tryAcquire(installationId: number, now: number): number {
    const wait = this.waitFor(installationId, now);
    if (wait === 0) this.#history(installationId, now).push(now);
    return wait;
  }

  /** Ms until `installationId` may send again (0 = now). */
  waitFor(installationId: number, now: number): number {
    const sent = this.#history(installationId, now);
    let wait = 0;
    for (const window of WINDOWS) {
      const limit = this.budget[window.key];
      const inWindow = sent.filter((at) => at > now - window.ms);
      if (inWindow.length >= limit) {
        // The slot frees when the oldest send that still counts leaves the window.
        wait = Math.max(wait, (inWindow[inWindow.length - limit] ?? now) + window.ms - now);
      }
    }
    return wait;
  }

  #history(installationId: number, now: number): number[] {
    const kept = (this.#sent.get(installationId) ?? []).filter((at) => at > now - WINDOWS[1].ms);
    this.#sent.set(installationId, kept);
    return kept;
  }
}
