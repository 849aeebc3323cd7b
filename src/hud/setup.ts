// Wires the HUD: the ClickHouse connection (embedded chDB or a server), the batched writer that drains
// the store's queue, the pages and API, metrics and the readiness report.
import type { Probot } from "probot";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import type { ReadinessReport } from "../http/health.js";
import type { Route } from "../http/router.js";
import { clickHouseLog } from "../logging.js";
import { observeHudQueue, type RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { HudConnection } from "./clickhouse.js";
import { hudRoutes } from "./routes.js";
import { HUD_TABLE_TARGETS } from "./rows.js";
import { HudService } from "./service.js";
import { HudWriter } from "./writer.js";
import type { HealthTrendView, HealthView } from "./views.js";

export interface HudWiring {
  config: RelayConfig;
  metrics: RelayMetrics;
  store: () => Store;
  allowlist: () => Allowlist | undefined;
  /** Whether this process writes the shared HUD queue now (src/scheduler/leadership.ts). */
  leader: () => boolean;
}

export interface Hud {
  routes: Route[];
  /** Starts the writer (server mode only; `probot receive` never opens ClickHouse). */
  start(): void;
  /** New rows were queued. */
  notify(): void;
  /** Last flush, then closes ClickHouse (rows it could not write stay queued). */
  stop(): Promise<void>;
  /**
   * Never makes /readyz fail: webhooks and callbacks work without ClickHouse; the rows wait. Degraded
   * while the writer is failing.
   */
  readiness(): Promise<ReadinessReport>;
  /** Every backend against its level and the next over `days` (/api/hud/health; allowlist PR reviews). */
  health(days: number): Promise<HealthView>;
  /** Each backend's verdicts and figures for the `weeks` weeks up to `end` (the health audit's evidence). */
  healthByWeek(weeks: number, end: number): Promise<HealthTrendView>;
}

export function setUpHud(app: Probot, wiring: HudWiring): Hud {
  const { config, metrics } = wiring;
  const log = app.log.child({ component: "hud" });
  const connection = new HudConnection(config.clickhouse, config.hud.retentionDays, clickHouseLog(app.log, "hud"));
  const service = new HudService({
    connection,
    allowlist: wiring.allowlist,
    upstreamRepo: config.upstream.repo,
    // Read at request time: the store opens when the server starts.
    callbackOutcomes: (fromDay) => wiring.store().callbackOutcomes(fromDay),
  });
  let writer: HudWriter | undefined;
  return {
    routes: hudRoutes({ service, upstreamRepo: config.upstream.repo, webBaseUrl: config.github.webBaseUrl, log }),
    start() {
      const store = wiring.store();
      observeHudQueue(metrics, () => store.hudQueueStats(HUD_TABLE_TARGETS));
      writer = new HudWriter({ store, connection, metrics, log, batchRows: config.hud.batchRows, flushMs: config.hud.flushMs, leader: wiring.leader });
      writer.start();
    },
    notify: () => writer?.notify(),
    health: (days) => service.health(days),
    healthByWeek: (weeks, end) => service.healthByWeek(weeks, end),
    async stop() {
      await writer?.stop();
      await connection.close();
    },
    async readiness() {
      if (!writer) return { ready: true, details: { clickhouse: config.clickhouse.kind, writer: "not started" } };
      const queue = await wiring.store().hudQueueStats(HUD_TABLE_TARGETS);
      // ClickHouse's error text (it quotes rows) stays in the writer's log lines and the rejected rows.
      const { failing, failingSince, lastWriteAt } = writer.status();
      return {
        ready: true,
        degraded: failing,
        details: {
          clickhouse: config.clickhouse.kind,
          writer: failing ? "failing" : "ok",
          ...(failingSince !== undefined && { failingSince: new Date(failingSince).toISOString() }),
          ...(lastWriteAt !== undefined && { lastWriteAt: new Date(lastWriteAt).toISOString() }),
          pending: queue.pending,
          rejectedRows: queue.rejected,
        },
      };
    },
  };
}
