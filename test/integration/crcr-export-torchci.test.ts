// The crcr export to torchci's results API, against a real HTTP server on loopback: one record per request
// in queue order, the token header and the production envelope, pacing, outages (5xx, refused connections,
// a rejected token, a redirect) that keep every row, a 400 that sets one row aside, and stopping mid-request.
import path from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredJob } from "../../src/domain/jobs.js";
import { crcrRow } from "../../src/export/crcr-row.js";
import { CrcrExporter } from "../../src/export/exporter.js";
import { TorchciDestination, type TorchciDestinationOptions } from "../../src/export/torchci-destination.js";
import { createLogger } from "../../src/logging.js";
import { createMetrics, type RelayMetrics } from "../../src/metrics.js";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";
import { TorchciStandIn } from "../helpers/torchci-stand-in.js";

const TOKEN = "hud-bot-key-0123456789abcdef";
const AT = Date.parse("2026-05-04T20:48:28.000Z");

let dir: string;
let store: Store;
let metrics: RelayMetrics;
let torchci: TorchciStandIn;
let logLines: string[];

beforeEach(async () => {
  dir = tempDir("relay-crcr-api-");
  store = openSqliteStore(dir);
  metrics = createMetrics({ defaultMetrics: false });
  torchci = new TorchciStandIn();
  await torchci.listen();
  logLines = [];
});
afterEach(async () => {
  await torchci.close();
  await store.close();
});

/** The relay's own logger (its redaction included), writing into logLines. */
const memoryLog = () => createLogger({ level: "info", format: "json" }, new Writable({ write: (chunk: Buffer, _encoding, done) => (logLines.push(chunk.toString()), done()) }));

async function exporter(options: Partial<TorchciDestinationOptions> & { leader?: () => boolean } = {}): Promise<CrcrExporter> {
  const { leader, ...destination } = options;
  const log = await memoryLog();
  return new CrcrExporter({
    store,
    destination: new TorchciDestination({ url: torchci.url, token: TOKEN, batchRows: 2, paceMs: 0, ...destination }),
    flushMs: 60_000,
    metrics,
    log,
    ...(leader && { leader }),
  });
}

function job(jobName: string): StoredJob {
  return {
    deliveryId: "d-1",
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
    startedAt: AT,
    queueMs: 1_500,
    fingerprint: "f",
    report: {},
    updatedAt: AT,
  };
}

async function queue(...jobNames: string[]): Promise<void> {
  await store.transaction(async (tx) => {
    for (const name of jobNames) await tx.queueHudRow("crcr", crcrRow(job(name), { workflow: { url: "https://ci.example.org/runs/555" } }, "pull_request"), AT);
  });
}

/** Rows set aside, with the reason kept for the operator. */
function setAside(): Array<{ error: string; job: string }> {
  const db = new Database(path.join(dir, DATABASE_FILE), { readonly: true });
  try {
    return db.prepare("SELECT error, row_json ->> 'job_name' AS job FROM hud_rows WHERE rejected_at IS NOT NULL ORDER BY id").all() as Array<{ error: string; job: string }>;
  } finally {
    db.close();
  }
}

