// Per-installation pauses of GitHub writes (pure, clock injected). GitHub asks integrations to stop
// sending while limited: on 403/429 wait `retry-after` (at least a minute when absent), and "if you
// continue to make requests while you are rate limited, your integration may be banned"
// (docs.github.com, "Rate limits for the REST API" → "Exceeding the rate limit"). A pause covers every
// write of the installation, not just the refused request. Memory stays bounded: expired pauses are
// forgotten, and past `maxEntries` the pause ending soonest is dropped.

export type PauseReason = "secondary_rate_limit" | "rate_limited" | "primary_reserve";

/** Requests left in the primary limit below which the outbox stops until the limit resets. */
export const PRIMARY_RESERVE = 50;

const DEFAULT_MAX_ENTRIES = 10_000;

export class InstallationPauses {
  /** Installation → end of its pause (epoch ms). */
  readonly #until = new Map<number, number>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** Pauses `installationId` until `until` (a longer pause already running stays). True when a new pause began. */
  pause(installationId: number, until: number, now: number): boolean {
    const current = this.remaining(installationId, now);
    if (now + current >= until) return false;
    this.#until.set(installationId, until);
    if (this.#until.size > this.maxEntries) this.#dropSoonest();
    return current === 0;
  }

  /** Ms until the installation may write again (0 = not paused). */
  remaining(installationId: number, now: number): number {
    const until = this.#until.get(installationId);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.#until.delete(installationId);
    return 0;
  }

  /** Paused installations and the end of each pause. */
  active(now: number): Map<number, number> {
    for (const [installationId, until] of this.#until) if (until <= now) this.#until.delete(installationId);
    return new Map(this.#until);
  }

  #dropSoonest(): void {
    let soonest: [number, number] | undefined;
    for (const entry of this.#until) if (!soonest || entry[1] < soonest[1]) soonest = entry;
    if (soonest) this.#until.delete(soonest[0]);
  }
}

/**
 * The pause a successful answer calls for: when the primary limit (`x-ratelimit-remaining`) falls
 * below the reserve, wait for `x-ratelimit-reset` (epoch seconds) rather than spend the last requests,
 * which the relay's other calls on the same installation (lookups, re-runs) still need.
 */
export function primaryLimitPauseUntil(headers: Record<string, string | number | undefined>, reserve = PRIMARY_RESERVE): number | undefined {
  const remaining = Number(headers["x-ratelimit-remaining"]);
  const reset = Number(headers["x-ratelimit-reset"]);
  if (headers["x-ratelimit-remaining"] === undefined || !Number.isFinite(remaining) || remaining >= reserve) return undefined;
  return Number.isFinite(reset) ? reset * 1000 : undefined;
}
