// Relay load benchmark: the real server in a child process of its own (bench/relay-process.ts, built by
// `npm run build`), as in production, against the GitHub stand-in and OIDC issuer in this process, under
// callback and webhook load from clients on a worker thread (bench/load/remote.ts). The relay's CPU time and
// RSS are its own process's. Prints a markdown table per scenario and writes bench/results/relay-load.json;
// asserts nothing. Linux only (/proc).
//
//   npm run bench                                           # builds lib/, then the full run (~5 minutes)
//   node scripts/run-ts.mjs bench/relay-load.ts --quick     # reduced sizes, a smoke run
//
// 1. callback throughput: C clients in a closed loop of valid callbacks (each job in_progress, then completed)
// 2. webhook answers while the outbox fans out PRs to D backends, GitHub answering after 100 ms
// 3. webhook and callback latency with ~1k and ~1M rows of history in the store (bench/seed-history.ts)
// 4. one backend reporting 1,000 jobs on one head: the first 100 reports against the last 100
// 5. a busy downstream repo's unrelated workflow_run / workflow_job deliveries: what each costs the relay
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { LoopResult } from "./load/drivers.js";
import { runLoad, type LoadJob, type RemoteResult } from "./load/remote.js";
import { errorList, note, table, writeJson } from "./load/report.js";
import { backendRepo, callbackToken, dispatchTickets, prTemplate, startLoadRig, WEBHOOK_SECRET, type LoadRig, type RigSetup } from "./load/rig.js";
import { UNRELATED_RUN_KINDS } from "./load/requests.js";
import { webhookExample } from "../test/helpers/fixtures.js";
import { summarize } from "./load/stats.js";
import { seedHistory } from "./seed-history.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } }, strict: true });
const quick = values.quick;
const SIZES = quick
  ? { clients: [16, 64], callbackSeconds: 2, downstreams: [30, 200], webhookSeconds: 4, historyRows: [1_000, 20_000], jobs: 200 }
  : { clients: [16, 32, 64], callbackSeconds: 10, downstreams: [30, 200], webhookSeconds: 20, historyRows: [1_000, 1_000_000], jobs: 1_000 };
const WEBHOOKS_PER_SECOND = 5;
const GITHUB_DELAY_MS = 100;
/** Scenario 3's small loads. */
const HISTORY_LOAD = { downstreams: 30, webhookSeconds: quick ? 3 : 10, clients: 16, callbackSeconds: quick ? 2 : 5 };
const WATCHDOG_MS = (quick ? 4 : 12) * 60_000;
const CLOSE_TIMEOUT_MS = 30_000;
const ROOT = process.cwd();
if (!existsSync(path.join(ROOT, "lib/server/main.js"))) {
  process.stderr.write("lib/server/main.js not found: run `npm run build` first, from the repository root (npm run bench does both)\n");
  process.exit(1);
}
const RESULTS = path.resolve("bench/results/relay-load.json");

// The stand-in's delayed answers each listen on its close signal: hundreds at once are expected here.
EventEmitter.defaultMaxListeners = 10_000;
// Every temp dir (the helpers' DATA_DIRs and allowlist files included) lands under one root, removed on exit.
const root = mkdtempSync(path.join(tmpdir(), "relay-load-"));
process.env.TMPDIR = root;
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
process.once("SIGINT", () => process.exit(130));
setTimeout(() => {
  process.stderr.write(`relay-load: watchdog: still running after ${WATCHDOG_MS / 60_000} minutes, giving up\n`);
  process.exit(1);
}, WATCHDOG_MS).unref();

const ms = (value: number) => value.toFixed(1);
const loopFigures = (result: LoopResult) => ({ ...result.recorder.summary(), perSecond: Math.round(result.perSecond) });
const perRequest = (totalMs: number | null, result: LoopResult) => (totalMs === null ? null : Number((totalMs / Math.max(1, result.recorder.latencies.length)).toFixed(3)));
/** What the relay's process spent per request of `result`, its share of one core, and how busy the harness was. */
const relayFigures = (result: RemoteResult) => ({
  relayCpuMsPer: perRequest(result.cost.relayCpuMs, result),
  relayCores: Number((result.cost.relayCpuMs / Math.max(1, result.elapsedMs)).toFixed(2)),
  harnessUtilization: Number(result.cost.harnessUtilization.toFixed(2)),
  workerBusyMsPer: perRequest(result.cost.workerActiveMs, result),
});
const ms3 = (value: number | null) => (value === null ? "n/a" : value.toFixed(2));

