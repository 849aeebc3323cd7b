// The relay's two rate budgets, from configuration: each installation's GitHub writes (the outbox) and each
// repo's callbacks. In one process they live in memory; with replicas on PostgreSQL they are shared
// (src/limits/postgres-window.ts), so the configured rates hold for the deployment, not per replica.
import type { RelayConfig } from "./config.js";
import { SlidingWindowLimiter, writeWindows, type RateBudget, type Window } from "./limits/sliding-window.js";

/** Where shared budgets come from (the PostgreSQL store). */
export interface SharedBudgets {
  rateBudget<K extends string | number>(scope: string, windows: readonly Window[]): RateBudget<K>;
}

export interface RelayBudgets {
  /** Per installation id: content-creating GitHub requests. */
  writes: RateBudget<number>;
  /** Per downstream repo: callbacks. */
  callbacks: RateBudget<string>;
}

export function relayBudgets(config: Pick<RelayConfig, "outbox" | "callback">, shared?: SharedBudgets): RelayBudgets {
  const writes = writeWindows({ perMinute: config.outbox.writesPerMinute, perHour: config.outbox.writesPerHour });
  const callbacks = [{ ms: 60_000, limit: config.callback.ratePerMinute }];
  return shared
    ? { writes: shared.rateBudget<number>("writes", writes), callbacks: shared.rateBudget<string>("callbacks", callbacks) }
    : { writes: new SlidingWindowLimiter<number>(writes), callbacks: new SlidingWindowLimiter<string>(callbacks) };
}
