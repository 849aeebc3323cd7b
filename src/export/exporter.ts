// Drains the store's "crcr" queue to the export's destination, with the HUD writer's discipline
// (src/hud/writer.ts): rows were queued in the same transaction as the job state they show, they leave the
// queue only once the destination has them, a destination that is down keeps them all (retried with a
// backoff from RELAY_HUD_FLUSH_MS up to a minute), and a row refused for good is set aside with the reason
// instead of blocking the rows behind it. Of several replicas only the leader drains. Every
// RELAY_HUD_FLUSH_MS it sends what waits, batch after batch, in queue order.
import type { Logger } from "pino";
import type { RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { DrainLoop, type DrainHealth, type DrainTiming } from "../hud/drain-loop.js";
import { describeIssues } from "../validation/describe-issues.js";
import { CrcrRow } from "./crcr-row.js";
import type { BatchEnd, CrcrDestination, ExportItem, Settle } from "./destination.js";

const CRCR = ["crcr"] as const;

export interface CrcrExporterOptions extends DrainTiming {
  store: Store;
  destination: CrcrDestination;
  metrics: RelayMetrics;
  log: Pick<Logger, "warn" | "error" | "info">;
}

export interface ExportResult {
  exported: number;
  /** Rows set aside: malformed, or refused by the destination. */
  rejected: number;
  /** Set when an attempt failed; the rows it carried are still queued. */
  error?: string;
}

export interface CrcrExporterStatus extends DrainHealth {
  lastExportAt?: number;
}

export class CrcrExporter {
  readonly #options: CrcrExporterOptions;
  readonly #loop: DrainLoop<ExportResult>;
  /** Aborted by stop(): a drain ends after the row in flight. */
  readonly #stop = new AbortController();
  #lastExportAt: number | undefined;

  constructor(options: CrcrExporterOptions) {
    this.#options = options;
    this.#loop = new DrainLoop<ExportResult>(options, () => this.#drain(), () => ({ exported: 0, rejected: 0 }));
  }

  start(): void {
    this.#loop.start();
  }

  /** Exports everything queued now. Concurrent calls share one run. A replica that does not lead exports nothing. */
  flush(): Promise<ExportResult> {
    if (this.#stop.signal.aborted) return Promise.resolve({ exported: 0, rejected: 0 });
    return this.#loop.flush();
  }

  /** Stops after the row in flight; what is queued waits for the next start. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop.stop();
  }

  status(): CrcrExporterStatus {
    return { ...this.#loop.health(), ...(this.#lastExportAt !== undefined && { lastExportAt: this.#lastExportAt }) };
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** A store that cannot be read or written leaves the rows for the next timed flush. */
  async #drain(): Promise<ExportResult> {
    const result: ExportResult = { exported: 0, rejected: 0 };
    try {
      return await this.#drainBatches(result);
    } catch (error) {
      this.#options.log.warn({ err: String(error) }, "could not read or update the crcr export queue; the next timed flush retries");
      return { ...result, error: String(error) };
    }
  }

  async #drainBatches(result: ExportResult): Promise<ExportResult> {
    const { store, destination } = this.#options;
    const signal = this.#stop.signal;
    for (;;) {
      if (signal.aborted) return result;
      const queued = await store.pendingHudRows(destination.batchRows, CRCR);
      if (queued.length === 0) break;
      const items: ExportItem[] = [];
      for (const { id, row } of queued) {
        const parsed = CrcrRow.safeParse(row);
        if (parsed.success) items.push({ id, row: parsed.data });
        // Malformed rows would fail every attempt: set them aside instead of blocking the queue.
        else await this.#reject(id, describeIssues(parsed.error, "row"), result);
      }
      const before = result.exported + result.rejected;
      const end: BatchEnd = await destination.deliver(items, this.#settle(result), signal);
      if (signal.aborted) return result;
      const progressed = result.exported + result.rejected > before;
      if (end.kind === "retry" || (end.kind === "cut" && !progressed)) {
        this.#failed(end.error);
        return { ...result, error: end.error };
      }
      if (end.kind === "done" && queued.length < destination.batchRows) break;
    }
    this.#recovered();
    return result;
  }

  #settle(result: ExportResult): Settle {
    return {
      accepted: async (items) => {
        // A crash right here sends these rows again after restart: harmless (see the destinations).
        await this.#options.store.removeHudRows(items.map((item) => item.id));
        this.#options.metrics.crcrExportRows.inc({ outcome: "exported" }, items.length);
        result.exported += items.length;
        this.#lastExportAt = this.#now();
      },
      refused: (item, reason) => this.#reject(item.id, reason, result),
    };
  }

  async #reject(id: number, problem: string, result: ExportResult): Promise<void> {
    await this.#options.store.rejectHudRows([id], problem, this.#now());
    this.#options.metrics.crcrExportRows.inc({ outcome: "rejected" });
    result.rejected += 1;
    this.#options.log.error({ id, destination: this.#options.destination.kind, problem }, "crcr export row set aside");
  }

  #recovered(): void {
    const after = this.#loop.recovered();
    if (after > 0) this.#options.log.info({ after, destination: this.#options.destination.kind }, "crcr export resumed");
    this.#options.metrics.crcrExportFailingSince.set(0);
  }

  #failed(error: string): void {
    const failures = this.#loop.failed(error);
    this.#options.metrics.crcrExportErrors.inc();
    this.#options.metrics.crcrExportFailingSince.set((this.#loop.health().failingSince ?? this.#now()) / 1000);
    // The first failure of an outage and then every tenth, not every retry.
    if (failures === 1 || failures % 10 === 0) {
      this.#options.log.warn({ failures, destination: this.#options.destination.kind, err: error }, "crcr export failed; rows stay queued");
    }
  }
}
