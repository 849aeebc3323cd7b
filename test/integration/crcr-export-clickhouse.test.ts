// The crcr export into a ClickHouse table made from hud.pytorch.org's production schema (embedded chDB):
// the columns and types rows fill, every column read back, replacement of a job's earlier state, an outage
// keeping every row, a refused value set aside, and a table without a column the rows need.
import path from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredJob } from "../../src/domain/jobs.js";
import { CRCR_COLUMNS, checkCrcrTable, ClickHouseDestination } from "../../src/export/clickhouse-destination.js";
import { crcrRow, type CrcrReport } from "../../src/export/crcr-row.js";
import { CrcrExporter } from "../../src/export/exporter.js";
import { ClickHouseConnection, openClickHouse } from "../../src/hud/clickhouse.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { testLog } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";

const TABLE = "default.crcr_workflow_job";

// pytorch/test-infra clickhouse_db_schema/default.crcr_workflow_job/schema.sql, verbatim but for one change:
// the engine, SharedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}') (ClickHouse Cloud's
// replicated engine), is ReplacingMergeTree, its single-server equivalent.
const PRODUCTION_SCHEMA = `CREATE TABLE default.crcr_workflow_job
(
    \`dynamoKey\` String,
    \`status\` String,
    \`downstream_repo\` String COMMENT 'Downstream repo org/name, from trusted.verified_repo',
    \`upstream_repo\` String COMMENT 'Upstream repo, typically pytorch/pytorch',
    \`pr_number\` UInt64 COMMENT 'PyTorch PR number',
    \`pytorch_head_sha\` String COMMENT 'PyTorch PR commit SHA',
    \`delivery_id\` String COMMENT 'GitHub webhook delivery ID from L1 dispatch',
    \`workflow_run_url\` String COMMENT 'Link to downstream GHA workflow run',
    \`workflow_name\` String COMMENT 'Downstream workflow name (github.workflow)',
    \`job_name\` String DEFAULT '' COMMENT 'Downstream job name (github.job)',
    \`check_run_id\` String DEFAULT '' COMMENT 'GitHub-assigned unique ID per job execution (job.check_run_id)',
    \`run_id\` String DEFAULT '' COMMENT 'GitHub workflow run ID (github.run_id), same across retries',
    \`run_attempt\` UInt32 DEFAULT 1 COMMENT 'Workflow run attempt number (github.run_attempt)',
    \`conclusion\` String COMMENT 'success, failure, cancelled, timed_out (set on completed)',
    \`queue_time\` Nullable(Float64) COMMENT 'Relay-measured dispatch-to-in_progress time in seconds',
    \`execution_time\` Nullable(Float64) COMMENT 'Relay-measured in_progress-to-completed time in seconds',
    \`started_at\` DateTime64(9) COMMENT 'Downstream-reported timestamp when job started',
    \`completed_at\` DateTime64(9) COMMENT 'Downstream-reported timestamp when job completed',
    \`total_tests\` UInt64 DEFAULT 0,
    \`passed_tests\` UInt64 DEFAULT 0,
    \`failed_tests\` UInt64 DEFAULT 0,
    \`skipped_tests\` UInt64 DEFAULT 0,
    \`failed_tests_json\` String DEFAULT '' COMMENT 'JSON array of failed/errored test details',
    \`artifact_url\` String DEFAULT '' COMMENT 'URL to downstream-hosted artifacts (logs, reports)',
    \`environment\` String DEFAULT '' COMMENT 'JSON: {"sdk": "<version>", "device": "<hardware>", ...}',
    \`downstream_repo_level\` String DEFAULT '' COMMENT 'Relay level at dispatch time: L2, L3, L4',
    \`event_type\` String DEFAULT 'pull_request' COMMENT 'Dispatch event type: pull_request, nightly, periodic',
    \`_inserted_at\` DateTime MATERIALIZED now(),
    \`repository_full_name\` String ALIAS downstream_repo COMMENT 'Alias for consistency with workflow_job queries',
    \`duration_seconds\` Float64 ALIAS if(completed_at = toDateTime64(0, 9), 0, dateDiff(second, started_at, completed_at)),
    INDEX status_index status TYPE bloom_filter GRANULARITY 1,
    INDEX started_at_index started_at TYPE minmax GRANULARITY 1,
    INDEX completed_at_index completed_at TYPE minmax GRANULARITY 1,
    INDEX pr_number_index pr_number TYPE bloom_filter GRANULARITY 1,
    INDEX downstream_repo_index downstream_repo TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (downstream_repo, delivery_id, dynamoKey)
SETTINGS index_granularity = 8192`;

