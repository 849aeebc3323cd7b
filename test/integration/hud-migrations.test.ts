// The HUD's ClickHouse migrations on embedded chDB: recorded, idempotent, retention changes applied,
// a newer schema refused, and the PR lookups served by their skip indexes.
import path from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openClickHouse } from "../../src/hud/clickhouse.js";
import { DISPATCHES_TABLE, HUD_SCHEMA_VERSION, migrateHud, MIGRATIONS_TABLE, RESULTS_TABLE } from "../../src/hud/migrations.js";
import { tempDir } from "../helpers/server.js";

const DB = "hud_test";
let client: ClickHouseClient;

beforeAll(async () => {
  client = await openClickHouse({ kind: "embedded", path: path.join(tempDir(), "clickhouse"), database: DB });
});
afterAll(() => client.close());

async function rows<T>(query: string): Promise<T[]> {
  return (await client.query({ query, format: "JSONEachRow" })).json<T>();
}

it("creates both tables as ReplacingMergeTree with their keys and TTL, and records each migration once", async () => {
  expect(await migrateHud(client, DB, 30)).toEqual([1, 2]);
  expect(HUD_SCHEMA_VERSION).toBe(2);
  const tables = await rows<{ name: string; engine: string; sorting_key: string; engine_full: string }>(
    `SELECT name, engine, sorting_key, engine_full FROM system.tables WHERE database = '${DB}' ORDER BY name`,
  );
  expect(tables.map((table) => [table.name, table.engine, table.sorting_key])).toEqual([
    [RESULTS_TABLE, "ReplacingMergeTree", "downstream_repo, first_report_at, delivery_id, run_id, run_attempt, job_name"],
    [DISPATCHES_TABLE, "ReplacingMergeTree", "downstream_repo, created_at, delivery_id"],
    [MIGRATIONS_TABLE, "ReplacingMergeTree", "version"],
  ]);
  expect(tables.find((table) => table.name === RESULTS_TABLE)!.engine_full).toContain("TTL toDateTime(first_report_at) + toIntervalDay(30)");
  expect(await rows(`SELECT version, description FROM ${DB}.${MIGRATIONS_TABLE} FINAL ORDER BY version`)).toEqual([
    { version: 1, description: "results and dispatch log" },
    { version: 2, description: "skip indexes for PR lookups" },
  ]);
});

it("runs again without applying anything, and applies a changed retention", async () => {
  expect(await migrateHud(client, DB, 30)).toEqual([]);
  expect(await migrateHud(client, DB, 90)).toEqual([]);
  const ttl = await rows<{ name: string; engine_full: string }>(`SELECT name, engine_full FROM system.tables WHERE database = '${DB}' AND name != '${MIGRATIONS_TABLE}'`);
  for (const table of ttl) expect(table.engine_full).toMatch(/toIntervalDay\(90\)/);
  expect(await rows(`SELECT count() AS n FROM ${DB}.${MIGRATIONS_TABLE}`)).toEqual([{ n: 2 }]);
});

it("serves PR lookups with the skip indexes", async () => {
  const indexes = await rows<{ table: string; name: string }>(`SELECT table, name FROM system.data_skipping_indices WHERE database = '${DB}' ORDER BY table, name`);
  expect(indexes).toEqual([
    { table: RESULTS_TABLE, name: "head_sha_bloom" },
    { table: RESULTS_TABLE, name: "pr_number_minmax" },
    { table: DISPATCHES_TABLE, name: "head_sha_bloom" },
    { table: DISPATCHES_TABLE, name: "pr_number_minmax" },
  ]);
  // 100,000 job attempts of one backend on one day, PR numbers growing with time as on GitHub.
  await client.command({
    query: `INSERT INTO ${DB}.${RESULTS_TABLE} (upstream_repo, pr_number, head_sha, delivery_id, downstream_repo, backend_name, level,
        event_type, workflow_name, workflow_url, run_id, run_attempt, job_name, status, first_report_at, version)
      SELECT 'pytorch/pytorch', 100000 + number, hex(number), toString(number), 'acme/npu', 'npu', 'L4', 'pull_request', 'ci', 'https://x',
        number, 1, 'test', 'completed', toDateTime64('2026-11-20 00:00:00', 3, 'UTC') + number, 1
      FROM numbers(100000)`,
  });
  const plan = (await rows<{ explain: string }>(`EXPLAIN indexes = 1 SELECT * FROM ${DB}.${RESULTS_TABLE} FINAL WHERE pr_number = 150000`))
    .map((line) => line.explain)
    .join("\n");
  // The index keeps one granule of the 13 (8,192 rows each).
  expect(plan).toMatch(/Name: pr_number_minmax[\s\S]*?Granules: 1\/13/);
});

it("refuses a database migrated by a newer relay", async () => {
  await client.insert({ table: `${DB}.${MIGRATIONS_TABLE}`, values: [{ version: 99, description: "future", applied_at: "2030-01-01 00:00:00.000" }], format: "JSONEachRow" });
  await expect(migrateHud(client, DB, 90)).rejects.toThrow("the HUD database has schema version 99, newer than this relay knows (2)");
});
