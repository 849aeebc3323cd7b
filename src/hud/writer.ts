// Moves HUD rows from the store's queue to ClickHouse in batches: a batch goes out when `batchRows`
// rows wait or `flushMs` after the last flush, whichever comes first. Callbacks never wait for it (they
// only append to the queue). A row written twice (crash between insert and removal) is harmless: same
// sorting key and version, so ReplacingMergeTree keeps one and FINAL reads one.
//
// No row can block the queue. A row that does not fit its table is set aside before it is sent. When
// ClickHouse refuses a batch, the reason decides (src/hud/insert-errors.ts): an outage keeps every row and
// retries with backoff; a refused value is isolated by bisecting the batch (src/hud/isolate.ts), the row
// set aside with ClickHouse's message and the rest written; a row refused on its own for an unknown reason
// is set aside after MAX_UNKNOWN_REFUSALS drains. Set-aside rows stay in the store, never retried.
import type { Logger } from "pino";
import type { RelayMetrics } from "../metrics.js";
import type { QueuedHudRow, Store } from "../store/store.js";
import type { HudConnection, HudDatabase } from "./clickhouse.js";
import { DrainLoop, type DrainHealth, type DrainTiming } from "./drain-loop.js";
import { classifyInsertError, describeInsertError } from "./insert-errors.js";
import { insertIsolating, type Refusal } from "./isolate.js";
import { DISPATCHES_TABLE, RESULTS_TABLE } from "./migrations.js";
import { HUD_TABLE_TARGETS, parseQueuedRow, type HudTableTarget, type InsertRow } from "./rows.js";

const TABLES: Record<HudTableTarget, string> = { results: RESULTS_TABLE, dispatches: DISPATCHES_TABLE };

/** Drains in a row in which one row was refused on its own for an unknown reason before it is set aside. */
export const MAX_UNKNOWN_REFUSALS = 5;

export interface HudWriterOptions extends DrainTiming {
  store: Store;
  connection: HudConnection;
  batchRows: number;
  metrics: RelayMetrics;
  log: Pick<Logger, "warn" | "error" | "info">;
}

export interface FlushResult {
  written: number;
  /** Rows set aside: malformed, or refused by ClickHouse. */
  rejected: number;
  /** Set when a write failed; the rows it carried are still queued. */
  error?: string;
}

export interface HudWriterStatus extends DrainHealth {
  lastWriteAt?: number;
}

interface ParsedRow {
  id: number;
  row: InsertRow;
}

/**
 * done: every row written or set aside. cut: the isolation budget ran out, rows remain (the drain goes on
 * while it gets somewhere). retry: an outage, or a row refused for an unknown reason; retried with backoff.
 */
type BatchEnd = { kind: "done" } | { kind: "cut" | "retry"; error: unknown };

export class HudWriter {
  readonly #options: HudWriterOptions;
  readonly #loop: DrainLoop<FlushResult>;
  #lookScheduled = false;
  #lastWriteAt: number | undefined;
  /** Row id → drains in a row in which ClickHouse refused it on its own for an unknown reason. */
  readonly #unknownRefusals = new Map<number, number>();

  constructor(options: HudWriterOptions) {
    this.#options = options;
    this.#loop = new DrainLoop<FlushResult>(options, () => this.#drain(), () => ({ written: 0, rejected: 0 }));
  }

  start(): void {
    this.#loop.start();
  }

