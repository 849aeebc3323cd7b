// The HUD's ClickHouse schema: the relay's own versioned migrations, recorded in a migrations table and
// safe to run again (every statement is IF NOT EXISTS), so two relays starting at once do no harm.
//
// Both tables are ReplacingMergeTree(version): a later state of a row replaces the earlier one at merge
// time, and readers use FINAL. The sorting keys lead with the backend and a time that never changes for
// a row, so per-backend time-range queries read a narrow slice; that time also drives partitions and TTL.
import type { ClickHouseClient } from "@clickhouse/client";
import { clickHouseTime } from "./rows.js";

export const RESULTS_TABLE = "oot_ci_results";
export const DISPATCHES_TABLE = "oot_dispatch_log";
export const MIGRATIONS_TABLE = "relay_hud_migrations";

/** The column each table's retention counts from. */
const RETENTION_COLUMN = { [RESULTS_TABLE]: "first_report_at", [DISPATCHES_TABLE]: "created_at" } as const;

const ttl = (table: keyof typeof RETENTION_COLUMN, days: number) =>
  `toDateTime(${RETENTION_COLUMN[table]}) + toIntervalDay(${days})`;

interface HudMigration {
  version: number;
  description: string;
  statements: (db: string, retentionDays: number) => string[];
}

const TIME = "DateTime64(3, 'UTC')";

