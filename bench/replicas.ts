// Scaled-mode benchmark: 1, 2 and 3 relay processes on one PostgreSQL (DATABASE_URL), each alone in its
// process (bench/relay-process.ts), against the GitHub stand-in answering every request after 100 ms (so
// the figures compare with a design that fans out synchronously inside the webhook), with the load clients
// on a worker thread spreading requests round robin over the replicas (no proxy: its own latency is not
// the relay's). Prints a markdown table and writes bench/results/replicas.json; asserts nothing.
//
//   npm run bench:replicas                                   # builds lib/, then the full run (~3 minutes)
//   node scripts/run-ts.mjs bench/replicas.ts --quick        # a smoke run (after npm run build)
//   npm run bench:replicas -- --github-delay-ms 250          # GitHub answering after 250 ms (default 100)
//
// The server is BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); the benchmark
// creates a throwaway database on it and drops it at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { startGitHubStandIn, type GitHubStandIn } from "../test/helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../test/helpers/oidc-issuer.js";
import { freePort } from "../test/helpers/server.js";
import { waitFor, type LoopResult } from "./load/drivers.js";
import { runLoad } from "./load/remote.js";
import { errorList, note, table, writeJson } from "./load/report.js";
import { deliverWebhook, prVariant } from "./load/requests.js";
import { backendRepo, installBackends, prTemplate, relayEnv, WEBHOOK_SECRET } from "./load/rig.js";
import { startRelayProcess, type RelayProcess } from "./relay-process.js";

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, "github-delay-ms": { type: "string", default: "100" } },
  strict: true,
});
const quick = values.quick;
const SIZES = quick
  ? { replicas: [1, 2], downstreams: 10, webhookSeconds: 4, clients: 16, callbackSeconds: 3 }
  : { replicas: [1, 2, 3], downstreams: 30, webhookSeconds: 20, clients: 32, callbackSeconds: 10 };
const WEBHOOKS_PER_SECOND = 5;
const GITHUB_DELAY_MS = Number(values["github-delay-ms"]);
if (!Number.isInteger(GITHUB_DELAY_MS) || GITHUB_DELAY_MS < 0 || GITHUB_DELAY_MS > 10_000) {
  console.error(`--github-delay-ms must be a whole number of milliseconds from 0 to 10000; got ${values["github-delay-ms"]}`);
  process.exit(2);
}
const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ROOT = process.cwd();
const RESULTS = path.resolve("bench/results/replicas.json");
const root = mkdtempSync(path.join(tmpdir(), "relay-replicas-"));
process.on("exit", () => process.env.BENCH_KEEP ? undefined : rmSync(root, { recursive: true, force: true }));

interface Group {
  github: GitHubStandIn;
  oidc: OidcIssuer;
  relays: RelayProcess[];
  close(): Promise<void>;
}

/** `count` relay processes on one fresh schema of `database`, with `SIZES.downstreams` L4 backends. */
async function startGroup(count: number, database: string): Promise<Group> {
  const github = await startGitHubStandIn();
  const oidc = await startOidcIssuer();
  const dir = mkdtempSync(path.join(root, `group-${count}-`));
  const allowlist = installBackends(github, SIZES.downstreams, dir);
  const schema = `bench_${count}_${randomBytes(3).toString("hex")}`;
  const relays: RelayProcess[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const port = await freePort();
      const relayDir = mkdtempSync(path.join(dir, `relay-${i}-`));
      relays.push(
        await startRelayProcess({
          root: ROOT,
          dir: relayDir,
          port,
          env: { ...relayEnv({ github, oidc }, allowlist, port, path.join(relayDir, "data")), DATABASE_URL: database, DATABASE_SCHEMA: schema },
        }),
      );
    }
  } catch (error) {
    await Promise.all(relays.map((relay) => relay.stop()));
    await github.close();
    await oidc.close();
    throw error;
  }
  return {
    github,
    oidc,
    relays,
    async close() {
      await Promise.all(relays.map((relay) => relay.stop()));
      await github.close();
      await oidc.close();
    },
  };
}

const cpu = (group: Group) => ({ cpuMs: () => group.relays.reduce((sum, relay) => sum + relay.cpuMs(), 0) });
const urls = (group: Group) => group.relays.map((relay) => relay.url);
const ms = (value: number) => value.toFixed(1);
const figures = (result: LoopResult) => ({ ...result.recorder.summary(), perSecond: Math.round(result.perSecond) });
/** Requests the relays made for downstream repos: dispatches, their installations' lookups and tokens. */
function downstreamRequests(github: GitHubStandIn, from: number): { dispatches: number; all: number } {
  const requests = github.requests.slice(from);
  const downstream = (p: string) => /\/repos\/bench-org-\d+\//.test(p) || /\/app\/installations\/1\d\d\/access_tokens$/.test(p);
  return {
    dispatches: requests.filter((request) => request.method === "POST" && request.path.endsWith("/dispatches") && request.status === 204).length,
    all: requests.filter((request) => downstream(request.path)).length,
  };
}

