// HUD benchmark: builds a realistic 30-day history in a temp DATA_DIR through the real store calls,
// drains it into embedded ClickHouse (chDB) with the real writer, then times every HUD view (query and
// HTML render separately). It measures and prints; it asserts nothing. See bench/README.md.
//
//   node scripts/run-ts.mjs bench/hud.ts [--backends 12] [--prs 2000] [--jobs 3]
//
// Phases, in order:
//   1. enqueue  the history into a SQLite store (acceptDelivery, markSent, markFailed, markUnreported,
//               and putJob through test/helpers/hud-seed.ts's seedJob, which builds the row with resultRow)
//   2. drain    everything with HudWriter.flush() at the default batch size (1000 rows)
//   3. views    each HUD view: one cold call, then RUNS timed calls, query and render apart
//   4. drain    the same history again, replayed into a second store, at 100 rows per batch (the HUD
//               tables are emptied first; chDB allows one data directory per process, so it is reused)
// Memory is sampled all along; disk sizes are read after phase 1 (SQLite) and phase 2 (both).
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, type Dirent } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { parseAllowlist } from "../src/allowlist/parse.js";
import { LEVELS, type Allowlist, type Level } from "../src/allowlist/types.js";
import { HudConnection, type HudDatabase } from "../src/hud/clickhouse.js";
import { DISPATCHES_TABLE, RESULTS_TABLE } from "../src/hud/migrations.js";
import type { PageContext } from "../src/hud/pages/context.js";
import { renderBackendPage } from "../src/hud/pages/backend-page.js";
import { renderPrPage } from "../src/hud/pages/pr-page.js";
import { renderSummaryPage } from "../src/hud/pages/summary-page.js";
import { renderTrunkPage } from "../src/hud/pages/trunk-page.js";
import { select } from "../src/hud/queries/sql.js";
import { DEFAULT_DAYS } from "../src/hud/routes.js";
import { HudService } from "../src/hud/service.js";
import { HudWriter } from "../src/hud/writer.js";
import { createMetrics } from "../src/metrics.js";
import { DATABASE_FILE, openSqliteStore } from "../src/store/sqlite-store.js";
import type { OutboxTaskInput, Store } from "../src/store/store.js";
import type { DispatchLogEntry } from "../src/domain/dispatches.js";
import { seedJob, UPSTREAM } from "../test/helpers/hud-seed.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const HISTORY_DAYS = 30;
/** Production defaults: RELAY_HUD_BATCH_ROWS, RELAY_HUD_RETENTION_DAYS, RELAY_START_TIMEOUT_MINUTES, CLICKHOUSE_DATABASE. */
const DEFAULT_BATCH_ROWS = 1000;
const SMALL_BATCH_ROWS = 100;
const RETENTION_DAYS = 365;
const START_TIMEOUT_MS = 120 * MINUTE;
const DATABASE = "default";
/** Timed calls per view (after one untimed cold call). */
const RUNS = 15;
const SEED = 20_260_101;
const WEB_BASE_URL = "https://github.com";

// ---------------------------------------------------------------------------------------------------
// Parameters

const USAGE = "usage: node scripts/run-ts.mjs bench/hud.ts [--backends N] [--prs N] [--jobs N]";

function parameters(): { backends: number; prs: number; jobs: number } {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      options: { backends: { type: "string", default: "12" }, prs: { type: "string", default: "2000" }, jobs: { type: "string", default: "3" } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const count = (name: string): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) {
      process.stderr.write(`--${name} must be a positive whole number\n${USAGE}\n`);
      process.exit(2);
    }
    return value;
  };
  return { backends: count("backends"), prs: count("prs"), jobs: count("jobs") };
}

// ---------------------------------------------------------------------------------------------------
// Deterministic randomness: the same seed gives the same history, so phase 4 replays phase 1 exactly.

