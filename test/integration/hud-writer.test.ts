// The HUD writer against embedded ClickHouse (chDB): batching, outages (rows stay queued and are all
// written exactly once afterwards), replays after a crash, malformed rows, rows ClickHouse refuses, metrics.
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openClickHouse } from "../../src/hud/clickhouse.js";
import { classifyInsertError } from "../../src/hud/insert-errors.js";
import { DISPATCHES_TABLE, RESULTS_TABLE } from "../../src/hud/migrations.js";
import { HUD_TABLE_TARGETS, parseQueuedRow } from "../../src/hud/rows.js";
import { MAX_UNKNOWN_REFUSALS } from "../../src/hud/writer.js";
import { observeHudQueue } from "../../src/metrics.js";
import { DATABASE_FILE } from "../../src/store/sqlite-store.js";
import { openTestHud, type TestHud } from "../helpers/hud.js";
import { seedDispatch, seedJob, SEED_NOW } from "../helpers/hud-seed.js";
import { tempDir } from "../helpers/server.js";

let hud: TestHud;
beforeEach(() => {
  hud = openTestHud({ batchRows: 3 });
});
afterEach(() => hud.close());

const npu = { repo: "acme/npu", name: "npu", level: "L4" };

async function queueJobs(count: number, from = 0, jobName: (index: number) => string = () => "test"): Promise<void> {
  for (let index = from; index < from + count; index += 1) {
    await seedJob(hud.store, { ...npu, delivery: `d${index}`, pr: index + 1, sha: `sha${index}`, job: jobName(index), at: SEED_NOW + index, conclusion: "success" });
  }
}

/** Rows set aside in the store's queue, with the reason kept for the operator. */
function rejectedRows(): Array<{ error: string; job: string }> {
  const db = new Database(path.join(hud.dir, DATABASE_FILE), { readonly: true });
  try {
    return db.prepare("SELECT error, row_json ->> 'job_name' AS job FROM hud_rows WHERE rejected_at IS NOT NULL ORDER BY id").all() as Array<{ error: string; job: string }>;
  } finally {
    db.close();
  }
}

/** Makes chDB itself refuse rows: a CHECK an operator added (a data error), or one that throws (an unknown one). */
async function refuseInClickHouse(sql: (db: string) => string): Promise<void> {
  const { client, database } = await hud.connection.get();
  await client.command({ query: sql(database) });
}

async function count(table: string, final = true): Promise<number> {
  const { client, database } = await hud.connection.get();
  const result = await client.query({ query: `SELECT count() AS n FROM ${database}.${table}${final ? " FINAL" : ""}`, format: "JSONEachRow" });
  return Number((await result.json<{ n: number | string }>())[0]!.n);
}

describe("batching", () => {
  it("writes at most batchRows per insert, and a full batch without waiting for the timer", async () => {
    const { client } = await hud.connection.get();
    const insert = vi.spyOn(client, "insert");
    hud.writer.start(); // flush interval 60 s: only a full batch is written during this test
    await queueJobs(2);
    hud.writer.notify();
    await new Promise((resolve) => setImmediate(resolve)); // the writer looks at the queue on the next turn
    expect((await hud.store.hudQueueStats()).pending).toBe(2); // less than a batch: left for the timer
    expect(insert).not.toHaveBeenCalled();

    await queueJobs(5, 2);
    hud.writer.notify(); // 7 waiting ≥ 3: written now, in batches of at most 3
    await expect.poll(async () => (await hud.store.hudQueueStats()).pending, { timeout: 10_000 }).toBe(0);
    expect(insert.mock.calls.map(([params]) => (params.values as unknown[]).length)).toEqual([3, 3, 1]);
    expect(await count(RESULTS_TABLE)).toBe(7);
  });

  it("writes what waits once the flush interval passes", async () => {
    await hud.close();
    hud = openTestHud({ batchRows: 1000, flushMs: 50 });
    hud.writer.start();
    await queueJobs(2);
    await expect.poll(async () => (await hud.store.hudQueueStats()).pending, { timeout: 10_000 }).toBe(0);
    expect(await count(RESULTS_TABLE)).toBe(2);
  });
});

