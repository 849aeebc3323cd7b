// Moves HUD rows from the store's queue to ClickHouse in batches: a batch goes out when `batchRows`
// rows wait or `flushMs` after the last flush, whichever comes first. Callbacks never wait for it (they
// only append to the queue). A failed write leaves the rows queued and is retried with backoff; a row
// written twice (crash between insert and removal) is harmless: same sorting key and version, so
// ReplacingMergeTree keeps one and FINAL reads one.
import type { Logger } from "pino";
import type { RelayMetrics } from "../metrics.js";
import type { HudTarget, QueuedHudRow, Store } from "../store/store.js";
import type { HudConnection } from "./clickhouse.js";
import { DISPATCHES_TABLE, RESULTS_TABLE } from "./migrations.js";
import { parseQueuedRow, type InsertRow } from "./rows.js";

const TABLES: Record<HudTarget, string> = { results: RESULTS_TABLE, dispatches: DISPATCHES_TABLE };

export interface HudWriterOptions {
  store: Store;
  connection: HudConnection;
  batchRows: number;
  flushMs: number;
  metrics: RelayMetrics;
  log: Pick<Logger, "warn" | "error" | "info">;
  /** Longest wait between attempts while ClickHouse keeps failing. */
  maxBackoffMs?: number;
  now?: () => number;
}

export interface FlushResult {
  written: number;
  rejected: number;
  /** Set when a write failed; the rows it carried are still queued. */
  error?: string;
}

export class HudWriter {
  readonly #options: HudWriterOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<FlushResult> | undefined;
  #again = false;
  #failures = 0;
  #lastError: string | undefined;
  #lastWriteAt: number | undefined;
  #stopped = true;

  constructor(options: HudWriterOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(this.#options.flushMs);
  }

  /** New rows were queued: write now if a full batch waits, otherwise the timer takes them. */
  notify(): void {
    // While a drain runs it takes new rows too; while writes fail, the backoff timer decides.
    if (this.#stopped || this.#failures > 0 || this.#running) return;
    if (this.#options.store.hudQueueStats().pending >= this.#options.batchRows) void this.flush();
  }

  /** Writes everything queued now (in batches). Concurrent calls share one run. */
  flush(): Promise<FlushResult> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.flush();
      }
    });
    return this.#running;
  }

  /**
   * Stops the timer and, unless ClickHouse is failing, makes one last attempt; whatever is not written
   * stays queued for the next start.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
    if (this.#failures === 0) await this.flush().catch(() => undefined);
  }

  status(): { lastError?: string; lastWriteAt?: number; failing: boolean } {
    return {
      failing: this.#failures > 0,
      ...(this.#lastError !== undefined && { lastError: this.#lastError }),
      ...(this.#lastWriteAt !== undefined && { lastWriteAt: this.#lastWriteAt }),
    };
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.flush().then((result) => this.#schedule(result.error ? this.#backoff() : this.#options.flushMs));
    }, delayMs);
    this.#timer.unref();
  }

  /** Doubles from the flush interval up to maxBackoffMs (default 60 s) while writes keep failing. */
  #backoff(): number {
    const max = this.#options.maxBackoffMs ?? 60_000;
    return Math.min(max, this.#options.flushMs * 2 ** Math.min(this.#failures, 16));
  }

  async #drain(): Promise<FlushResult> {
    const result: FlushResult = { written: 0, rejected: 0 };
    for (;;) {
      const batch = this.#options.store.pendingHudRows(this.#options.batchRows);
      if (batch.length === 0) break;
      try {
        const { written, rejected } = await this.#write(batch);
        result.written += written;
        result.rejected += rejected;
      } catch (error) {
        this.#failed(error);
        result.error = this.#lastError;
        break;
      }
      if (batch.length < this.#options.batchRows) break;
    }
    return result;
  }

  async #write(batch: QueuedHudRow[]): Promise<{ written: number; rejected: number }> {
    const { store, metrics, connection } = this.#options;
    const now = (this.#options.now ?? Date.now)();
    const groups = new Map<HudTarget, { ids: number[]; rows: InsertRow[] }>();
    let rejected = 0;
    for (const queued of batch) {
      const parsed = parseQueuedRow(queued.target, queued.row);
      if (!parsed.ok) {
        // Malformed rows would fail every retry: set them aside, with the reason, instead of blocking the queue.
        store.rejectHudRows([queued.id], parsed.error, now);
        metrics.hudRowsRejected.inc({ table: TABLES[queued.target] });
        this.#options.log.error({ id: queued.id, target: queued.target, problem: parsed.error }, "HUD row refused");
        rejected += 1;
        continue;
      }
      const group = groups.get(queued.target) ?? { ids: [], rows: [] };
      group.ids.push(queued.id);
      group.rows.push(parsed.row);
      groups.set(queued.target, group);
    }
    let written = 0;
    if (groups.size === 0) return { written, rejected };
    const { client, database } = await connection.get();
    for (const [target, { ids, rows }] of groups) {
      await client.insert({ table: `${database}.${TABLES[target]}`, values: rows, format: "JSONEachRow" });
      // A crash right here writes these rows again after restart: harmless (see the header).
      store.removeHudRows(ids);
      metrics.hudRowsWritten.inc({ table: TABLES[target] }, rows.length);
      written += rows.length;
    }
    if (this.#failures > 0) this.#options.log.info({ after: this.#failures }, "HUD writes to ClickHouse resumed");
    this.#failures = 0;
    this.#lastError = undefined;
    this.#lastWriteAt = now;
    return { written, rejected };
  }

  #failed(error: unknown): void {
    this.#failures += 1;
    this.#lastError = error instanceof Error ? error.message : String(error);
    this.#options.metrics.hudWriteErrors.inc();
    // Log the first failure of an outage and then every tenth, not every retry.
    if (this.#failures === 1 || this.#failures % 10 === 0) {
      this.#options.log.warn({ failures: this.#failures, err: this.#lastError }, "HUD write to ClickHouse failed; rows stay queued");
    }
    void this.#options.connection.reset();
  }
}
