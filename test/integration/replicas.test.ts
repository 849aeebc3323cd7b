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
// - when the leader dies, another replica takes the background jobs over within the leader check, runs
//   them (the sweeper, retention) at once, and the HUD queue written after the kill drains through it.
// The issue's size: 100 PRs (60, then 40 with the kill) × 10 backends, 1,000 dispatches and 3,000
// reports. The binding write budget and the claims' 60 s lease set the pace: it runs for about 3
// minutes, so `npm run test:replicas` (.ci/run runs it), outside `npm test`.
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
const FIRST_BURST = 60;
const SECOND_BURST = 40;
/** The relays' default: tasks one replica has on the wire at most, so the most a kill -9 can leave unrecorded. */
const OUTBOX_CONCURRENCY = 16;
/**
 * The per-installation write budget, per minute, for the relays and the stand-in alike. It binds on the
 * upstream installation, which takes every check-run write (aggregate and job check runs of 10
 * backends × 100 heads, about 6,000 writes): the first burst alone needs more than a minute's budget, so
 * writes wait for the window to move. Per-replica budgets would have let the three replicas write up to
 * 3 × 2500 in a minute; the stand-in refuses anything above 2500 in any 60 s (the relays hold each slot
 * 2 s longer, WRITE_SLOT_MARGIN_MS, for requests that arrive a moment after their slot was taken).
 */
const WRITES_PER_MINUTE = 2500;
const MINUTE = 60_000;
/** The outbox claims' lease with the default GitHub timeout: max(60 s, 3 × 10 s). */
const LEASE_MS = 60_000;

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

/** The value of one sample (`name{labels}` as Prometheus prints it) in a /metrics text. */
function metricValue(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
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
  heads.set(number, payload.pull_request.head.sha as string);
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
    6,
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
}, 180_000);

afterAll(async () => {
  await Promise.all(replicas.map(async (replica) => replica.process?.stop()));
  await proxy?.close();
  await github?.close();
  await oidc?.close();
  await pool?.end();
});

/** What a claimed task would send, as the stand-in records it: the key its duplicates are counted by. */
function taskKey(task: { kind: string; request_json: { route: string; params: Record<string, unknown> } }): string {
  const { route, params } = task.request_json;
  const [method = "", template = ""] = route.split(" ");
  const path = template.replace(/\{(\w+)\}/g, (_match, name: string) => String(params[name]));
  if (/\/dispatches$/.test(path)) return `${method} ${path} ${String((params.client_payload as { head_sha?: string } | undefined)?.head_sha)}`;
  if (method === "POST") return `${method} ${path} ${String(params.name)} ${String(params.head_sha)}`;
  return `${method} ${path}`;
}

/** The same key for a request the stand-in received. */
function requestKey(request: RecordedRequest): string {
  if (dispatchPath.test(request.path)) return `POST ${request.path} ${shaOf(request)}`;
  const body = request.body as { name?: string; head_sha?: string };
  if (request.method === "POST") return `POST ${request.path} ${String(body.name)} ${String(body.head_sha)}`;
  return `${request.method} ${request.path}`;
}

/** Check runs whose consecutive PATCHes carried the same body (the same state written twice), by request key. */
function repeatedPatches(): string[] {
  const last = new Map<string, string>();
  const repeated: string[] = [];
  for (const request of github.find("PATCH", /\/check-runs\/\d+$/)) {
    const body = JSON.stringify(request.body);
    if (last.get(request.path) === body) repeated.push(requestKey(request));
    last.set(request.path, body);
  }
  return repeated;
}

/** For a failing run: each repeated check run's requests as the stand-in saw them, and its outbox row. */
async function explainRepeats(keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const requestPath = key.split(" ")[1]!;
    const { rows } = await pool.query(`SELECT key, version, attempts, status, lease_owner FROM "${schema}".outbox WHERE result_id = $1`, [
      Number(requestPath.split("/").at(-1)),
    ]);
    const requests = github.requests
      .filter((request) => request.path === requestPath)
      .map((request) => `${request.method} received ${request.receivedAt} answered ${request.respondedAt} ${request.status} ${JSON.stringify(request.body)}`);
    console.error(`repeated state on ${requestPath}; outbox ${JSON.stringify(rows)}\n  ${requests.join("\n  ")}`);
  }
}

/** Dispatches received per (downstream, head). */
function dispatchCounts(): Map<string, number> {
  const perKey = new Map<string, number>();
  for (const request of dispatches()) perKey.set(requestKey(request), (perKey.get(requestKey(request)) ?? 0) + 1);
  return perKey;
}

const aggregateRuns = () => [...github.checkRuns.values()].filter((run) => /^oot \/ accel-\d+$/.test(String(run.name)));
const alive = () => replicas.filter((replica) => replica.process && replica.process.child.exitCode === null && replica.process.child.signalCode === null);
/** The live replica that said last that it now runs the background jobs. */
const leader = () =>
  alive()
    .filter((replica) => leadingSince(replica) !== undefined)
    .sort((a, b) => leadingSince(b)! - leadingSince(a)!)[0];