describe("beside the crcr export's rows", () => {
  it("drains only the HUD's tables: the export's rows neither count towards a full batch nor leave the queue", async () => {
    const { client } = await hud.connection.get();
    const insert = vi.spyOn(client, "insert");
    hud.writer.start();
    await hud.store.transaction(async (tx) => {
      for (let index = 0; index < 5; index += 1) await tx.queueHudRow("crcr", { dynamoKey: `k${index}` }, SEED_NOW);
    });
    await queueJobs(2);
    hud.writer.notify();
    await new Promise((resolve) => setImmediate(resolve));
    expect(insert).not.toHaveBeenCalled(); // 2 HUD rows wait: less than a batch of 3

    expect(await hud.writer.flush()).toEqual({ written: 2, rejected: 0 });
    expect(await count(RESULTS_TABLE)).toBe(2);
    expect(await hud.store.hudQueueStats(["crcr"])).toEqual({ pending: 5, oldestPendingAt: SEED_NOW, rejected: 0 });
  });
});

describe("of several replicas", () => {
  it("writes only while this process leads: a follower leaves the shared queue to the leader, then writes once it leads", async () => {
    await hud.close();
    let leading = false;
    hud = openTestHud({ batchRows: 1000, flushMs: 20, leader: () => leading });
    hud.writer.start();
    await queueJobs(2);
    expect(await hud.writer.flush()).toEqual({ written: 0, rejected: 0 });
    expect((await hud.store.hudQueueStats()).pending).toBe(2);
    leading = true;
    await expect.poll(async () => (await hud.store.hudQueueStats()).pending, { timeout: 10_000 }).toBe(0);
    expect(await count(RESULTS_TABLE)).toBe(2);
  });
});

describe("when ClickHouse is unavailable", () => {
  it("keeps the rows while it cannot connect, then writes every one exactly once", async () => {
    await hud.close();
    // chDB serves one data directory per process: while another one is open, the HUD's cannot be.
    const other = await openClickHouse({ kind: "embedded", path: path.join(tempDir(), "other"), database: "relay" });
    await other.ping();
    hud = openTestHud({ batchRows: 3, dir: hud.dir });
    await queueJobs(4);
    await seedDispatch(hud.store, { ...npu, delivery: "d0", pr: 1, sha: "sha0", at: SEED_NOW, outcome: "sent" });

    const failed = await hud.writer.flush();
    expect(failed).toMatchObject({ written: 0, error: expect.stringMatching(/only one active data directory/) });
    expect((await hud.store.hudQueueStats()).pending).toBe(6); // 4 results, 2 dispatch snapshots (pending, sent)
    expect(hud.writer.status()).toMatchObject({ failing: true });

    await other.close();
    const { drainPending } = await import("chdb");
    await drainPending();
    expect(await hud.writer.flush()).toEqual({ written: 6, rejected: 0 });
    expect((await hud.store.hudQueueStats()).pending).toBe(0);
    expect(await count(RESULTS_TABLE)).toBe(4);
    // Two snapshots of one dispatch-log row: FINAL keeps the newer (sent).
    expect(await count(DISPATCHES_TABLE)).toBe(1);
    const { client, database } = await hud.connection.get();
    const rows = await client.query({ query: `SELECT outcome, attempts FROM ${database}.${DISPATCHES_TABLE} FINAL`, format: "JSONEachRow" });
    expect(await rows.json()).toEqual([{ outcome: "sent", attempts: 1 }]);
  });

  it("keeps rows queued through an outage in mid-run and loses none written before it", async () => {
    await queueJobs(2);
    expect(await hud.writer.flush()).toEqual({ written: 2, rejected: 0 });
    // ClickHouse goes away: the HUD's session is closed and the engine is busy with another data directory.
    await hud.connection.reset();
    const other = await openClickHouse({ kind: "embedded", path: path.join(tempDir(), "other"), database: "relay" });
    await other.ping();

    await queueJobs(3, 2);
    expect((await hud.writer.flush()).error).toMatch(/only one active data directory/);
    expect((await hud.writer.flush()).error).toMatch(/only one active data directory/);
    expect((await hud.store.hudQueueStats()).pending).toBe(3);
    expect(await hud.metrics.registry.getSingleMetricAsString("relay_hud_write_errors_total")).toMatch(/ 2$/);

    await other.close();
    await (await import("chdb")).drainPending();
    expect(await hud.writer.flush()).toEqual({ written: 3, rejected: 0 });
    expect(await count(RESULTS_TABLE)).toBe(5);
  });

  it("a row written twice (crash between insert and dequeue) is read once with FINAL", async () => {
    await queueJobs(3);
    const queued = await hud.store.pendingHudRows(10, HUD_TABLE_TARGETS);
    await hud.writer.flush();
    // Replay the same rows, as a restarted relay would if it crashed before removing them.
    const { client, database } = await hud.connection.get();
    const rows = queued.map((item) => parseQueuedRow(item.target, item.row)).map((parsed) => (parsed.ok ? parsed.row : {}));
    await client.insert({ table: `${database}.${RESULTS_TABLE}`, values: rows, format: "JSONEachRow" });
    expect(await count(RESULTS_TABLE, false)).toBe(6);
    expect(await count(RESULTS_TABLE)).toBe(3);
  });
});