/** Runs `work` on a fresh rig, closing it (bounded) whatever happens; also returns the relay process's peak RSS. */
async function withRig<T>(setup: Omit<RigSetup, "root">, work: (rig: LoadRig) => Promise<T>): Promise<T & { rssMiB: number }> {
  const rig = await startLoadRig({ ...setup, root: ROOT });
  const started = performance.now();
  try {
    const result = await work(rig);
    return { ...result, rssMiB: Math.round(Math.max(rig.relay.rss.peakSince(started), rig.relay.rss.current()) / 1024 / 1024) };
  } finally {
    await Promise.race([rig.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
  }
}

/** A closed loop of callback clients for backend 0, each on its own freshly dispatched PR (opened from `firstPr` on). */
async function callbackClients(rig: LoadRig, clients: number, firstPr: number, seconds: number): Promise<LoadJob> {
  const tickets = await dispatchTickets(rig, backendRepo(0), clients, firstPr);
  const token = await callbackToken(rig, backendRepo(0));
  return { kind: "callbacks", relayUrl: rig.relay.url, token, tickets, durationMs: seconds * 1000 };
}

/** PR webhooks at a steady rate: opened, then a synchronize of the same PR, each with a new head. */
function webhookLoad(rig: LoadRig, seconds: number, firstPr: number): Promise<RemoteResult> {
  const count = WEBHOOKS_PER_SECOND * seconds;
  return runLoad({ kind: "webhooks", relayUrl: rig.relay.url, secret: WEBHOOK_SECRET, template: prTemplate(), perSecond: WEBHOOKS_PER_SECOND, count, firstPr }, rig.relay);
}

async function callbackThroughput() {
  const runs = await withRig({ downstreams: 1 }, async (rig) => {
    const results = [];
    for (const [i, clients] of SIZES.clients.entries()) {
      const job = await callbackClients(rig, clients, 1 + i * 100, SIZES.callbackSeconds);
      const githubBefore = rig.github.requests.length;
      const result = await runLoad(job, rig.relay);
      const githubPer = (rig.github.requests.length - githubBefore) / Math.max(1, result.recorder.latencies.length);
      results.push({
        clients,
        ...loopFigures(result),
        ...relayFigures(result),
        githubRequestsPer: Number(githubPer.toFixed(2)),
        jobsPerHead: Math.ceil(result.recorder.latencies.length / clients / 2),
      });
    }
    return { results };
  });
  table(
    `1. Callback throughput (closed loop, ${SIZES.callbackSeconds} s per row, one L4 backend, one PR per client)`,
    ["clients", "callbacks/s", "p50 ms", "p99 ms", "max ms", "callbacks", "jobs per head", "relay CPU ms/cb", "relay cores busy", "harness thread busy %", "client thread busy ms/cb", "GitHub requests/cb", "errors"],
    runs.results.map((r) => [
      r.clients, r.perSecond, ms(r.p50), ms(r.p99), ms(r.max), r.count, `~${r.jobsPerHead}`,
      ms3(r.relayCpuMsPer), r.relayCores, Math.round(r.harnessUtilization * 100), ms3(r.workerBusyMsPer), r.githubRequestsPer, errorList(r.errors),
    ]),
  );
  note(
    `relay peak RSS ${runs.rssMiB} MiB. The relay runs alone in its process; its CPU is that process's (every thread; /proc, 10 ms ticks), "cores busy" ` +
      `its CPU time over the wall time. The harness thread (GitHub stand-in, OIDC issuer) and the client thread share the machine's other core.`,
  );
  return runs;
}

async function webhookFanOut() {
  const runs = [];
  for (const downstreams of SIZES.downstreams) {
    runs.push(
      await withRig({ downstreams }, async (rig) => {
        rig.github.setDelay("*", /.*/, GITHUB_DELAY_MS);
        const before = rig.github.requests.length;
        const result = await webhookLoad(rig, SIZES.webhookSeconds, 1);
        const answered = rig.github.requests.slice(before).filter((request) => request.status !== undefined).length;
        return { downstreams, ...loopFigures(result), githubRequests: answered };
      }),
    );
  }
  table(
    `2. Webhook answers while the outbox fans out (${WEBHOOKS_PER_SECOND}/s for ${SIZES.webhookSeconds} s, GitHub answering after ${GITHUB_DELAY_MS} ms)`,
    ["downstreams", "webhooks", "p50 ms", "p99 ms", "max ms", "GitHub requests answered", "relay peak RSS MiB", "errors"],
    runs.map((r) => [r.downstreams, r.count, ms(r.p50), ms(r.p99), ms(r.max), r.githubRequests, r.rssMiB, errorList(r.errors)]),
  );
  return { runs };
}

async function historySize() {
  const runs = [];
  for (const rows of SIZES.historyRows) {
    const dataDir = mkdtempSync(path.join(root, "history-"));
    const seedStart = performance.now();
    await seedHistory(dataDir, rows);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    const fileMiB = Math.round(statSync(path.join(dataDir, "relay.sqlite")).size / 1024 / 1024);
    runs.push(
      await withRig({ downstreams: HISTORY_LOAD.downstreams, dataDir }, async (rig) => {
        // Tickets first, while GitHub still answers at once.
        const job = await callbackClients(rig, HISTORY_LOAD.clients, 1, HISTORY_LOAD.callbackSeconds);
        rig.github.setDelay("*", /.*/, GITHUB_DELAY_MS);
        const webhooks = await webhookLoad(rig, HISTORY_LOAD.webhookSeconds, 1000);
        const callbacks = await runLoad(job, rig.relay);
        return {
          rows,
          seedSeconds: Number(seedSeconds.toFixed(1)),
          fileMiB,
          webhooks: loopFigures(webhooks),
          callbacks: { ...loopFigures(callbacks), ...relayFigures(callbacks) },
        };
      }),
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
  table(
    `3. History size (${HISTORY_LOAD.downstreams} backends; webhooks ${WEBHOOKS_PER_SECOND}/s for ${HISTORY_LOAD.webhookSeconds} s, GitHub after ${GITHUB_DELAY_MS} ms; then ${HISTORY_LOAD.clients} callback clients for ${HISTORY_LOAD.callbackSeconds} s)`,
    ["history rows", "seeding s", "file MiB", "webhook p50 ms", "webhook p99 ms", "callback p50 ms", "callback p99 ms", "callbacks/s", "relay CPU ms/cb", "relay peak RSS MiB", "errors"],
    runs.map((r) => [
      r.rows, r.seedSeconds, r.fileMiB, ms(r.webhooks.p50), ms(r.webhooks.p99), ms(r.callbacks.p50), ms(r.callbacks.p99), r.callbacks.perSecond,
      ms3(r.callbacks.relayCpuMsPer), r.rssMiB, errorList({ ...r.webhooks.errors, ...r.callbacks.errors }),
    ]),
  );
  return { runs };
}

async function jobsOnOneHead() {
  const result = await withRig({ downstreams: 1 }, async (rig) => {
    const [ticket] = await dispatchTickets(rig, backendRepo(0), 1, 1);
    const token = await callbackToken(rig, backendRepo(0));
    const { recorder } = await runLoad({ kind: "reports", relayUrl: rig.relay.url, token, ticket: ticket!, count: 2 * SIZES.jobs }, rig.relay);
    return { first: summarize(recorder.latencies.slice(0, 100)), last: summarize(recorder.latencies.slice(-100)), all: recorder.summary() };
  });
  table(
    `4. ${SIZES.jobs} jobs on one head (one backend, in_progress then completed, one report at a time)`,
    ["reports", "p50 ms", "p99 ms", "max ms"],
    [
      ["first 100", ms(result.first.p50), ms(result.first.p99), ms(result.first.max)],
      ["last 100", ms(result.last.p50), ms(result.last.p99), ms(result.last.max)],
    ],
  );
  note(`errors: ${errorList(result.all.errors)}; relay peak RSS ${result.rssMiB} MiB`);
  return result;
}

async function unrelatedRuns() {
  const clients = 16;
  const result = await withRig({ downstreams: 1 }, async (rig) => {
    const templates = {
      run: webhookExample("workflow_run", (p) => (p.workflow_run as { event?: string }).event === "repository_dispatch" && p.action === "completed"),
      job: webhookExample("workflow_job", (p) => p.action === "completed"),
    };
    const ignoredBefore = await ignoredRunDeliveries(rig);
    const loop = await runLoad({ kind: "unrelatedRuns", relayUrl: rig.relay.url, secret: WEBHOOK_SECRET, templates, repo: backendRepo(0), clients, durationMs: SIZES.callbackSeconds * 1000 }, rig.relay);
    // Every delivery must have been dropped (relay_webhooks_total{outcome="ignored"}), none recorded.
    return { ...loopFigures(loop), ...relayFigures(loop), ignored: (await ignoredRunDeliveries(rig)) - ignoredBefore };
  });
  table(
    `5. A busy downstream repo's unrelated runs (${clients} clients, closed loop, ${SIZES.callbackSeconds} s; kinds in turn: ${UNRELATED_RUN_KINDS.join("; ")})`,
    ["deliveries/s", "p50 ms", "p99 ms", "max ms", "deliveries", "ignored", "relay CPU ms/delivery", "relay cores busy", "relay peak RSS MiB", "errors"],
    [[result.perSecond, ms(result.p50), ms(result.p99), ms(result.max), result.count, result.ignored, ms3(result.relayCpuMsPer), result.relayCores, result.rssMiB, errorList(result.errors)]],
  );
  return result;
}

/** relay_webhooks_total{outcome="ignored"} of workflow_run and workflow_job, from the relay's /metrics. */
async function ignoredRunDeliveries(rig: LoadRig): Promise<number> {
  const text = await (await fetch(`${rig.relay.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => /^relay_webhooks_total\{event="workflow_(run|job)",outcome="ignored"\}/.test(line))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

note(`# Relay load benchmark${quick ? " (--quick)" : ""}\n\nnode ${process.version}, ${new Date().toISOString()}`);
const started = performance.now();
const results = {
  quick,
  node: process.version,
  date: new Date().toISOString(),
  sizes: SIZES,
  callbackThroughput: await callbackThroughput(),
  webhookFanOut: await webhookFanOut(),
  historySize: await historySize(),
  jobsOnOneHead: await jobsOnOneHead(),
  unrelatedRuns: await unrelatedRuns(),
};
writeJson(RESULTS, { ...results, seconds: Math.round((performance.now() - started) / 1000) });
process.exit(0);
