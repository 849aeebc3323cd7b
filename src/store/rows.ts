// Row shapes both Store implementations share: how a stored entity comes out of a query whose columns
// are aliased to its field names (optional fields come back as NULL columns and leave as absent fields),
// and what an outbox task's transition mirrors into its dispatch-log row.
import type { DispatchOutcome } from "../domain/dispatches.js";
import type { GitHubRequest } from "../domain/github-request.js";
import type { OutboxTask, TaskKind } from "./store.js";

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

/** An outbox task's row: its fields, the stored request as JSON, and the dispatch it carries (if any). */
export type TaskRow = Row<Omit<OutboxTask, "request" | "dispatch">> & {
  requestJson: string;
  /** Whether request_json has the shape of a request (a non-empty `route` and a `params` object), checked in SQL. */
  readable: boolean | number;
  dispatchDeliveryId: string | null;
  dispatchRepo: string | null;
};

/** undefined when the stored request is unreadable. */
export function toTask({ requestJson, readable, dispatchDeliveryId, dispatchRepo, ...rest }: TaskRow): OutboxTask | undefined {
  if (!readable) return undefined;
  const task = fromRow<Omit<OutboxTask, "request" | "dispatch">>(rest) as OutboxTask;
  // Parsed on first use: the outbox reads a window of due tasks to pick a few, and a dispatch's request
  // (payload and ticket) is most of its row. The store's SQL checked its shape.
  let request: GitHubRequest | undefined;
  Object.defineProperty(task, "request", { enumerable: true, configurable: true, get: () => (request ??= JSON.parse(requestJson) as GitHubRequest) });
  if (dispatchDeliveryId !== null && dispatchRepo !== null) {
    task.dispatch = { deliveryId: dispatchDeliveryId, downstreamRepo: dispatchRepo };
  }
  return task;
}