describe("rows ClickHouse refuses", () => {
  it("isolates the 2 refused rows of a batch of 40, sets them aside with ClickHouse's message and writes the 38 others once", async () => {
    await hud.close();
    hud = openTestHud({ batchRows: 40, dir: hud.dir });
    await refuseInClickHouse((db) => `ALTER TABLE ${db}.${RESULTS_TABLE} ADD CONSTRAINT no_poison CHECK job_name NOT LIKE 'poison%'`);
    const poisoned = new Set([7, 29]);
    await queueJobs(40, 0, (index) => (poisoned.has(index) ? `poison ${index}` : "test"));
    const { client } = await hud.connection.get();
    const insert = vi.spyOn(client, "insert");

    expect(await hud.writer.flush()).toEqual({ written: 38, rejected: 2 });
    // k = 2 refused rows among n = 40: at most 2k(⌈log₂ n⌉ + 1) + 1 inserts.
    expect(insert.mock.calls.length).toBeLessThanOrEqual(2 * 2 * (Math.ceil(Math.log2(40)) + 1) + 1);
    expect(await count(RESULTS_TABLE, false)).toBe(38);
    expect(await count(RESULTS_TABLE)).toBe(38);
    expect(await hud.store.hudQueueStats()).toEqual({ pending: 0, rejected: 2 });
    expect(rejectedRows()).toEqual([
      { job: "poison 7", error: expect.stringMatching(/^refused by ClickHouse: VIOLATED_CONSTRAINT: Constraint `no_poison`/) },
      { job: "poison 29", error: expect.stringMatching(/^refused by ClickHouse: VIOLATED_CONSTRAINT/) },
    ]);
    expect(hud.writer.status()).toMatchObject({ failing: false });
    const text = await hud.metrics.registry.metrics();
    expect(text).toMatch(/relay_hud_rows_rejected_total\{table="oot_ci_results"\} 2/);
    expect(text).toMatch(/relay_hud_writer_failing_since_seconds 0/);

    // After a restart nothing is retried: the refused rows stay set aside, the others were removed.
    await hud.close();
    hud = openTestHud({ batchRows: 40, dir: hud.dir });
    const again = vi.spyOn((await hud.connection.get()).client, "insert");
    expect(await hud.writer.flush()).toEqual({ written: 0, rejected: 0 });
    expect(again).not.toHaveBeenCalled();
    expect(await count(RESULTS_TABLE, false)).toBe(38);
  });

  it("sets aside a row refused for an unknown reason after MAX_UNKNOWN_REFUSALS drains, writing the others at once", async () => {
    // throwIf answers FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: neither a known data error nor an outage.
    await refuseInClickHouse((db) => `ALTER TABLE ${db}.${RESULTS_TABLE} ADD CONSTRAINT odd CHECK throwIf(job_name = 'odd', 'odd job') = 0`);
    await queueJobs(3, 0, (index) => (index === 1 ? "odd" : "test"));

    const first = await hud.writer.flush();
    expect(first).toMatchObject({ written: 2, rejected: 0, error: expect.stringMatching(/FUNCTION_THROW_IF_VALUE_IS_NON_ZERO/) });
    expect(hud.writer.status()).toMatchObject({ failing: true, failingSince: expect.any(Number) });
    expect(await hud.metrics.registry.getSingleMetricAsString("relay_hud_writer_failing_since_seconds")).toMatch(/ [1-9]\d*(\.\d+)?$/);
    for (let drain = 2; drain < MAX_UNKNOWN_REFUSALS; drain += 1) expect(await hud.writer.flush()).toMatchObject({ written: 0, rejected: 0 });
    expect(await hud.store.hudQueueStats()).toMatchObject({ pending: 1, rejected: 0 });

    expect(await hud.writer.flush()).toEqual({ written: 0, rejected: 1 });
    expect(await hud.store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
    expect(rejectedRows()).toEqual([{ job: "odd", error: expect.stringMatching(`^refused ${MAX_UNKNOWN_REFUSALS} times by ClickHouse: FUNCTION_THROW_IF_VALUE_IS_NON_ZERO`) }]);
    expect(hud.writer.status()).toEqual({ failing: false, lastWriteAt: expect.any(Number) });
    expect(await count(RESULTS_TABLE)).toBe(2);
  });

  it("repairs a lone surrogate in a queued row instead of sending what chDB refuses", async () => {
    const { client, database } = await hud.connection.get();
    await queueJobs(1, 0, () => "test \ud800");
    const raw = (await hud.store.pendingHudRows(1))[0]!.row;
    // Sent as it is, chDB refuses the whole insert, a refusal of data.
    const refused = await client.insert({ table: `${database}.${RESULTS_TABLE}`, values: [raw], format: "JSONEachRow" }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ type: "CANNOT_PARSE_ESCAPE_SEQUENCE" });
    expect(classifyInsertError(refused)).toBe("data");

    expect(await hud.writer.flush()).toEqual({ written: 1, rejected: 0 });
    const rows = await client.query({ query: `SELECT job_name FROM ${database}.${RESULTS_TABLE} FINAL`, format: "JSONEachRow" });
    expect(await rows.json()).toEqual([{ job_name: "test \ufffd" }]);
  });

  it("refuses a queued row whose numbers do not fit their columns instead of letting ClickHouse wrap them", async () => {
    await queueJobs(1);
    const row = (await hud.store.pendingHudRows(1))[0]!.row;
    expect(parseQueuedRow("results", { ...row, tests_total: 2 ** 32 + 5 })).toEqual({ ok: false, error: "tests_total: Too big: expected number to be <=4294967295" });
    expect(parseQueuedRow("results", { ...row, run_attempt: 2 ** 32 })).toMatchObject({ ok: false, error: expect.stringMatching(/^run_attempt: /) });
    expect(parseQueuedRow("results", { ...row, reported_started_at: "+275760-09-13T00:00:00Z" })).toMatchObject({ ok: false, error: expect.stringMatching(/^reported_started_at: /) });
  });
});

