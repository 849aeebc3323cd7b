// The crcr export into a ClickHouse table with hud.pytorch.org's crcr_workflow_job schema
// (CRCR_CLICKHOUSE_URL, CRCR_CLICKHOUSE_TABLE): JSONEachRow inserts of a batch, in queue order. The table
// is ReplacingMergeTree ordered by (downstream_repo, delivery_id, dynamoKey) without a version column, so
// the last row inserted for a job attempt is the one read (torchci's queries use FINAL); rows go in queue
// order, so that is its latest state. A row inserted twice (crash before it left the queue) changes nothing.
//
// Refusals as in the HUD writer (src/hud/writer.ts): an outage keeps every row; a refused value is isolated
// by bisecting the batch and set aside with ClickHouse's message; a row refused alone for an unknown reason
// is set aside after MAX_UNKNOWN_REFUSALS batches.
import type { ClickHouseClient } from "@clickhouse/client";
import type { ClickHouseConnection } from "../hud/clickhouse.js";
import { describeInsertError } from "../hud/insert-errors.js";
import { insertIsolating } from "../hud/isolate.js";
import { MAX_UNKNOWN_REFUSALS } from "../hud/writer.js";
import { CrcrRow } from "./crcr-row.js";
import type { BatchEnd, CrcrDestination, ExportItem, Settle } from "./destination.js";

/** The columns every row fills (the table's others are materialized or aliases). */
export const CRCR_COLUMNS = Object.keys(CrcrRow.shape);

/** The zero of a DateTime64 column, which torchci's queries read as "not completed". */
const NO_TIME = "1970-01-01T00:00:00.000Z";

/** A queued row as the table takes it: no nulls where the column has none. */
export function crcrTableRow(row: CrcrRow): Record<string, unknown> {
  return {
    ...row,
    completed_at: row.completed_at ?? NO_TIME,
    total_tests: row.total_tests ?? 0,
    passed_tests: row.passed_tests ?? 0,
    failed_tests: row.failed_tests ?? 0,
    skipped_tests: row.skipped_tests ?? 0,
  };
}

/**
 * Checks, when the connection opens, that `table` has every column a row fills. A missing table or column
 * is an outage (the rows wait, the error says which) rather than values silently dropped by the server.
 */
export async function checkCrcrTable(client: ClickHouseClient, table: string): Promise<void> {
  const result = await client.query({ query: `DESCRIBE TABLE ${table}`, format: "JSONEachRow" });
  const present = new Set((await result.json<{ name: string }>()).map((column) => column.name));
  const missing = CRCR_COLUMNS.filter((column) => !present.has(column));
  if (missing.length > 0) throw new Error(`${table} has no column ${missing.join(", ")}: create it with crcr_workflow_job's schema (docs/pytorch.md)`);
}

export interface ClickHouseDestinationOptions {
  /** Prepared with checkCrcrTable. */
  connection: ClickHouseConnection;
  /** `<database>.<table>`, validated identifiers. */
  table: string;
  batchRows: number;
}

export class ClickHouseDestination implements CrcrDestination {
  readonly kind = "clickhouse";
  readonly batchRows: number;
  /** Row id → batches in a row in which ClickHouse refused it on its own for an unknown reason. */
  readonly #unknownRefusals = new Map<number, number>();

  constructor(private readonly options: ClickHouseDestinationOptions) {
    this.batchRows = options.batchRows;
  }

  async deliver(items: readonly ExportItem[], settle: Settle): Promise<BatchEnd> {
    if (items.length === 0) return { kind: "done" };
    const { connection, table } = this.options;
    let client: ClickHouseClient;
    try {
      ({ client } = await connection.get());
    } catch (error) {
      return { kind: "retry", error: describeInsertError(error) };
    }
    const isolation = await insertIsolating(items, async (part) => {
      await client.insert({ table, values: part.map((item) => crcrTableRow(item.row)), format: "JSONEachRow" });
      for (const item of part) this.#unknownRefusals.delete(item.id);
      await settle.accepted(part);
    });
    let end: BatchEnd = { kind: "done" };
    for (const { item, kind, error } of isolation.refused) {
      const refusals = (this.#unknownRefusals.get(item.id) ?? 0) + 1;
      if (kind === "unknown" && refusals < MAX_UNKNOWN_REFUSALS) {
        this.#unknownRefusals.set(item.id, refusals);
        end = { kind: "retry", error: describeInsertError(error) };
        continue;
      }
      this.#unknownRefusals.delete(item.id);
      const prefix = kind === "unknown" ? `refused ${refusals} times by ClickHouse` : "refused by ClickHouse";
      await settle.refused(item, `${prefix}: ${describeInsertError(error)}`);
    }
    const stopped = isolation.stopped;
    if (stopped?.reason === "outage") {
      // Reconnect next time: the client may be what failed.
      await connection.reset();
      return { kind: "retry", error: describeInsertError(stopped.error) };
    }
    if (stopped && end.kind === "done") end = { kind: "cut", error: describeInsertError(stopped.error) };
    return end;
  }

  close(): Promise<void> {
    return this.options.connection.close();
  }
}