/** The production table's columns a writer fills, with their types (DESCRIBE TABLE, default_kind '' or DEFAULT). */
const WRITTEN_COLUMNS = [
  ["dynamoKey", "String"], ["status", "String"], ["downstream_repo", "String"], ["upstream_repo", "String"], ["pr_number", "UInt64"],
  ["pytorch_head_sha", "String"], ["delivery_id", "String"], ["workflow_run_url", "String"], ["workflow_name", "String"], ["job_name", "String"],
  ["check_run_id", "String"], ["run_id", "String"], ["run_attempt", "UInt32"], ["conclusion", "String"], ["queue_time", "Nullable(Float64)"],
  ["execution_time", "Nullable(Float64)"], ["started_at", "DateTime64(9)"], ["completed_at", "DateTime64(9)"], ["total_tests", "UInt64"],
  ["passed_tests", "UInt64"], ["failed_tests", "UInt64"], ["skipped_tests", "UInt64"], ["failed_tests_json", "String"], ["artifact_url", "String"],
  ["environment", "String"], ["downstream_repo_level", "String"], ["event_type", "String"],
];

const STARTED = Date.parse("2026-05-04T20:48:28.123Z");
const COMPLETED = Date.parse("2026-05-04T21:10:00.000Z");

function job(jobName: string, fields: Partial<StoredJob> = {}): StoredJob {
  return {
    deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    downstreamRepo: "Acme/npu-backend",
    runId: 555,
    runAttempt: 1,
    jobName,
    upstreamRepo: "pytorch/pytorch",
    prNumber: 2,
    headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    backendName: "npu",
    level: "L4",
    workflowName: "ci",
    status: "in_progress",
    startedAt: STARTED,
    queueMs: 91_500,
    fingerprint: "f",
    report: { workflow: { url: "https://github.com/Acme/npu-backend/actions/runs/555" } },
    updatedAt: STARTED,
    ...fields,
  };
}
const finalReport: CrcrReport = {
  workflow: { url: "https://github.com/Acme/npu-backend/actions/runs/555" },
  tests: { total: 800, passed: 771, failed: 2, skipped: 25 },
  failed_tests: ["test_ops.py::test_add", "test_nn.py::test_conv"],
  artifact_url: "https://artifacts.example.org/555",
  environment: { device: "Ascend 910B" },
};
const done = { status: "completed" as const, conclusion: "success", completedAt: COMPLETED, executionMs: 1_291_877, report: { ...finalReport }, updatedAt: COMPLETED };

let dir: string;
let store: Store;
let metrics: RelayMetrics;
let connection: ClickHouseConnection;

/** The production table, created on the connection's first open, then checked as the relay checks it. */
function connect(table = TABLE, create = PRODUCTION_SCHEMA): ClickHouseConnection {
  return new ClickHouseConnection({ kind: "embedded", path: path.join(dir, "clickhouse"), database: "default" }, async (client) => {
    const exists = await client.query({ query: `EXISTS TABLE ${table}`, format: "JSONEachRow" });
    if (Number((await exists.json<{ result: number }>())[0]!.result) === 0) await client.command({ query: create });
    await checkCrcrTable(client, table);
  });
}

function exporter(batchRows = 100, table = TABLE): CrcrExporter {
  return new CrcrExporter({ store, destination: new ClickHouseDestination({ connection, table, batchRows }), flushMs: 60_000, metrics, log: testLog });
}

async function queue(...jobs: StoredJob[]): Promise<void> {
  await store.transaction(async (tx) => {
    for (const queued of jobs) await tx.queueHudRow("crcr", crcrRow(queued, queued.report as unknown as CrcrReport, "pull_request"), queued.updatedAt);
  });
}