class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  between(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  int(low: number, high: number): number {
    return Math.floor(this.between(low, high + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Log-normal around `median`: durations have a long right tail. */
  logNormal(median: number, sigma: number): number {
    const normal = Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
    return Math.round(median * Math.exp(sigma * normal));
  }

  hex(length: number): string {
    let text = "";
    while (text.length < length) text += Math.floor(this.next() * 0x1_0000_0000).toString(16).padStart(8, "0");
    return text.slice(0, length);
  }
}

// ---------------------------------------------------------------------------------------------------
// The backends and their allowlist

interface Backend {
  repo: string;
  name: string;
  level: Level;
  /** Median wait from dispatch to a runner picking a job up. */
  queueMedianMs: number;
  /** Median run time of a test shard (builds take about half). */
  execMedianMs: number;
  /** Share of jobs failing on infrastructure (runner lost, device error). */
  infraRate: number;
  /** Share of dispatches never answered (L1 backends only receive webhooks: all of theirs). */
  silentRate: number;
  /**
   * Sends an in_progress report when a job starts, then the result (two results rows per attempt, and a
   * queue time); otherwise only the result. L4/L3 do (their check runs show the job running), L2 not.
   */
  reportsStart: boolean;
}

/** Levels round-robin from L4 down, so 12 backends are 3 per level. */
function makeBackends(count: number, rng: Random): Backend[] {
  return Array.from({ length: count }, (_, index) => {
    const level = LEVELS[LEVELS.length - 1 - (index % LEVELS.length)]!;
    const id = String(index).padStart(2, "0");
    return {
      repo: `oot-org-${id}/backend-${id}`,
      name: `backend-${id}`,
      level,
      queueMedianMs: Math.min(45 * MINUTE, Math.max(10_000, rng.logNormal(3 * MINUTE, 1))),
      execMedianMs: Math.round(rng.between(20, 90)) * MINUTE,
      infraRate: rng.between(0.005, 0.06),
      silentRate: level === "L1" ? 1 : rng.between(0.01, 0.04),
      reportsStart: level === "L4" || level === "L3",
    };
  });
}

/** The backends under their levels, with the repo allowlist.yml's requirements (so verdicts vary). */
function makeAllowlist(backends: readonly Backend[]): Allowlist {
  const levels = LEVELS.map((level) => {
    const entries = backends.filter((backend) => backend.level === level).map((backend) => `  - ${backend.repo}: "@${backend.name}-oncall"`);
    return entries.length === 0 ? "" : `${level}:\n${entries.join("\n")}\n`;
  });
  const yaml = `version: 1
${levels.join("")}requirements:
  L2:
    min_infra_availability: 90%
  L3:
    min_infra_availability: 95%
    min_test_pass_rate: 90%
    max_queue_time_p90: 2h
    max_run_time_p90: 4h
  L4:
    min_infra_availability: 99%
    min_test_pass_rate: 0.98
    min_success_rate: 95%
    max_timeout_rate: 1%
    max_queue_time_p50: 30m
    max_queue_time_p90: 1h
    max_run_time_p50: 1.5h
    max_run_time_p90: 3h
`;
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(`bench allowlist is invalid: ${JSON.stringify(parsed.issues)}`);
  return parsed.allowlist;
}

// ---------------------------------------------------------------------------------------------------
// The history: PR heads, trunk pushes and nightly self-reports over HISTORY_DAYS, in time order

/** One upstream commit put in front of every backend by one webhook delivery. */
interface Head {
  kind: "head";
  at: number;
  delivery: string;
  /** null for a push to trunk. */
  pr: number | null;
  action?: "opened" | "synchronize";
  sha: string;
  title: string;
  author: string;
  /** An untrusted author's PR without the trust label: every backend is logged as skipped. */
  skipped: boolean;
  /** The change really breaks tests: most backends' test shards fail on it. */
  breaksTests: boolean;
}

/** The nightly run every HUD backend reports on its own (no dispatch, no PR). */
interface Nightly {
  kind: "nightly";
  at: number;
  sha: string;
  run: number;
}

interface History {
  events: Array<Head | Nightly>;
  /** The newest PR with more than one head (the PR view shows its newest head and lists the others). */
  showcasePr: { number: number; heads: number };
  prHeads: number;
  pushes: number;
}

const OPS = ["add", "matmul", "conv2d", "layer_norm", "softmax", "index_put", "scatter_add", "cumsum", "topk", "embedding_bag"];
const DTYPES = ["float32", "bfloat16", "float16", "int64", "complex64"];
const MODULES = ["ops", "nn", "torch", "autograd", "linalg", "reductions", "binary_ufuncs", "indexing"];
const AREAS = ["inductor", "dynamo", "aten", "autograd", "distributed", "export", "quantization", "sparse"];
const VERBS = ["Fix", "Add", "Support", "Refactor", "Speed up", "Remove", "Port", "Handle"];

function planHistory(prs: number, now: number, rng: Random): History {
  const start = now - HISTORY_DAYS * DAY;
  const span = HISTORY_DAYS * DAY;
  const authors = Array.from({ length: 250 }, (_, index) => `dev-${index}`);
  const title = () => `[${rng.pick(AREAS)}] ${rng.pick(VERBS)} ${rng.pick(OPS)} for ${rng.pick(DTYPES)}${rng.chance(0.3) ? " when the input is non-contiguous and the output aliases it" : ""}`;
  const events: Array<Head | Nightly> = [];
  let showcasePr = { number: 0, heads: 0 };
  let prHeads = 0;
  for (let index = 0; index < prs; index += 1) {
    // PR numbers grow with time; about one in six PRs gets a second head, a few a third.
    const number = 150_000 + index;
    const opened = Math.round(start + ((index + rng.next()) * span) / prs);
    const heads = 1 + (rng.chance(0.15) ? 1 + (rng.chance(0.25) ? 1 : 0) : 0);
    const prTitle = title();
    const author = rng.pick(authors);
    const untrusted = rng.chance(0.04);
    let at = opened;
    let planted = 0;
    for (let head = 0; head < heads && at < now; head += 1) {
      events.push({
        kind: "head",
        at,
        delivery: `pr-${number}-${head}`,
        pr: number,
        action: head === 0 ? "opened" : "synchronize",
        sha: rng.hex(40),
        title: prTitle,
        author,
        skipped: untrusted && head === 0,
        breaksTests: rng.chance(0.06),
      });
      planted += 1;
      at += rng.logNormal(6 * HOUR, 0.8);
    }
    prHeads += planted;
    if (planted > 1) showcasePr = { number, heads: planted };
  }
  // Trunk: one merge push per ten PRs, spread over the window.
  const pushes = Math.max(1, Math.round(prs / 10));
  for (let index = 0; index < pushes; index += 1) {
    events.push({
      kind: "head",
      at: Math.round(start + rng.next() * span),
      delivery: `push-${index}`,
      pr: null,
      sha: rng.hex(40),
      title: `${title()} (#${150_000 + rng.int(0, prs - 1)})`,
      author: "pytorchmergebot",
      skipped: false,
      breaksTests: rng.chance(0.02),
    });
  }
  for (let day = 0; day < HISTORY_DAYS; day += 1) {
    const at = start + day * DAY + 2 * HOUR + rng.int(0, 30 * MINUTE);
    if (at < now) events.push({ kind: "nightly", at, sha: rng.hex(40), run: 9_000_000 + day });
  }
  events.sort((a, b) => a.at - b.at);
  return { events, showcasePr, prHeads, pushes };
}

// ---------------------------------------------------------------------------------------------------
// Enqueueing: the history through the store, every call timed

type StoreCall = "acceptDelivery" | "markSent" | "markFailed" | "markUnreported" | "putJob";

interface CallTally {
  calls: number;
  rows: number;
  ms: number;
}

interface EnqueueResult {
  calls: Record<StoreCall, CallTally>;
  resultRows: number;
  dispatchRows: number;
  /** Job attempts with at least one report, on PR heads (for attempts per backend per PR). */
  prAttempts: number;
  wallMs: number;
}

type JobSpec = Parameters<typeof seedJob>[1];

interface Outcome {
  conclusion: string;
  failureKind?: "infra" | "test";
  summary?: string;
  failedTests?: string[];
  executionMs: number;
}

/**
 * Replays the history into `store`. Only the HUD side of the relay's transactions is modelled: dispatch
 * tasks and their dispatch-log rows, and job states with their results row; no check-run tasks.
 */
async function enqueueHistory(store: Store, history: History, backends: readonly Backend[], jobs: number, now: number, memory: MemorySampler): Promise<EnqueueResult> {
  const rng = new Random(SEED + 1);
  const calls = Object.fromEntries(
    (["acceptDelivery", "markSent", "markFailed", "markUnreported", "putJob"] as const).map((call) => [call, { calls: 0, rows: 0, ms: 0 }]),
  ) as Record<StoreCall, CallTally>;
  const timed = async (call: StoreCall, rows: number, work: () => Promise<unknown>): Promise<void> => {
    const started = performance.now();
    await work();
    const tally = calls[call];
    tally.ms += performance.now() - started;
    tally.calls += 1;
    tally.rows += rows;
  };
  const jobNames = jobs === 1 ? ["test"] : ["build", ...Array.from({ length: jobs - 1 }, (_, index) => `test (${index + 1}/${jobs - 1})`)];
  let prAttempts = 0;

  const outcome = (backend: Backend, head: { breaksTests: boolean }, shard: boolean): Outcome => {
    const normal = shard ? rng.logNormal(backend.execMedianMs, 0.35) : rng.logNormal(backend.execMedianMs / 2, 0.3);
    if (rng.chance(backend.infraRate)) {
      return { conclusion: "failure", failureKind: "infra", summary: `Runner ${backend.name}-runner-${rng.int(1, 64)} lost its device mid-job (error 0x${rng.hex(4)}); this is not a test result.`, executionMs: rng.int(1, 20) * MINUTE };
    }
    if (rng.chance(0.004)) return { conclusion: "timed_out", failureKind: "infra", summary: "The job exceeded its 4 h limit.", executionMs: 4 * HOUR };
    if (rng.chance(0.01)) return { conclusion: "cancelled", executionMs: rng.int(1, 10) * MINUTE };
    if ((head.breaksTests && rng.chance(shard ? 0.7 : 0.15)) || rng.chance(shard ? 0.03 : 0.005)) {
      const failedTests = shard
        ? Array.from({ length: rng.int(1, 6) }, () => `test/test_${rng.pick(MODULES)}.py::Test${rng.pick(["Common", "NN", "Ops", "Linalg"])}${backend.name.replace(/\W/g, "")}::test_${rng.pick(OPS)}_${rng.pick(DTYPES)}`)
        : [];
      const summary = shard ? `${failedTests.length} tests failed; first: ${failedTests[0]!}` : "Compilation failed: no matching kernel for the new signature.";
      return { conclusion: "failure", failureKind: "test", summary, failedTests, executionMs: normal };
    }
    return { conclusion: "success", executionMs: normal };
  };

  /** One job's attempts: re-runs follow infra failures (60%) and other failures (10%). */
  const runJob = async (head: Head, backend: Backend, jobName: string, sentAt: number): Promise<void> => {
    const shard = jobName.startsWith("test");
    const base = {
      delivery: head.delivery,
      repo: backend.repo,
      name: backend.name,
      level: backend.level,
      pr: head.pr,
      sha: head.sha,
      job: jobName,
      environment: { runner: `${backend.name}-runner`, device_count: "8", driver: `24.${rng.int(0, 9)}.${rng.int(0, 99)}` },
    } satisfies Partial<JobSpec>;
    let start = sentAt + rng.logNormal(backend.queueMedianMs, 0.6);
    for (let attempt = 1; start <= now; attempt += 1) {
      const result = outcome(backend, head, shard);
      const end = start + result.executionMs;
      const tests = shard && result.conclusion !== "cancelled" && result.failureKind !== "infra" ? testCounts(rng, result.failedTests?.length ?? 0) : undefined;
      // Without a start report the relay knows no execution time either.
      const { executionMs, ...reported } = result;
      const details = { ...reported, ...(tests && { tests }), ...(shard && { artifactUrl: `https://artifacts.example.com/${backend.name}/${head.sha}/${jobName.replace(/\W+/g, "-")}` }) };
      // The relay measures the queue time only on the first attempt's start report.
      const queue = backend.reportsStart && attempt === 1 ? { queueMs: start - sentAt } : {};
      if (backend.reportsStart) {
        await timed("putJob", 1, () => seedJob(store, { ...base, attempt, at: start, status: "in_progress", ...queue }));
        if (head.pr !== null) prAttempts += 1;
        if (end > now) return;
        await timed("putJob", 1, () => seedJob(store, { ...base, ...details, attempt, at: start, executionMs, ...queue }));
      } else {
        if (end > now) return;
        await timed("putJob", 1, () => seedJob(store, { ...base, ...details, attempt, at: end, noStart: true }));
        if (head.pr !== null) prAttempts += 1;
      }
      const rerun = result.failureKind === "infra" ? 0.6 : result.conclusion === "failure" ? 0.1 : 0;
      if (!rng.chance(rerun)) return;
      start = end + rng.int(2, 30) * MINUTE;
    }
  };

  const dispatchHead = async (head: Head): Promise<void> => {
    const event = head.pr === null ? "push" : "pull_request";
    const log: DispatchLogEntry[] = backends.map((backend) => ({
      deliveryId: head.delivery,
      downstreamRepo: backend.repo,
      upstreamRepo: UPSTREAM,
      event,
      ...(head.pr !== null && { action: head.action, prNumber: head.pr }),
      headSha: head.sha,
      backendName: backend.name,
      level: backend.level,
      outcome: head.skipped ? "skipped" : "pending",
      ...(head.skipped && { reason: "untrusted_author" }),
      attempts: 0,
      createdAt: head.at,
      title: head.title,
      author: head.author,
    }));
    const tasks: OutboxTaskInput[] = head.skipped ? [] : backends.map((backend) => dispatchTask(head, backend));
    await timed("acceptDelivery", log.length, () => store.acceptDelivery({ id: head.delivery, event, payloadHash: `sha256:${head.delivery}` }, { tasks, log }, head.at));
    for (const task of tasks) {
      const backend = backends.find((candidate) => candidate.repo === task.repo)!;
      // The outbox worker has the task in hand; the bench looks it up (untimed).
      const id = (await store.taskByKey(task.key))!.id;
      const sentAt = head.at + rng.int(300, 3000);
      if (rng.chance(0.005)) {
        await timed("markFailed", 1, () => store.markFailed(id, { at: sentAt, reason: "http_404", outcome: "failed" }));
        continue;
      }
      await timed("markSent", 1, () => store.markSent(id, { at: sentAt }));
      if (rng.chance(backend.silentRate)) {
        // The sweeper marks it once the start timeout has passed (until then it is just waiting): an L1
        // backend is not expected to report, any other one never reported (an infrastructure failure).
        const sweptAt = sentAt + START_TIMEOUT_MS + rng.int(0, MINUTE);
        const reason = backend.level === "L1" ? "reports_not_expected" : "never_reported";
        if (sweptAt <= now) await timed("markUnreported", 1, () => store.markUnreported(head.delivery, backend.repo, reason, sweptAt));
        continue;
      }
      for (const jobName of jobNames) await runJob(head, backend, jobName, sentAt);
    }
  };

  const nightly = async (run: Nightly): Promise<void> => {
    for (const backend of backends.filter((candidate) => candidate.level !== "L1")) {
      const { executionMs, ...result } = outcome(backend, { breaksTests: false }, true);
      const spec: JobSpec = {
        delivery: `self:nightly:${run.run}`,
        repo: backend.repo,
        name: backend.name,
        level: backend.level,
        pr: null,
        sha: run.sha,
        workflow: "nightly",
        job: "test",
        at: run.at + executionMs,
        noStart: true,
        eventType: "nightly",
        ...result,
        ...(result.failureKind !== "infra" && { tests: testCounts(rng, result.failedTests?.length ?? 0) }),
      };
      if (spec.at <= now) await timed("putJob", 1, () => seedJob(store, spec));
    }
  };

  const started = performance.now();
  for (const event of history.events) {
    if (event.kind === "head") await dispatchHead(event);
    else await nightly(event);
    // Store calls settle as microtasks: the loop seldom yields to the event loop, so the memory sampler's timer rarely fires: sample here.
    memory.sample();
  }
  const dispatchRows = calls.acceptDelivery.rows + calls.markSent.rows + calls.markFailed.rows + calls.markUnreported.rows;
  return { calls, resultRows: calls.putJob.rows, dispatchRows, prAttempts, wallMs: performance.now() - started };
}

/** A repository_dispatch task roughly the size of the relay's (its client_payload carries a signed ticket). */
function dispatchTask(head: Head, backend: Backend): OutboxTaskInput {
  const [owner, repo] = backend.repo.split("/");
  return {
    key: `dispatch:${head.delivery}:${backend.repo}`,
    kind: "dispatch",
    repo: backend.repo,
    request: {
      route: "POST /repos/{owner}/{repo}/dispatches",
      params: {
        owner,
        repo,
        event_type: head.pr === null ? "pytorch-push" : "pytorch-pr",
        client_payload: {
          schema_version: 1,
          event: head.pr === null ? "push" : "pull_request",
          upstream: { repo: UPSTREAM, ref: head.pr === null ? "main" : `gh/${head.author}/${head.pr}/head`, head_sha: head.sha, url: `${WEB_BASE_URL}/${UPSTREAM}/pull/${head.pr}`, title: head.title, author: head.author },
          backend: { name: backend.name, level: backend.level },
          pr_number: head.pr,
          callback_url: "https://relay.example.com/callback",
          ticket: "t".repeat(700),
        },
      },
    },
    dispatch: { deliveryId: head.delivery, downstreamRepo: backend.repo },
  };
}

function testCounts(rng: Random, failed: number): { total: number; passed: number; failed: number; skipped: number } {
  const total = rng.int(2000, 9000);
  const skipped = Math.round(total * rng.between(0.01, 0.05));
  return { total, passed: total - skipped - failed, failed, skipped };
}

// ---------------------------------------------------------------------------------------------------
// Draining: HudWriter.flush() over the whole queue, with its store reads/deletes and inserts timed

interface DrainResult {
  batchRows: number;
  written: number;
  ms: number;
  inserts: number;
  /** store.pendingHudRows: SELECT + JSON.parse. */
  readMs: number;
  /** client.insert into chDB. */
  insertMs: number;
  /** store.removeHudRows. */
  removeMs: number;
}

async function drain(store: Store, connection: HudConnection, batchRows: number, memory: MemorySampler): Promise<DrainResult> {
  const result: DrainResult = { batchRows, written: 0, ms: 0, inserts: 0, readMs: 0, insertMs: 0, removeMs: 0 };
  // Wrap the writer's three outside calls (instance properties shadow the methods; the writer is untouched).
  const read = store.pendingHudRows.bind(store);
  const remove = store.removeHudRows.bind(store);
  store.pendingHudRows = (limit, targets) => clock(() => read(limit, targets), (ms) => (result.readMs += ms));
  store.removeHudRows = (ids) => clock(() => remove(ids), (ms) => (result.removeMs += ms));
  const { client } = await connection.get();
  const insert = client.insert.bind(client);
  client.insert = async (params: Parameters<typeof insert>[0]) => {
    const started = performance.now();
    try {
      return await insert(params);
    } finally {
      result.insertMs += performance.now() - started;
      result.inserts += 1;
    }
  };

  const writer = new HudWriter({ store, connection, metrics: createMetrics({ defaultMetrics: false }), batchRows, flushMs: 60_000, log: pino({ level: "warn" }, pino.destination(2)) });
  memory.sample();
  const started = performance.now();
  const flushed = await writer.flush();
  result.ms = performance.now() - started;
  client.insert = insert;
  if (flushed.error !== undefined || flushed.rejected > 0) throw new Error(`the writer failed: ${flushed.error ?? `${flushed.rejected} rows rejected`}`);
  result.written = flushed.written;
  return result;
}

async function clock<T>(work: () => Promise<T>, add: (ms: number) => void): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    add(performance.now() - started);
  }
}

// ---------------------------------------------------------------------------------------------------
// Views: each service call (query) and its page render (HTML), timed apart

interface ViewBench {
  name: string;
  /** Runs the service call; returns the render of its view. */
  load(): Promise<() => string>;
}

interface ViewTiming {
  name: string;
  coldMs: number;
  queryMs: number[];
  renderMs: number[];
  htmlBytes: number;
}

function viewBenches(service: HudService, backend: Backend, pr: number, now: number): ViewBench[] {
  const context = (days?: number): PageContext => ({
    upstreamRepo: UPSTREAM,
    webBaseUrl: WEB_BASE_URL,
    generatedAt: new Date(now).toISOString(),
    ...(days !== undefined && { days }),
  });
  const page = <V>(name: string, query: () => Promise<V>, render: (view: V, ctx: PageContext) => string, days?: number): ViewBench => ({
    name,
    async load() {
      const view = await query();
      return () => render(view, context(days));
    },
  });
  const backendView = async (days: number) => {
    const view = await service.backend(backend.repo, days);
    if (!view) throw new Error(`no backend view for ${backend.repo}`);
    return view;
  };
  return [
    page("summary 7d", () => service.summary(7), renderSummaryPage, 7),
    page("summary 30d", () => service.summary(30), renderSummaryPage, 30),
    page(`backend 7d (${backend.level})`, () => backendView(7), renderBackendPage, 7),
    page(`backend 30d (${backend.level})`, () => backendView(30), renderBackendPage, 30),
    page(`PR #${pr}`, () => service.pr(pr), renderPrPage),
    page(`trunk ${DEFAULT_DAYS}d`, () => service.trunk(DEFAULT_DAYS), renderTrunkPage, DEFAULT_DAYS),
    page(`L4 trunk ${DEFAULT_DAYS}d`, () => service.trunk(DEFAULT_DAYS, "L4"), renderTrunkPage, DEFAULT_DAYS),
  ];
}

async function timeView(bench: ViewBench, memory: MemorySampler): Promise<ViewTiming> {
  const coldStart = performance.now();
  (await bench.load())();
  const timing: ViewTiming = { name: bench.name, coldMs: performance.now() - coldStart, queryMs: [], renderMs: [], htmlBytes: 0 };
  for (let run = 0; run < RUNS; run += 1) {
    const started = performance.now();
    const render = await bench.load();
    const queried = performance.now();
    const page = render();
    timing.renderMs.push(performance.now() - queried);
    timing.queryMs.push(queried - started);
    timing.htmlBytes = Buffer.byteLength(page);
    memory.sample();
  }
  return timing;
}

// ---------------------------------------------------------------------------------------------------
// Memory and disk

interface MemoryPeak {
  phase: string;
  rss: number;
  heapUsed: number;
}

/** Peak RSS and V8 heap used per phase, from a 20 ms timer plus explicit samples inside synchronous loops. */
class MemorySampler {
  readonly peaks: MemoryPeak[] = [];
  #timer = setInterval(() => this.sample(), 20);

  phase(name: string): void {
    this.peaks.push({ phase: name, rss: 0, heapUsed: 0 });
    this.sample();
  }

  sample(): void {
    const current = this.peaks.at(-1);
    if (!current) return;
    const { rss, heapUsed } = process.memoryUsage();
    current.rss = Math.max(current.rss, rss);
    current.heapUsed = Math.max(current.heapUsed, heapUsed);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Bytes of the files under `dir` (apparent sizes). ClickHouse merges in the background, so entries may vanish mid-walk. */
function directoryBytes(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  let total = 0;
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(full) : (lstatSync(full, { throwIfNoEntry: false })?.size ?? 0);
  }
  return total;
}

/** The store's database file and its WAL (which SQLite reuses rather than shrinks). */
function sqliteBytes(dir: string): { db: number; wal: number } {
  const size = (file: string) => statSync(path.join(dir, file), { throwIfNoEntry: false })?.size ?? 0;
  return { db: size(DATABASE_FILE), wal: size(`${DATABASE_FILE}-wal`) };
}

interface PartsRow {
  table: string;
  parts: number | string;
  rows: number | string;
  bytes: number | string;
  raw: number | string;
}

/** Active parts of the two HUD tables: versions not yet merged away count as rows here. */
async function tableParts(db: HudDatabase): Promise<PartsRow[]> {
  return select<PartsRow>(
    db,
    `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, sum(data_uncompressed_bytes) AS raw
      FROM system.parts WHERE database = {db:String} AND active AND table IN ({tables:Array(String)})
      GROUP BY table ORDER BY table`,
    { db: db.database, tables: [RESULTS_TABLE, DISPATCHES_TABLE] },
  );
}

// ---------------------------------------------------------------------------------------------------
// Output

const print = (line = "") => process.stdout.write(`${line}\n`);
const integer = (value: number) => Math.round(value).toLocaleString("en-US");
const rate = (rows: number, ms: number) => `${integer(rows / (ms / 1000))}/s`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const millis = (ms: number) => ms.toFixed(1);
const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

/** Nearest rank: the value at ⌈q·n⌉ of the sorted samples. */
function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ");
  print(line(headers));
  print(widths.map((width) => "-".repeat(width)).join("  "));
  for (const row of rows) print(line(row));
}

function heading(title: string): void {
  print();
  print(`== ${title}`);
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { backends: backendCount, prs, jobs } = parameters();
  const begun = performance.now();
  const now = Date.now();
  const memory = new MemorySampler();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "relay-bench-"));
  const rng = new Random(SEED);
  const backends = makeBackends(backendCount, rng);
  const allowlist = makeAllowlist(backends);
  const history = planHistory(prs, now, rng);
  const connection = new HudConnection({ kind: "embedded", path: path.join(dataDir, "clickhouse"), database: DATABASE }, RETENTION_DAYS);
  const store = openSqliteStore(dataDir);
  const replay = openSqliteStore(path.join(dataDir, "replay"));
  try {
    const cpus = os.cpus();
    print("HUD benchmark");
    print(`node ${process.version} on ${os.platform()} ${os.release()} ${os.arch()}; ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}; ${megabytes(os.totalmem())} RAM`);
    print(`DATA_DIR ${dataDir}`);
    const levelCounts = LEVELS.map((level) => `${backends.filter((backend) => backend.level === level).length} ${level}`).join(", ");
    print(
      `history: ${backendCount} backends (${levelCounts}), ${integer(prs)} PRs with ${integer(history.prHeads)} heads, ` +
        `${integer(history.pushes)} trunk pushes, ${HISTORY_DAYS} nightlies, over ${HISTORY_DAYS} days; ${jobs} jobs per backend per head`,
    );

    memory.phase("open chDB + migrate");
    const opening = performance.now();
    const db = await connection.get();
    const openMs = performance.now() - opening;
    const [version] = await select<{ version: string }>(db, "SELECT version() AS version", {});
    print(`chDB (ClickHouse ${version?.version ?? "?"}): opened and migrated in ${millis(openMs)} ms`);

    // 1. Enqueue
    memory.phase("1. enqueue");
    const enqueued = await enqueueHistory(store, history, backends, jobs, now, memory);
    const queued = (await store.hudQueueStats()).pending;
    const counted = enqueued.resultRows + enqueued.dispatchRows;
    const reporting = backends.filter((backend) => backend.level !== "L1").length;
    heading("1. Enqueue into the SQLite queue (real store calls, synchronous = FULL)");
    const storeMs = Object.values(enqueued.calls).reduce((sum, tally) => sum + tally.ms, 0);
    table(
      ["store call", "calls", "rows queued", "time", "µs/call", "rows/s"],
      [
        ...Object.entries(enqueued.calls).map(([call, tally]) => [
          call === "putJob" ? "recordJob (seedJob: resultRow + store)" : call,
          integer(tally.calls),
          integer(tally.rows),
          seconds(tally.ms),
          integer((tally.ms * 1000) / Math.max(1, tally.calls)),
          tally.calls === 0 ? "-" : rate(tally.rows, tally.ms),
        ]),
        ["total", integer(Object.values(enqueued.calls).reduce((sum, tally) => sum + tally.calls, 0)), integer(counted), seconds(storeMs), "", rate(counted, storeMs)],
      ],
    );
    print(`results rows ${integer(enqueued.resultRows)}, dispatch-log rows ${integer(enqueued.dispatchRows)}; the store's queue holds ${integer(queued)}`);
    print(`job attempts per reporting backend per PR: ${(enqueued.prAttempts / (reporting * prs)).toFixed(2)}`);
    print(`wall time of the phase (history generation and memory sampling included): ${seconds(enqueued.wallMs)}`);
    if (queued !== counted) process.stderr.write(`warning: counted ${counted} queued rows but the store holds ${queued}\n`);
    const fullQueue = sqliteBytes(dataDir);
    print(`SQLite with the full queue: ${DATABASE_FILE} ${megabytes(fullQueue.db)}, WAL ${megabytes(fullQueue.wal)}`);

    // 2. Drain at the default batch size
    memory.phase(`2. drain (batch ${DEFAULT_BATCH_ROWS})`);
    const drains = [await drain(store, connection, DEFAULT_BATCH_ROWS, memory)];
    const drained = sqliteBytes(dataDir);
    const partsAfterWrite = await tableParts(db);
    const chdbBytes = directoryBytes(path.join(dataDir, "clickhouse"));

    // 3. Views
    memory.phase("3. views");
    const service = new HudService({ connection, allowlist: () => allowlist, upstreamRepo: UPSTREAM, now: () => now });
    const l4 = backends.find((backend) => backend.level === "L4") ?? backends[0]!;
    const timings: ViewTiming[] = [];
    for (const bench of viewBenches(service, l4, history.showcasePr.number, now)) timings.push(await timeView(bench, memory));
    const partsAfterViews = await tableParts(db);

    // 4. The same history at a small batch size, into emptied tables
    memory.phase(`4. drain (batch ${SMALL_BATCH_ROWS})`);
    for (const name of [RESULTS_TABLE, DISPATCHES_TABLE]) await db.client.command({ query: `TRUNCATE TABLE ${db.database}.${name}` });
    await enqueueHistory(replay, history, backends, jobs, now, memory);
    drains.push(await drain(replay, connection, SMALL_BATCH_ROWS, memory));
    memory.stop();

    heading("2. Writer drain: SQLite queue → chDB (HudWriter.flush over the whole backlog)");
    table(
      ["batch rows", "rows", "inserts", "total", "rows/s", "queue read", "chDB insert", "queue delete", "rest (zod, grouping)"],
      drains.map((result) => [
        String(result.batchRows),
        integer(result.written),
        integer(result.inserts),
        seconds(result.ms),
        rate(result.written, result.ms),
        seconds(result.readMs),
        seconds(result.insertMs),
        seconds(result.removeMs),
        seconds(result.ms - result.readMs - result.insertMs - result.removeMs),
      ]),
    );
    print("(a batch is split per table, so a batch holding both kinds of rows makes two inserts)");

    heading(`3. Views: ${RUNS} timed runs each after one cold run (ms); query = HudService call, render = page HTML`);
    const partsText = (rows: PartsRow[]) => rows.map((row) => `${row.table} ${row.parts}`).join(", ");
    print(`active parts when the views ran: ${partsText(partsAfterWrite)}; after: ${partsText(partsAfterViews)}`);
    table(
      ["view", "cold", "query min", "median", "p90", "render min", "median", "p90", "HTML"],
      timings.map((timing) => [
        timing.name,
        millis(timing.coldMs),
        millis(Math.min(...timing.queryMs)),
        millis(quantile(timing.queryMs, 0.5)),
        millis(quantile(timing.queryMs, 0.9)),
        millis(Math.min(...timing.renderMs)),
        millis(quantile(timing.renderMs, 0.5)),
        millis(quantile(timing.renderMs, 0.9)),
        `${(timing.htmlBytes / 1024).toFixed(0)} KB`,
      ]),
    );
    print(`(PR #${history.showcasePr.number} is the newest PR with ${history.showcasePr.heads} heads; the backend pages show ${l4.repo})`);

    heading("4. Memory (process.memoryUsage, peaks per phase) and disk");
    table(
      ["phase", "peak RSS", "peak heap used"],
      memory.peaks.map((peak) => [peak.phase, megabytes(peak.rss), megabytes(peak.heapUsed)]),
    );
    print(`overall peak: RSS ${megabytes(Math.max(...memory.peaks.map((peak) => peak.rss)))}, heap used ${megabytes(Math.max(...memory.peaks.map((peak) => peak.heapUsed)))}`);
    print(`SQLite after the default drain: ${DATABASE_FILE} ${megabytes(drained.db)}, WAL ${megabytes(drained.wal)} (deleted queue rows leave free pages; no VACUUM)`);
    print(`chDB directory after the default drain: ${megabytes(chdbBytes)}`);
    table(
      ["chDB table", "active parts", "rows (unmerged versions included)", "on disk", "uncompressed"],
      partsAfterWrite.map((row) => [row.table, String(row.parts), integer(Number(row.rows)), megabytes(Number(row.bytes)), megabytes(Number(row.raw))]),
    );
    print();
    print(`total run time ${seconds(performance.now() - begun)}`);
  } finally {
    memory.stop();
    await connection.close();
    await store.close();
    await replay.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
