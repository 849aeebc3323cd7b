// Wires the crcr export (docs/pytorch.md, "HUD rows for hud.pytorch.org"), when configured: its destination
// (a ClickHouse server table or torchci's results API), the exporter draining the store's "crcr" queue,
// its queue metrics and readiness. Server mode only; the rows themselves are queued by the state core
// (src/state/reports.ts) whenever the export is configured.
import type { Logger } from "pino";
import type { RelayConfig } from "../config.js";
import { ClickHouseConnection } from "../hud/clickhouse.js";
import type { ReadinessReport } from "../http/health.js";
import { clickHouseLog } from "../logging.js";
import { observeCrcrQueue, type RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { checkCrcrTable, ClickHouseDestination } from "./clickhouse-destination.js";
import type { CrcrDestination } from "./destination.js";
import { CrcrExporter } from "./exporter.js";
import { TorchciDestination } from "./torchci-destination.js";

/** Rows read from the store at a time for torchci (each is still one request). */
const TORCHCI_BATCH_ROWS = 50;

export interface CrcrExportWiring {
  config: RelayConfig;
  metrics: RelayMetrics;
  store: () => Store;
  /** Whether this process drains the shared queue now (src/scheduler/leadership.ts). */
  leader: () => boolean;
  /** The app's logger: the exporter logs as component "crcr-export", its ClickHouse client as "clickhouse". */
  log: Logger;
}

export interface CrcrExport {
  start(): void;
  /** Stops after the row in flight; the queue waits for the next start. */
  stop(): Promise<void>;
  /** Never makes /readyz fail (the rows wait); degraded while the destination fails. */
  readiness(): Promise<ReadinessReport>;
}

/** The export, or undefined when neither CRCR_CLICKHOUSE_URL nor TORCHCI_RESULTS_URL is set. */
export function setUpCrcrExport(wiring: CrcrExportWiring): CrcrExport | undefined {
  const target = wiring.config.crcrExport;
  if (!target) return undefined;
  const log = wiring.log.child({ component: "crcr-export" });
  let exporter: CrcrExporter | undefined;
  let destination: CrcrDestination | undefined;
  return {
    start() {
      const store = wiring.store();
      observeCrcrQueue(wiring.metrics, () => store.hudQueueStats(["crcr"]));
      destination = destinationOf(target, wiring.config.hud.batchRows, wiring.log);
      exporter = new CrcrExporter({
        store,
        destination,
        flushMs: wiring.config.hud.flushMs,
        metrics: wiring.metrics,
        log,
        leader: wiring.leader,
      });
      exporter.start();
    },
    async stop() {
      await exporter?.stop();
      await destination?.close();
    },
    async readiness() {
      if (!exporter) return { ready: true, details: { destination: target.kind, exporter: "not started" } };
      const queue = await wiring.store().hudQueueStats(["crcr"]);
      // The destination's answers stay in the log and the set-aside rows.
      const { failing, failingSince, lastExportAt } = exporter.status();
      return {
        ready: true,
        degraded: failing,
        details: {
          destination: target.kind,
          exporter: failing ? "failing" : "ok",
          ...(failingSince !== undefined && { failingSince: new Date(failingSince).toISOString() }),
          ...(lastExportAt !== undefined && { lastExportAt: new Date(lastExportAt).toISOString() }),
          pending: queue.pending,
          rejectedRows: queue.rejected,
        },
      };
    },
  };
}

function destinationOf(target: NonNullable<RelayConfig["crcrExport"]>, batchRows: number, log: Logger): CrcrDestination {
  if (target.kind === "torchci") return new TorchciDestination({ url: target.url, token: target.token, batchRows: TORCHCI_BATCH_ROWS });
  const connection = new ClickHouseConnection(target.server, (client) => checkCrcrTable(client, target.table), clickHouseLog(log, "crcr-export"));
  return new ClickHouseDestination({ connection, table: target.table, batchRows });
}