describe("the crcr export to torchci's results API", () => {
  it("posts one record per request in queue order, with the token header and the production relay's envelope", async () => {
    await queue("a", "b", "c"); // two batches of at most 2
    await store.putJob(job("x"), { upstream_repo: "pytorch/pytorch" }, AT); // our HUD's row: not exported

    expect(await (await exporter()).flush()).toEqual({ exported: 3, rejected: 0 });
    expect(torchci.jobs()).toEqual(["a", "b", "c"]);
    for (const request of torchci.received) {
      expect(request.path).toBe("/api/crcr/results");
      expect(request.headers).toMatchObject({ "x-hud-internal-bot": TOKEN, "content-type": "application/json" });
    }
    expect(torchci.received[0]!.body).toStrictEqual({
      trusted: { verified_repo: "Acme/npu-backend", downstream_repo_level: "L4", ci_metrics: { queue_time: 1.5, execution_time: null } },
      untrusted: {
        callback_payload: {
          event_type: "pull_request",
          delivery_id: "d-1",
          payload: { repository: { full_name: "pytorch/pytorch" }, pull_request: { number: 2, head: { sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821" } } },
          workflow: {
            schema_version: "1",
            status: "in_progress",
            conclusion: null,
            name: "ci",
            url: "https://ci.example.org/runs/555",
            run_id: "555",
            run_attempt: "1",
            job_name: "a",
            check_run_id: "555-1-ca978112ca1b",
            started_at: "2026-05-04T20:48:28.000Z",
            completed_at: null,
          },
        },
      },
    });
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 0 });
    expect(await store.hudQueueStats(["results"])).toMatchObject({ pending: 1 });
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_rows_total")).toMatch(/\{outcome="exported"\} 3/);
  });

  it("paces requests: at least paceMs between two starts", async () => {
    await queue("a", "b", "c");
    let now = AT;
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    };
    expect(await (await exporter({ paceMs: 100, now: () => now, sleep })).flush()).toMatchObject({ exported: 3 });
    expect(waits).toEqual([100, 100]);
  });

  it("keeps every row while torchci answers 503 or cannot be reached, then sends them all in order", async () => {
    await queue("a", "b", "c");
    let down = 2;
    torchci.answer = (_body, res) => (down-- > 0 ? res.writeHead(503).end('{"error":"Internal error writing to DynamoDB"}') : res.writeHead(200).end("{}"));
    const export_ = await exporter();

    expect(await export_.flush()).toEqual({ exported: 0, rejected: 0, error: 'torchci answered HTTP 503: {"error":"Internal error writing to DynamoDB"}' });
    expect(export_.status()).toMatchObject({ failing: true, failingSince: expect.any(Number) });
    expect(await export_.flush()).toMatchObject({ exported: 0, error: expect.stringMatching(/HTTP 503/) });
    expect(await store.hudQueueStats(["crcr"])).toMatchObject({ pending: 3, rejected: 0 });

    // Down altogether: the kept-alive connection closed, or a new one refused.
    const { port } = torchci;
    await torchci.close();
    expect(await export_.flush()).toMatchObject({ exported: 0, error: expect.stringMatching(/^could not reach torchci \(fetch failed: (UND_ERR_SOCKET|ECONNREFUSED)\)$/) });
    await torchci.listen(port);

    expect(await export_.flush()).toEqual({ exported: 3, rejected: 0 });
    // The first row was tried at each attempt and nothing went past it: every row once, in order.
    expect(torchci.jobs()).toEqual(["a", "a", "a", "b", "c"]);
    expect(export_.status()).toEqual({ failing: false, lastExportAt: expect.any(Number) });
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 0 });
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_errors_total")).toMatch(/ 3$/);
    expect(logLines.join("")).toMatch(/crcr export failed; rows stay queued/);
    expect(logLines.join("")).not.toContain(TOKEN);
  });

  it("sets aside a row torchci refuses with 400, with its answer, and sends the others", async () => {
    await queue("a", "bad", "c");
    torchci.answer = (body, res) =>
      body.untrusted.callback_payload.workflow.job_name === "bad"
        ? res.writeHead(400).end('{"error":"Missing required field: workflow.job_name"}')
        : res.writeHead(200).end("{}");

    expect(await (await exporter()).flush()).toEqual({ exported: 2, rejected: 1 });
    expect(torchci.jobs()).toEqual(["a", "bad", "c"]);
    expect(setAside()).toEqual([{ job: "bad", error: 'torchci answered HTTP 400: {"error":"Missing required field: workflow.job_name"}' }]);
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 0, rejected: 1 });
    expect(await metrics.registry.getSingleMetricAsString("relay_crcr_export_rows_total")).toMatch(/\{outcome="rejected"\} 1/);
    expect(logLines.join("")).not.toContain(TOKEN);
  });

  it("keeps the rows when the token is refused (401) or torchci redirects, which is not followed", async () => {
    await queue("a");
    torchci.answer = (_body, res) => res.writeHead(401).end('{"error":"Unauthorized"}');
    const export_ = await exporter();
    expect(await export_.flush()).toMatchObject({ exported: 0, rejected: 0, error: 'torchci answered HTTP 401: {"error":"Unauthorized"}' });

    const elsewhere = new TorchciStandIn();
    await elsewhere.listen();
    torchci.answer = (_body, res) => res.writeHead(307, { location: elsewhere.url }).end();
    expect(await export_.flush()).toMatchObject({ exported: 0, error: expect.stringMatching(/HTTP 307 \(a redirect, not followed/) });
    expect(elsewhere.received).toEqual([]); // the token never went there
    await elsewhere.close();
    expect(await store.hudQueueStats(["crcr"])).toEqual({ pending: 1, oldestPendingAt: AT, rejected: 0 });
  });

  it("never logs the token, even where a request's headers are logged", async () => {
    (await memoryLog()).warn({ headers: { "x-hud-internal-bot": TOKEN } }, "a request");
    expect(logLines.join("")).toContain('"x-hud-internal-bot":"[redacted]"');
    expect(logLines.join("")).not.toContain(TOKEN);
  });

  it("exports nothing on a replica that does not lead", async () => {
    await queue("a");
    expect(await (await exporter({ leader: () => false })).flush()).toEqual({ exported: 0, rejected: 0 });
    expect(torchci.received).toEqual([]);
    expect(await store.hudQueueStats(["crcr"])).toMatchObject({ pending: 1 });
  });

  it("stops in the middle of a request: the row stays queued for the next start", async () => {
    await queue("a", "b");
    let answered: (() => void) | undefined;
    torchci.answer = (_body, res) => (answered = () => res.writeHead(200).end());
    const export_ = await exporter();
    const running = export_.flush();
    await expect.poll(() => torchci.received.length).toBe(1);
    await export_.stop();
    expect(await running).toEqual({ exported: 0, rejected: 0 });
    answered?.();
    expect(await store.hudQueueStats(["crcr"])).toMatchObject({ pending: 2, rejected: 0 });
    expect(await export_.flush()).toEqual({ exported: 0, rejected: 0 }); // stopped for good
  });
});