async function select<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  // UInt64 as JSON numbers, not strings: the values are compared as they were sent.
  return (await client.query({ query, format: "JSONEachRow", clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json<T>();
}

beforeEach(() => {
  dir = tempDir("relay-crcr-ch-");
  store = openSqliteStore(dir);
  metrics = createMetrics({ defaultMetrics: false });
  connection = connect();
});
afterEach(async () => {
  await connection.close();
  await store.close();
});

describe("the crcr export into ClickHouse", () => {
  it("fills exactly the production table's columns, with their types, and reads back every column; a later state replaces the earlier", async () => {
    // The in_progress and completed states of one job, a second job still running, and our own HUD's row beside them.
    await queue(job("test (npu, 1/2)"), job("test (npu, 2/2)"), job("test (npu, 1/2)", done));
    await store.putJob(job("x"), { upstream_repo: "pytorch/pytorch" }, STARTED);

    expect(await exporter().flush()).toEqual({ exported: 3, rejected: 0 });
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 0 });
    expect(await store.hudQueueStats(["results"])).toMatchObject({ pending: 1 }); // the HUD writer's, untouched

    const { client } = await connection.get();
    const columns = await select<{ name: string; type: string; default_type: string }>(client, `DESCRIBE TABLE ${TABLE}`);
    const written = columns.filter((column) => column.default_type === "" || column.default_type === "DEFAULT");
    expect(written.map((column) => [column.name, column.type])).toEqual(WRITTEN_COLUMNS);
    expect([...CRCR_COLUMNS].sort()).toEqual(written.map((column) => column.name).sort());

    const rows = await select<Record<string, unknown>>(
      client,
      `SELECT *, repository_full_name, duration_seconds FROM ${TABLE} FINAL ORDER BY job_name`,
    );
    expect(rows).toEqual([
      {
        dynamoKey: "Acme/npu-backend/72d3162e-cc78-11e3-81ab-4c9367dc0958/ci/test (npu, 1/2)/555-1-565d90197c7e",
        status: "completed",
        downstream_repo: "Acme/npu-backend",
        upstream_repo: "pytorch/pytorch",
        pr_number: 2,
        pytorch_head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        workflow_run_url: "https://github.com/Acme/npu-backend/actions/runs/555",
        workflow_name: "ci",
        job_name: "test (npu, 1/2)",
        check_run_id: "555-1-565d90197c7e",
        run_id: "555",
        run_attempt: 1,
        conclusion: "success",
        queue_time: 91.5,
        execution_time: 1291.877,
        started_at: "2026-05-04 20:48:28.123000000",
        completed_at: "2026-05-04 21:10:00.000000000",
        total_tests: 800,
        passed_tests: 771,
        failed_tests: 2,
        skipped_tests: 25,
        failed_tests_json: '["test_ops.py::test_add","test_nn.py::test_conv"]',
        artifact_url: "https://artifacts.example.org/555",
        environment: '{"device":"Ascend 910B"}',
        downstream_repo_level: "L4",
        event_type: "pull_request",
        repository_full_name: "Acme/npu-backend",
        duration_seconds: 1292, // dateDiff counts second boundaries crossed: 20:48:28.123 → 21:10:00
      },
      expect.objectContaining({ job_name: "test (npu, 2/2)", status: "in_progress", conclusion: "", completed_at: "1970-01-01 00:00:00.000000000", duration_seconds: 0, total_tests: 0 }),
    ]);
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_rows_total")).toMatch(/\{outcome="exported"\} 3/);
  });

  it("keeps every row while ClickHouse is unavailable, then writes each one once", async () => {
    // chDB serves one data directory per process: while another one is open, the export's cannot be.
    const other = await openClickHouse({ kind: "embedded", path: path.join(tempDir(), "other"), database: "default" });
    await other.ping();
    await queue(job("a"), job("b"));
    const export_ = exporter();

    expect(await export_.flush()).toMatchObject({ exported: 0, rejected: 0, error: expect.stringMatching(/only one active data directory/) });
    expect(export_.status()).toMatchObject({ failing: true, failingSince: expect.any(Number) });
    expect(await store.hudQueueStats(["crcr"])).toMatchObject({ pending: 2, rejected: 0 });
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_errors_total")).toMatch(/ 1$/);

    await other.close();
    const { drainPending } = await import("chdb");
    await drainPending();
    expect(await export_.flush()).toEqual({ exported: 2, rejected: 0 });
    expect(export_.status()).toEqual({ failing: false, lastExportAt: expect.any(Number) });
    const { client } = await connection.get();
    expect(await select(client, `SELECT job_name FROM ${TABLE} ORDER BY job_name`)).toEqual([{ job_name: "a" }, { job_name: "b" }]);
  });

  it("sets aside a row ClickHouse refuses for its value, with ClickHouse's message, and writes the others", async () => {
    const { client } = await connection.get();
    await client.command({ query: `ALTER TABLE ${TABLE} ADD CONSTRAINT no_poison CHECK job_name != 'poison'` });
    await queue(job("a"), job("poison"), job("b"));

    expect(await exporter().flush()).toEqual({ exported: 2, rejected: 1 });
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 1 });
    expect(await select(client, `SELECT job_name FROM ${TABLE} ORDER BY job_name`)).toEqual([{ job_name: "a" }, { job_name: "b" }]);
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_rows_total")).toMatch(/\{outcome="rejected"\} 1/);
  });

  it("keeps the rows while the table lacks a column they fill, naming it", async () => {
    await connection.close();
    const partial = PRODUCTION_SCHEMA.replace("default.crcr_workflow_job", "default.partial").replace(/ {4}`environment`[^\n]*\n/, "");
    connection = connect("default.partial", partial);
    await queue(job("a"));
    expect(await exporter(100, "default.partial").flush()).toMatchObject({ exported: 0, error: "default.partial has no column environment: create it with crcr_workflow_job's schema (docs/pytorch.md)" });
    expect(await store.hudQueueStats(["crcr"])).toMatchObject({ pending: 1, rejected: 0 });
  });
});
