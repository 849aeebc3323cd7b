// Where crcr export rows come from: the state core queues one beside each HUD results row, in the same
// transaction as the job's state, when the export is configured: for callbacks and for the sweeper's timeouts.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { sweep } from "../../src/callback/sweeper.js";
import type { StoredJob } from "../../src/domain/jobs.js";
import { recordJob } from "../../src/state/reports.js";
import { resultRow } from "../../src/state/result-row.js";
import type { ReportedFields } from "../../src/domain/jobs.js";
import type { SweepSettings } from "../../src/state/settings.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";
import { seedDispatch } from "../helpers/state.js";

const NOW = Date.parse("2026-11-29T12:00:00Z");
const HOUR = 3_600_000;
const SHA = "a".repeat(40);
// The allowlist's spelling: the relay keeps repos in lower case, the exported rows carry it as written.
const parsed = parseAllowlist(`L4:\n  - Beta/TPU-backend: "@oncall"\n`);
if (!parsed.ok) throw new Error("bad test allowlist");
const allowlist = parsed.allowlist;
const settings: SweepSettings = {
  checkPrefix: "oot",
  labelPrefix: "ciflow/oot/",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.example",
  publicUrl: "https://relay.example",
  checkUpdateDelayMs: 0,
  runEndWaitMs: 1_800_000,
  trackedRunWaitMs: 6 * HOUR,
  jobTimeoutMs: 6 * HOUR,
  startTimeoutMs: 2 * HOUR,
};
const exporting = { ...settings, crcrExport: true };

const report = { schema_version: 1, status: "in_progress", workflow: { name: "ci", run_id: 3, run_attempt: 1, url: "https://ci/3" }, job: { name: "test" } };
const running: StoredJob = {
  deliveryId: "d-1",
  downstreamRepo: "beta/tpu-backend",
  runId: 3,
  runAttempt: 1,
  jobName: "test",
  upstreamRepo: "pytorch/pytorch",
  prNumber: 5,
  headSha: SHA,
  backendName: "tpu-backend",
  level: "L4",
  workflowName: "ci",
  status: "in_progress",
  startedAt: NOW - 7 * HOUR,
  fingerprint: "x",
  report,
  updatedAt: NOW - 7 * HOUR,
};

let store: Store;
beforeEach(async () => {
  store = openSqliteStore(tempDir());
  const entry = allowlist.entries[0]!;
  await seedDispatch({ store, allowlist, settings, entry, upstreamRepo: "pytorch/pytorch", headSha: SHA, prNumber: 5, deliveryId: "d-1", now: NOW - 8 * HOUR, withTask: true });
});
afterEach(() => store.close());

/** A callback's report recorded as src/callback/process.ts records it: with its HUD row when the backend is shown on the HUD. */
async function record(job: StoredJob, stateSettings: SweepSettings, hud = true): Promise<void> {
  const hudRow = hud ? resultRow(job, job.report as unknown as ReportedFields, "pull_request") : undefined;
  await store.transaction((tx) => recordJob(tx, job, hudRow, { allowlist, settings: stateSettings, now: job.updatedAt }));
}

const crcrRows = async () => (await store.pendingHudRows(10, ["crcr"])).map((queued) => queued.row);

describe("crcr export rows from the state core", () => {
  it("queues one beside each HUD row, and for the sweeper's timeout of the job, under the same key", async () => {
    await record(running, exporting);
    expect(await crcrRows()).toEqual([
      expect.objectContaining({ downstream_repo: "Beta/TPU-backend", status: "in_progress", conclusion: "", started_at: "2026-11-29T05:00:00.000Z", completed_at: null }),
    ]);

    expect(await sweep(store, allowlist, exporting, NOW)).toMatchObject({ timedOut: 1 });
    const [started, timedOut] = await crcrRows();
    expect(timedOut).toMatchObject({ status: "completed", conclusion: "timed_out", execution_time: 7 * 3600, completed_at: "2026-11-29T12:00:00.000Z" });
    expect(timedOut!.dynamoKey).toBe(started!.dynamoKey);
    expect((await store.pendingHudRows(10, ["results"])).map((queued) => queued.row.status)).toEqual(["in_progress", "completed"]);
  });

  it("queues none when the export is off, nor for a job without a HUD row", async () => {
    await record(running, settings);
    await record({ ...running, jobName: "hidden" }, exporting, false);
    expect(await crcrRows()).toEqual([]);
    expect(await store.hudQueueStats(["results"])).toMatchObject({ pending: 1 });
  });
});