describe("rows and metrics", () => {
  it("sets malformed rows aside with the reason and writes the rest", async () => {
    await queueJobs(1);
    await hud.store.putJob(
      { deliveryId: "x", downstreamRepo: "acme/npu", runId: 1, runAttempt: 1, jobName: "j", upstreamRepo: "u/p", prNumber: 1, headSha: "s", backendName: "npu", level: "L4", workflowName: "ci", status: "completed", fingerprint: "f", report: {}, updatedAt: 1 },
      { upstream_repo: "u/p", run_id: "not a number" },
      SEED_NOW,
    );
    expect(await hud.writer.flush()).toEqual({ written: 1, rejected: 1 });
    expect(await hud.store.hudQueueStats()).toEqual({ pending: 0, rejected: 1 });
    const text = await hud.metrics.registry.metrics();
    expect(text).toMatch(/relay_hud_rows_rejected_total\{table="oot_ci_results"\} 1/);
    expect(text).toMatch(/relay_hud_rows_written_total\{table="oot_ci_results"\} 1/);
    expect(text).toMatch(/relay_hud_insert_seconds_count\{table="oot_ci_results"\} [1-9]/);
  });

  it("reports the queue's depth and age at scrape time", async () => {
    observeHudQueue(hud.metrics, () => hud.store.hudQueueStats(), () => SEED_NOW + 90_000);
    await queueJobs(2);
    // seedJob queues each row at its job's completion time (SEED_NOW + index + 60 s).
    const text = await hud.metrics.registry.metrics();
    expect(text).toMatch(/relay_hud_rows_pending 2/);
    expect(text).toMatch(/relay_hud_oldest_pending_age_seconds 30\b/);
  });

  it("refuses a queued row that does not fit the table, naming the field", () => {
    expect(parseQueuedRow("results", { upstream_repo: "u/p" })).toMatchObject({ ok: false, error: expect.stringMatching(/pr_number/) });
    expect(parseQueuedRow("dispatches", { deliveryId: "d" })).toMatchObject({ ok: false, error: expect.stringMatching(/downstreamRepo/) });
  });
});
