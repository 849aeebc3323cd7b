// An embedded ClickHouse (chDB) HUD over a fresh SQLite store, for tests. chDB binds one data
// directory per process: close one HUD before opening another.
import path from "node:path";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { HudConnection } from "../../src/hud/clickhouse.js";
import { HudWriter } from "../../src/hud/writer.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { testLog } from "./probot.js";
import { tempDir } from "./server.js";

export interface TestHud {
  dir: string;
  store: Store;
  connection: HudConnection;
  writer: HudWriter;
  metrics: RelayMetrics;
  close(): Promise<void>;
}

export function openTestHud(options: { batchRows?: number; flushMs?: number; dir?: string; leader?: () => boolean } = {}): TestHud {
  const dir = options.dir ?? tempDir("relay-hud-");
  const store = openSqliteStore(dir);
  const connection = new HudConnection({ kind: "embedded", path: path.join(dir, "clickhouse"), database: "relay" }, 30);
  const metrics = createMetrics({ defaultMetrics: false });
  const writer = new HudWriter({
    store,
    connection,
    metrics,
    batchRows: options.batchRows ?? 1000,
    flushMs: options.flushMs ?? 60_000,
    log: testLog,
    ...(options.leader && { leader: options.leader }),
  });
  return {
    dir,
    store,
    connection,
    writer,
    metrics,
    async close() {
      await writer.stop();
      await connection.close();
      await store.close();
    },
  };
}

export function allowlistFrom(yaml: string): Allowlist {
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(`bad test allowlist: ${JSON.stringify(parsed.issues)}`);
  return parsed.allowlist;
}