async function measure(count: number, database: string) {
  const group = await startGroup(count, database);
  const started = performance.now();
  try {
    group.github.setDelay("*", /.*/, GITHUB_DELAY_MS);
    const events = WEBHOOKS_PER_SECOND * SIZES.webhookSeconds;
    const before = group.github.requests.length;
    const webhooks = await runLoad(
      { kind: "webhooks", relayUrl: urls(group)[0]!, relayUrls: urls(group), secret: WEBHOOK_SECRET, template: prTemplate(), perSecond: WEBHOOKS_PER_SECOND, count: events, firstPr: 1 },
      cpu(group),
    );
    const expected = events * SIZES.downstreams;
    const loadEnd = performance.now();
    await waitFor(`${expected} dispatches`, () => downstreamRequests(group.github, before).dispatches >= expected, 600_000);
    const drainSeconds = Number(((performance.now() - loadEnd) / 1000).toFixed(1));
    const sent = downstreamRequests(group.github, before);

    // Callbacks: one freshly dispatched PR per client (GitHub answering at once), spread over the replicas.
    group.github.setDelay("*", /.*/, 0);
    const repo = backendRepo(0);
    const tickets = await dispatchTickets(group, repo, SIZES.clients, 10_000);
    const token = await group.oidc.mint({ repository: repo }, { expiresIn: "30m" });
    const callbacks = await runLoad({ kind: "callbacks", relayUrl: urls(group)[0]!, relayUrls: urls(group), token, tickets, durationMs: SIZES.callbackSeconds * 1000 }, cpu(group));
    return {
      replicas: count,
      webhooks: figures(webhooks),
      callbacks: figures(callbacks),
      githubPerDispatch: Number((sent.all / expected).toFixed(3)),
      drainSeconds,
      dispatches: sent.dispatches,
      expected,
      rssMiB: group.relays.map((relay) => Math.round(Math.max(relay.rss.peakSince(started), relay.rss.current()) / 1024 / 1024)),
    };
  } finally {
    await group.close();
  }
}

/** Opens `count` PRs through the replicas in turn and returns the tickets of their dispatches to `repo`. */
async function dispatchTickets(group: Group, repo: string, count: number, firstPr: number): Promise<string[]> {
  const sent = () => group.github.find("POST", `/repos/${repo}/dispatches`).filter((request) => request.status === 204);
  const before = sent().length;
  for (let i = 0; i < count; i += 1) {
    const url = urls(group)[i % group.relays.length]!;
    const status = await deliverWebhook(url, WEBHOOK_SECRET, "pull_request", prVariant(prTemplate(), firstPr + i, "opened"), `bench-replicas-${firstPr + i}`);
    if (status !== 200) throw new Error(`setup webhook answered ${status}`);
  }
  await waitFor(`${count} dispatches to ${repo}`, () => sent().length >= before + count);
  return sent()
    .slice(before)
    .map((request) => (request.body as { client_payload: { ticket: string } }).client_payload.ticket);
}

const admin = new pg.Client({ connectionString: SERVER_URL });
await admin.connect();
const name = `relay_bench_${process.pid}_${randomBytes(3).toString("hex")}`;
await admin.query(`CREATE DATABASE ${name}`);
const database = Object.assign(new URL(SERVER_URL), { pathname: `/${name}` }).toString();
note(`# Replicas benchmark${quick ? " (--quick)" : ""}\n\nnode ${process.version}, ${new Date().toISOString()}, PostgreSQL at ${new URL(SERVER_URL).host}`);
const runs = [];
try {
  for (const count of SIZES.replicas) runs.push(await measure(count, database));
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
table(
  `Replicas on one PostgreSQL (${SIZES.downstreams} L4 backends; webhooks ${WEBHOOKS_PER_SECOND}/s for ${SIZES.webhookSeconds} s with GitHub answering after ${GITHUB_DELAY_MS} ms; then ${SIZES.clients} callback clients for ${SIZES.callbackSeconds} s)`,
  ["replicas", "webhook p50 ms", "webhook p99 ms", "dispatches sent / expected", "s to send them after the load", "GitHub requests per dispatch", "callbacks/s", "callback p50 ms", "callback p99 ms", "peak RSS per replica MiB", "errors"],
  runs.map((r) => [
    r.replicas, ms(r.webhooks.p50), ms(r.webhooks.p99), `${r.dispatches} / ${r.expected}`, r.drainSeconds, r.githubPerDispatch, r.callbacks.perSecond,
    ms(r.callbacks.p50), ms(r.callbacks.p99), r.rssMiB.join(" / "), errorList({ ...r.webhooks.errors, ...r.callbacks.errors }),
  ]),
);
writeJson(RESULTS, { quick, node: process.version, date: new Date().toISOString(), sizes: SIZES, githubDelayMs: GITHUB_DELAY_MS, runs });
process.exit(0);
