// Row shapes both Store implementations share: how a stored entity comes out of a query whose columns
// are aliased to its field names (optional fields come back as NULL columns and leave as absent fields),
// and what an outbox task's transition mirrors into its dispatch-log row.
import type { DispatchOutcome } from "../domain/dispatches.js";
import type { TaskKind } from "./store.js";

/** The row of entity `T`: every field present, optional ones NULL when unset. */
export type Row<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

/** Drops NULL columns, so optional fields come out absent rather than null. */
export function fromRow<T>(row: Row<T>): T {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)) as T;
}

/** What a task transition needs to mirror itself into the task's dispatch-log row. */
export interface TransitionedTask {
  key: string;
  kind: TaskKind;
  attempts: number;
  dispatchDeliveryId: string | null;
  dispatchRepo: string | null;
}

/** A dispatch-log row's new outcome, as a task transition sets it. */
export interface LogChange {
  outcome: DispatchOutcome;
  reason: string | null;
  sentAt: number | null;
}