  /**
   * New rows were queued: write now if a full batch waits, otherwise the timer takes them. The calls of
   * one turn of the event loop (a burst of callbacks) share one look at the queue.
   */
  notify(): void {
    // While a drain runs it takes new rows too; while writes fail, the backoff timer decides.
    const loop = this.#loop;
    if (loop.stopped || loop.failures > 0 || loop.running || this.#lookScheduled) return;
    this.#lookScheduled = true;
    setImmediate(() => {
      this.#lookScheduled = false;
      void this.#flushIfFull();
    });
  }

  async #flushIfFull(): Promise<void> {
    try {
      if ((await this.#options.store.hudQueueStats(HUD_TABLE_TARGETS)).pending >= this.#options.batchRows) await this.flush();
    } catch (error) {
      // The store could not be read: the timer looks again.
      this.#options.log.warn({ err: String(error) }, "could not read the HUD queue; the next timed flush retries");
    }
  }

  /** Writes everything queued now (in batches). Concurrent calls share one run. A replica that does not lead writes nothing. */
  flush(): Promise<FlushResult> {
    return this.#loop.flush();
  }

  /**
   * Stops the timer and, unless ClickHouse is failing, makes one last attempt; whatever is not written
   * stays queued for the next start.
   */
  async stop(): Promise<void> {
    await this.#loop.stop();
    if (this.#loop.failures === 0) await this.flush().catch(() => undefined);
  }

  status(): HudWriterStatus {
    return { ...this.#loop.health(), ...(this.#lastWriteAt !== undefined && { lastWriteAt: this.#lastWriteAt }) };
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Drains the queue; a store that cannot be read or written leaves the rows for the next timed flush. */
  async #drain(): Promise<FlushResult> {
    const result: FlushResult = { written: 0, rejected: 0 };
    try {
      return await this.#drainBatches(result);
    } catch (error) {
      // Not ClickHouse's failure (the writer's backoff and gauges are about ClickHouse): the store's.
      this.#options.log.warn({ err: String(error) }, "could not read or update the HUD queue; the next timed flush retries");
      return { ...result, error: String(error) };
    }
  }

  async #drainBatches(result: FlushResult): Promise<FlushResult> {
    for (;;) {
      // Its own tables' rows only: another target's backlog (the crcr export, src/export/) never holds these up.
      const batch = await this.#options.store.pendingHudRows(this.#options.batchRows, HUD_TABLE_TARGETS);
      if (batch.length === 0) break;
      const before = result.written + result.rejected;
      let end: BatchEnd;
      try {
        end = await this.#writeBatch(batch, result);
      } catch (error) {
        end = { kind: "retry", error };
      }
      const progressed = result.written + result.rejected > before;
      if (end.kind === "retry" || (end.kind === "cut" && !progressed)) {
        result.error = this.#failed(end.error);
        return result;
      }
      if (end.kind === "done" && batch.length < this.#options.batchRows) break;
    }
    this.#recovered();
    return result;
  }

  async #writeBatch(batch: QueuedHudRow<HudTableTarget>[], result: FlushResult): Promise<BatchEnd> {
    const groups = new Map<HudTableTarget, ParsedRow[]>();
    for (const queued of batch) {
      const parsed = parseQueuedRow(queued.target, queued.row);
      if (!parsed.ok) {
        // Malformed rows would fail every retry: set them aside, with the reason, instead of blocking the queue.
        await this.#reject(queued.id, queued.target, parsed.error);
        result.rejected += 1;
        continue;
      }
      const rows = groups.get(queued.target) ?? [];
      rows.push({ id: queued.id, row: parsed.row });
      groups.set(queued.target, rows);
    }
    let end: BatchEnd = { kind: "done" };
    if (groups.size === 0) return end;
    const database = await this.#options.connection.get();
    for (const [target, rows] of groups) {
      const isolation = await insertIsolating(rows, (part) => this.#insert(database, target, part, result));
      for (const refusal of isolation.refused) {
        if (await this.#refused(target, refusal)) end = { kind: "retry", error: refusal.error };
        else result.rejected += 1;
      }
      if (isolation.stopped?.reason === "outage") return { kind: "retry", error: isolation.stopped.error };
      if (isolation.stopped && end.kind === "done") end = { kind: "cut", error: isolation.stopped.error };
    }
    return end;
  }

  async #insert({ client, database }: HudDatabase, target: HudTableTarget, part: readonly ParsedRow[], result: FlushResult): Promise<void> {
    const table = TABLES[target];
    const timer = this.#options.metrics.hudInsertSeconds.startTimer({ table });
    await client.insert({ table: `${database}.${table}`, values: part.map(({ row }) => row), format: "JSONEachRow" });
    timer();
    // A crash right here writes these rows again after restart: harmless (see the header).
    const ids = part.map(({ id }) => id);
    await this.#options.store.removeHudRows(ids);
    for (const id of ids) this.#unknownRefusals.delete(id);
    this.#options.metrics.hudRowsWritten.inc({ table }, part.length);
    result.written += part.length;
    this.#lastWriteAt = this.#now();
  }

  /** Sets a row ClickHouse refused aside; returns true when it stays queued (unknown reason, not yet often enough). */
  async #refused(target: HudTableTarget, { item, kind, error }: Refusal<ParsedRow>): Promise<boolean> {
    const refusals = (this.#unknownRefusals.get(item.id) ?? 0) + 1;
    if (kind === "unknown" && refusals < MAX_UNKNOWN_REFUSALS) {
      this.#unknownRefusals.set(item.id, refusals);
      return true;
    }
    this.#unknownRefusals.delete(item.id);
    const prefix = kind === "unknown" ? `refused ${refusals} times by ClickHouse` : "refused by ClickHouse";
    await this.#reject(item.id, target, `${prefix}: ${describeInsertError(error)}`);
    return false;
  }

  async #reject(id: number, target: HudTableTarget, problem: string): Promise<void> {
    await this.#options.store.rejectHudRows([id], problem, this.#now());
    this.#options.metrics.hudRowsRejected.inc({ table: TABLES[target] });
    this.#options.log.error({ id, target, problem }, "HUD row set aside");
  }

  #recovered(): void {
    const after = this.#loop.recovered();
    if (after > 0) this.#options.log.info({ after }, "HUD writes to ClickHouse resumed");
    this.#options.metrics.hudWriterFailingSince.set(0);
  }

  /** Records a failed drain; returns ClickHouse's words for it. */
  #failed(error: unknown): string {
    const described = describeInsertError(error);
    const failures = this.#loop.failed(described);
    this.#options.metrics.hudWriteErrors.inc();
    this.#options.metrics.hudWriterFailingSince.set((this.#loop.health().failingSince ?? this.#now()) / 1000);
    // Log the first failure of an outage and then every tenth, not every retry.
    if (failures === 1 || failures % 10 === 0) {
      this.#options.log.warn({ failures, err: described }, "HUD write to ClickHouse failed; rows stay queued");
    }
    if (classifyInsertError(error) === "outage") void this.#options.connection.reset();
    return described;
  }
}