const MIGRATIONS: readonly HudMigration[] = [
  {
    version: 1,
    description: "results and dispatch log",
    statements: (db, days) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${RESULTS_TABLE} (
        upstream_repo LowCardinality(String),
        pr_number UInt32 COMMENT '0 for pushes and self-reports',
        head_sha String,
        delivery_id String COMMENT 'GitHub delivery id of the dispatching webhook; self:<kind>:<run id> for self-reports',
        downstream_repo LowCardinality(String),
        backend_name LowCardinality(String),
        level LowCardinality(String),
        event_type LowCardinality(String) COMMENT 'pull_request, push, or a self-report kind (nightly, ...)',
        workflow_name String,
        workflow_url String,
        run_id UInt64,
        run_attempt UInt32,
        job_name String,
        job_url Nullable(String),
        status LowCardinality(String),
        conclusion LowCardinality(Nullable(String)),
        failure_kind LowCardinality(Nullable(String)),
        summary Nullable(String),
        queue_ms Nullable(UInt32) COMMENT 'relay clock: dispatch accepted by GitHub -> first in_progress (attempt 1 only)',
        execution_ms Nullable(UInt32) COMMENT 'relay clock: first in_progress -> completed',
        first_report_at ${TIME} COMMENT 'relay clock: first report of this attempt; never changes',
        relay_started_at Nullable(${TIME}),
        relay_completed_at Nullable(${TIME}),
        reported_started_at Nullable(${TIME}),
        reported_completed_at Nullable(${TIME}),
        tests_total Nullable(UInt32),
        tests_passed Nullable(UInt32),
        tests_failed Nullable(UInt32),
        tests_skipped Nullable(UInt32),
        failed_tests Array(String),
        artifact_url Nullable(String),
        environment Map(String, String),
        version UInt64
      )
      ENGINE = ReplacingMergeTree(version)
      PARTITION BY toYYYYMM(first_report_at)
      ORDER BY (downstream_repo, first_report_at, delivery_id, run_id, run_attempt, job_name)
      TTL ${ttl(RESULTS_TABLE, days)}
      SETTINGS ttl_only_drop_parts = 1`,
      `CREATE TABLE IF NOT EXISTS ${db}.${DISPATCHES_TABLE} (
        delivery_id String,
        downstream_repo LowCardinality(String),
        upstream_repo LowCardinality(String),
        event_type LowCardinality(String),
        action LowCardinality(String),
        pr_number UInt32 COMMENT '0 for pushes',
        head_sha String,
        backend_name LowCardinality(String),
        level LowCardinality(String),
        outcome LowCardinality(String) COMMENT 'pending, sent, skipped, failed, dead',
        reason LowCardinality(String) COMMENT 'why skipped/failed/dead; never_reported once the start timeout passed silently',
        attempts UInt32,
        created_at ${TIME},
        sent_at Nullable(${TIME}),
        send_ms Nullable(UInt32) COMMENT 'time to send: webhook accepted -> dispatch accepted by GitHub',
        title String COMMENT 'PR title or pushed commit headline',
        author LowCardinality(String),
        version UInt64
      )
      ENGINE = ReplacingMergeTree(version)
      PARTITION BY toYYYYMM(created_at)
      ORDER BY (downstream_repo, created_at, delivery_id)
      TTL ${ttl(DISPATCHES_TABLE, days)}
      SETTINGS ttl_only_drop_parts = 1`,
    ],
  },
  {
    version: 2,
    description: "skip indexes for PR lookups",
    // The PR view filters on pr_number and head_sha, which are not in the sorting keys; PR numbers grow
    // with time, so a minmax index lets a lookup skip almost every granule of a year of history.
    statements: (db) => [
      ...[RESULTS_TABLE, DISPATCHES_TABLE].flatMap((table) => [
        `ALTER TABLE ${db}.${table} ADD INDEX IF NOT EXISTS pr_number_minmax pr_number TYPE minmax GRANULARITY 1`,
        `ALTER TABLE ${db}.${table} ADD INDEX IF NOT EXISTS head_sha_bloom head_sha TYPE bloom_filter(0.01) GRANULARITY 4`,
        `ALTER TABLE ${db}.${table} MATERIALIZE INDEX pr_number_minmax`,
        `ALTER TABLE ${db}.${table} MATERIALIZE INDEX head_sha_bloom`,
      ]),
    ],
  },
];

export const HUD_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/** Brings the HUD schema up to date and sets both tables' TTL to `retentionDays`. */
export async function migrateHud(client: ClickHouseClient, db: string, retentionDays: number): Promise<number[]> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.${MIGRATIONS_TABLE} (version UInt32, description String, applied_at ${TIME})
      ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const result = await client.query({ query: `SELECT DISTINCT version FROM ${db}.${MIGRATIONS_TABLE}`, format: "JSONEachRow" });
  const applied = new Set((await result.json<{ version: number }>()).map((row) => Number(row.version)));
  const newer = [...applied].filter((version) => version > HUD_SCHEMA_VERSION);
  if (newer.length > 0) {
    throw new Error(`the HUD database has schema version ${Math.max(...newer)}, newer than this relay knows (${HUD_SCHEMA_VERSION})`);
  }
  const ran: number[] = [];
  for (const migration of MIGRATIONS.filter((candidate) => !applied.has(candidate.version))) {
    for (const statement of migration.statements(db, retentionDays)) await client.command({ query: statement });
    await client.insert({
      table: `${db}.${MIGRATIONS_TABLE}`,
      values: [{ version: migration.version, description: migration.description, applied_at: clickHouseTime(Date.now()) }],
      format: "JSONEachRow",
    });
    ran.push(migration.version);
  }
  await applyRetention(client, db, retentionDays);
  return ran;
}

/** A changed RELAY_HUD_RETENTION_DAYS takes effect on the next start (MODIFY TTL only when it differs). */
async function applyRetention(client: ClickHouseClient, db: string, days: number): Promise<void> {
  const result = await client.query({
    query: "SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN ({tables:Array(String)})",
    query_params: { db, tables: Object.keys(RETENTION_COLUMN) },
    format: "JSONEachRow",
  });
  for (const { name, engine_full } of await result.json<{ name: keyof typeof RETENTION_COLUMN; engine_full: string }>()) {
    if (!engine_full.includes(`toIntervalDay(${days})`)) {
      await client.command({ query: `ALTER TABLE ${db}.${name} MODIFY TTL ${ttl(name, days)}` });
    }
  }
}
