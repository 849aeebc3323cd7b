// Where the crcr export sends queued rows: a ClickHouse table (./clickhouse-destination.ts) or torchci's
// results API (./torchci-destination.ts). The exporter (./exporter.ts) hands a destination one batch at a
// time, in queue order, and the destination settles each row as it goes.
import type { CrcrRow } from "./crcr-row.js";

export interface ExportItem {
  /** The row's id in the store's queue. */
  id: number;
  row: CrcrRow;
}

/** What becomes of rows, recorded in the store before the destination goes on. */
export interface Settle {
  /** The destination has them: they leave the queue. */
  accepted(items: readonly ExportItem[]): Promise<void>;
  /** Refused for good: set aside with the reason, never retried. */
  refused(item: ExportItem, reason: string): Promise<void>;
}

/**
 * How a batch ended. done: every row accepted or refused. retry: the destination is down, or refused a row
 * for a reason not known to be final; the rows not settled stay queued and are retried with backoff. cut:
 * the destination stopped early for want of budget; the drain goes on while it gets somewhere.
 */
export type BatchEnd = { kind: "done" } | { kind: "retry" | "cut"; error: string };

export interface CrcrDestination {
  readonly kind: "clickhouse" | "torchci";
  /** Rows per batch. */
  readonly batchRows: number;
  /** Sends `items` in order; `signal` aborts (the relay stops): what is not settled stays queued. */
  deliver(items: readonly ExportItem[], settle: Settle, signal: AbortSignal): Promise<BatchEnd>;
  close(): Promise<void>;
}
