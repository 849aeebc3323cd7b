// Counts every /relay/callback answer twice: in a Prometheus counter whose repo label stays bounded,
// and in the store's per-day audit trail. Stored counts are batched and written at most once per
// `flushMs`: a flood of rejected callbacks must not buy a synchronous disk write each. Reading the
// trail writes the pending counts first, so what is read is exact; a crash loses at most `flushMs`.
import type { Logger } from "pino";
import { findEntry } from "../allowlist/policy.js";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayMetrics } from "../metrics.js";
import type { CallbackOutcomeCount } from "../domain/callback-audit.js";
import type { Store } from "../store/store.js";
import {
  AUDIT_RETENTION_DAYS,
  firstDayOf,
  OTHER_REPO,
  summarizeCallbackOutcomes,
  UNVERIFIED_REPO,
  utcDay,
  type CallbackOutcome,
  type RepoCallbackTotals,
} from "../domain/callback-audit.js";

export interface CallbackAuditOptions {
  store: () => Store;
  metrics: RelayMetrics;
  allowlist: () => Allowlist | undefined;
  log: Pick<Logger, "error">;
  flushMs?: number;
  now?: () => number;
}

export interface CallbackAuditSummary {
  days: number;
  /** First and last UTC day of the window (YYYY-MM-DD). */
  from: string;
  to: string;
  repos: RepoCallbackTotals[];
}

const DEFAULT_FLUSH_MS = 1000;

export class CallbackAuditLog {
  readonly #pending = new Map<string, CallbackOutcomeCount>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CallbackAuditOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Counts one answer; `repo` is the verified repo, undefined when the caller was not verified. */
  record(repo: string | undefined, outcome: CallbackOutcome): void {
    this.options.metrics.callbackOutcomes.inc({ repo: this.#label(repo), outcome });
    const count = { repo: repo ?? UNVERIFIED_REPO, day: utcDay(this.#now()), outcome, count: 1 };
    this.#add(count);
    this.#timer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? DEFAULT_FLUSH_MS).unref();
  }

  /** Writes the pending counts (and drops days past retention); never rejects (failed counts are kept for the next write). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const counts = [...this.#pending.values()];
    this.#pending.clear();
    try {
      await this.options.store().addCallbackOutcomes(counts, firstDayOf(AUDIT_RETENTION_DAYS, this.#now()));
    } catch (error) {
      // Kept for the next write rather than lost.
      for (const count of counts) this.#add(count);
      this.options.log.error({ err: String(error) }, "could not store callback audit counts; will try again");
    }
  }

  /** Per-repo totals of the last `days` UTC days (today included). */
  async summary(days: number): Promise<CallbackAuditSummary> {
    await this.flush();
    const now = this.#now();
    const from = firstDayOf(days, now);
    return { days, from, to: utcDay(now), repos: summarizeCallbackOutcomes(await this.options.store().callbackOutcomes(from)) };
  }

  #add(count: CallbackOutcomeCount): void {
    const key = JSON.stringify([count.day, count.repo, count.outcome]);
    const pending = this.#pending.get(key);
    if (pending) pending.count += count.count;
    else this.#pending.set(key, { ...count });
  }

  /** Only repos in the allowlist in force get a label of their own: the label set stays bounded. */
  #label(repo: string | undefined): string {
    if (repo === undefined) return UNVERIFIED_REPO;
    const allowlist = this.options.allowlist();
    return allowlist && findEntry(allowlist, repo) ? repo : OTHER_REPO;
  }
}