async function kill(replica: Replica): Promise<number> {
  const child = replica.process!.child;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  return Date.now();
}

interface ClaimedTask {
  id: string;
  kind: string;
  request_json: { route: string; params: Record<string, unknown> };
}
/** The tasks the killed replicas held claims on when they died (on the wire, or sent and not yet recorded). */
const claimedAtKill: ClaimedTask[] = [];

/** The outbox tasks a dead replica (by pid) still holds a live lease on. */
async function claimsOf(pid: number): Promise<ClaimedTask[]> {
  const { rows } = await pool.query<ClaimedTask>(
    `SELECT id, kind, request_json FROM "${schema}".outbox WHERE status = 'pending' AND lease_owner LIKE $1 AND lease_until > $2`,
    [`%:${pid}:%`, Date.now()],
  );
  return rows;
}
const burstHeads = (from: number, to: number) => new Set(Array.from({ length: to - from + 1 }, (_, i) => heads.get(from + i)));

describe("three replicas on one PostgreSQL behind a round-robin proxy", () => {
  it("sends every dispatch once and writes each check-run state once", async () => {
    await inParallel(
      Array.from({ length: FIRST_BURST }, (_, i) => i + 1),
      6,
      openPr,
    );
    await expect.poll(() => sentDispatches().length, { timeout: 120_000, interval: 200 }).toBe(FIRST_BURST * BACKENDS.length);
    await reportNewRuns();
    await expect.poll(pendingTasks, { timeout: 180_000, interval: 250 }).toBe(0);

    // Every replica took a share of the traffic.
    for (const replica of replicas) expect(proxy.handled.get(replica.port) ?? 0).toBeGreaterThan(FIRST_BURST);

    // Each (head, backend): exactly one dispatch.
    const counts = dispatchCounts();
    expect(counts.size).toBe(FIRST_BURST * BACKENDS.length);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);

    // Each aggregate check run concluded success, once per (head, backend); no state written twice in a row.
    const aggregates = aggregateRuns();
    expect(aggregates).toHaveLength(FIRST_BURST * BACKENDS.length);
    expect(new Set(aggregates.map((run) => `${String(run.name)} ${String(run.head_sha)}`)).size).toBe(aggregates.length);
    expect(aggregates.filter((run) => run.status !== "completed" || run.conclusion !== "success")).toEqual([]);
    // No state written twice in a row: a worker sends the task as it reads it again inside its claim, so a
    // replica that read a task before another sent it (and a newer state replaced it) sends the newer one.
    await explainRepeats(repeatedPatches());
    expect(repeatedPatches()).toEqual([]);
    expect(github.refusals).toEqual([]);
  }, 360_000);

  it("loses nothing when a replica is killed -9 mid-fan-out: the others carry on", async () => {
    const first = FIRST_BURST + 1;
    const last = FIRST_BURST + SECOND_BURST;
    // Requests spend a while on the wire, so the replica dies with some of them there.
    github.setDelay("POST", dispatchPath, 150);
    const delivering = inParallel(
      Array.from({ length: SECOND_BURST }, (_, i) => first + i),
      4,
      openPr,
    );
    const inBurst = () => {
      const burst = burstHeads(first, last);
      return dispatches().filter((request) => burst.has(shaOf(request))).length;
    };
    const total = SECOND_BURST * BACKENDS.length;
    await expect.poll(inBurst, { timeout: 120_000, interval: 20 }).toBeGreaterThanOrEqual(total / 5);
    const victim = alive().find((replica) => replica !== leader())!;
    const pid = victim.process!.pid;
    await kill(victim);
    const sentAtKill = inBurst();
    claimedAtKill.push(...(await claimsOf(pid)));
    github.setDelay("POST", dispatchPath, 0);
    expect(sentAtKill).toBeLessThan(total);
    // At most what one replica has on the wire.
    expect(claimedAtKill.length).toBeLessThanOrEqual(OUTBOX_CONCURRENCY);

    // The rest of the burst goes through the two others (the proxy skips the dead one).
    await delivering;
    const held = new Set(claimedAtKill.filter((task) => task.kind === "dispatch").map(taskKey));
    await expect
      .poll(() => [...dispatchCounts().keys()].filter((key) => !held.has(key)).length, { timeout: 120_000, interval: 200 })
      .toBe((FIRST_BURST + SECOND_BURST) * BACKENDS.length - held.size);
  }, 300_000);

  it("hands the background jobs and the HUD writer over when the leader dies", async () => {
    const old = leader();
    expect(old).toBeDefined();
    const pid = old!.process!.pid;
    const killedAt = await kill(old!);
    // The leader sends outbox work too: the tail of the burst may still be on its wire (or sent and not
    // yet recorded), and goes out again once its lease expires, like the first victim's.
    const leaderClaims = await claimsOf(pid);
    expect(leaderClaims.length).toBeLessThanOrEqual(OUTBOX_CONCURRENCY);
    claimedAtKill.push(...leaderClaims);
    // Another replica takes the advisory lock within a few leader checks (RELAY_LEADER_CHECK_SECONDS=1;
    // 1–2 s on an idle machine): asserted against the issue's bound, the claims' lease, so that a loaded
    // machine does not fail it.
    let successor: Replica | undefined;
    await expect
      .poll(
        () => {
          successor = alive().find((replica) => (leadingSince(replica) ?? 0) > killedAt);
          return successor?.name;
        },
        { timeout: LEASE_MS, interval: 100 },
      )
      .toBeDefined();
    const handover = leadingSince(successor!)! - killedAt;
    expect(handover).toBeLessThan(LEASE_MS);
    // The new leader runs its background jobs at once, not at their next tick (the sweeper's is a minute
    // away): the sweep and the retention pass show in its metrics within the claims' lease.
    await expect
      .poll(async () => {
        const text = await (await fetch(`http://127.0.0.1:${successor!.port}/metrics`)).text();
        return ["sweeper", "retention"].map((job) => metricValue(text, `relay_background_job_runs_total{job="${job}",outcome="done"}`) ?? 0);
      }, { timeout: LEASE_MS, interval: 100 })
      .toEqual([1, 1]);
    for (const replica of alive()) {
      const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
      expect(metricValue(text, "relay_leader"), replica.name).toBe(replica === successor ? 1 : 0);
    }

    // Reports after the kill queue HUD rows; only the new leader drains the queue. (A few runs: the
    // others are reported in the next test.)
    await inParallel(sentDispatches().filter((dispatch) => !reported.has(dispatch)).slice(0, 10), 5, reportRun);
    await expect.poll(pendingHudRows, { timeout: 120_000, interval: 200 }).toBe(0);
  }, 300_000);

  it("sends the dead replica's claimed work once its lease expires; duplicates only for what was on the wire", async () => {
    const expected = (FIRST_BURST + SECOND_BURST) * BACKENDS.length;
    // The lease: max(60 s, 3 × RELAY_GITHUB_TIMEOUT_SECONDS), counted from the claim.
    // Every (head, backend) answered 204 once: a request the dead replica had on the wire may have reached
    // the stand-in without an answer, and only its copy sent after the lease carries a run to report.
    await expect.poll(() => new Set(sentDispatches().map(requestKey)).size, { timeout: 240_000, interval: 500 }).toBe(expected);
    await reportNewRuns();
    // The shared write budget binds on the upstream installation here: the last check-run writes wait for
    // the minute's window to have room again.
    await expect.poll(pendingTasks, { timeout: 240_000, interval: 250 }).toBe(0);

    const onTheWire = new Set(claimedAtKill.map(taskKey));
    const duplicates = [...dispatchCounts()].filter(([, n]) => n > 1).map(([key]) => key);
    const runsPerHead = new Map<string, Array<Record<string, unknown>>>();
    for (const run of aggregateRuns()) {
      const key = `POST /repos/${UPSTREAM}/check-runs ${String(run.name)} ${String(run.head_sha)}`;
      runsPerHead.set(key, [...(runsPerHead.get(key) ?? []), run]);
    }
    const duplicateCreates = [...runsPerHead].filter(([, runs]) => runs.length > 1).map(([key]) => key);
    const repeated = repeatedPatches();
    await explainRepeats(repeated);
    // Only requests of tasks the killed replica had claimed (on the wire) went out twice.
    expect(duplicates.filter((key) => !onTheWire.has(key))).toEqual([]);
    expect(duplicateCreates.filter((key) => !onTheWire.has(key))).toEqual([]);
    expect(repeated.filter((key) => !onTheWire.has(key))).toEqual([]);
    expect(duplicates.length + duplicateCreates.length).toBeLessThanOrEqual(claimedAtKill.length);

    // Every (head, backend) has its aggregate concluded success.
    expect(runsPerHead.size).toBe(expected);
    expect([...runsPerHead].filter(([, runs]) => !runs.some((run) => run.status === "completed" && run.conclusion === "success"))).toEqual([]);

    // The shared budget: the stand-in refused nothing, and no installation wrote above it in any minute.
    expect(github.refusals).toEqual([]);
    const writes = github.requests.filter(isWrite);
    const byInstallation = new Map<number, number[]>();
    for (const request of writes) byInstallation.set(request.installationId!, [...(byInstallation.get(request.installationId!) ?? []), request.receivedAt]);
    const peaks = new Map([...byInstallation].map(([id, times]) => [id, peakInWindow(times, MINUTE)]));
    for (const [, peak] of peaks) expect(peak).toBeLessThanOrEqual(WRITES_PER_MINUTE);
    // On an idle 2-core machine the upstream installation reaches the budget exactly (it binds); a loaded
    // machine may send slower than the budget allows, so that is reported, not asserted.
    console.log(`upstream installation: at most ${peaks.get(UPSTREAM_INSTALLATION)} writes in any minute (budget ${WRITES_PER_MINUTE})`);
  }, 540_000);
});
