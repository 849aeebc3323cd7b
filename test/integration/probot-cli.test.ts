// The fixed process contracts: `probot run ./lib/index.js` (local experiments) and
// `probot receive -e <event> -p <fixture> ./lib/index.js`, as child processes against the built lib/.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import nock from "nock";
import { pino } from "pino";
import { Probot } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyTicket } from "../../src/dispatch/ticket.js";
import { createApp } from "../../src/index.js";
import { DATABASE_FILE } from "../../src/store/sqlite-store.js";
import { runNode, type Exit } from "../helpers/child.js";
import { intercept, type Interceptor, type SeenRequest } from "../helpers/nock-interceptors.mjs";
import { webhookExample, webhookExamples, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn } from "../helpers/github-stand-in.js";
import { TestOctokit, testPrivateKey } from "../helpers/probot.js";
import { deliver, freePort, startRelayAgainst, TICKET_SECRET } from "../helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PROBOT = path.join(ROOT, "node_modules/probot/bin/probot.js");
const PRELOAD = path.join(ROOT, "test/helpers/nock-preload.mjs");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The environment a child gets: none of the developer's GitHub App settings leak in. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_FORMAT: "json",
    DATA_DIR: path.join(dir, `data-${randomUUID()}`),
    ...extra,
  };
}



function run(args: string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return runNode(args, { cwd: ROOT, env });
}

describe("probot run ./lib/index.js", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill();
    child = undefined;
  });

  async function serve(env: NodeJS.ProcessEnv): Promise<string> {
    const port = await freePort();
    child = spawn(process.execPath, [PROBOT, "run", "./lib/index.js"], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), HOST: "127.0.0.1" },
      stdio: "ignore",
    });
    const url = `http://127.0.0.1:${port}`;
    await expect
      .poll(async () => (await fetch(`${url}/`).catch(() => undefined))?.status, { timeout: 15_000, interval: 100 })
      .toBeDefined();
    return url;
  }

  it("shows Probot's setup page driven by app.yml when no App is configured", async () => {
    const url = await serve(childEnv({ NODE_ENV: "development" }));
    const response = await fetch(`${url}/`, { redirect: "manual" });
    const page = response.status === 302 ? await (await fetch(`${url}${response.headers.get("location")}`)).text() : await response.text();
    expect(page).toContain("Register GitHub App");
    expect(page).toContain("Cross-Repo CI Relay");
  });

  it("serves the health routes and accepts signed webhooks when configured", async () => {
    const keyPath = path.join(dir, "app.pem");
    const allowlistPath = path.join(dir, "allowlist.yml");
    await writeFile(keyPath, testPrivateKey());
    await writeFile(allowlistPath, "L2:\n  - acme/npu-backend\n");
    const url = await serve(
      childEnv({ APP_ID: "1", PRIVATE_KEY_PATH: keyPath, WEBHOOK_SECRET: "s3cret", ALLOWLIST_FILE: allowlistPath }),
    );

    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { allowlist: "ready" } });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect(await metrics.text()).toContain('relay_allowlist_reloads_total{source="file",outcome="loaded"} 1');
    const wrongMethod = await fetch(`${url}/healthz`, { method: "POST" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
    const unsigned = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "1" },
      body: "{}",
    });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
  });

  it("refuses to start in production without WEBHOOK_SECRET and RELAY_TICKET_SECRET", async () => {
    const keyPath = path.join(dir, "prod.pem");
    await writeFile(keyPath, testPrivateKey());
    const result = await run([PROBOT, "run", "./lib/index.js"], childEnv({ NODE_ENV: "production", APP_ID: "1", PRIVATE_KEY_PATH: keyPath, PORT: String(await freePort()) }));
    expect(result.code).not.toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain("WEBHOOK_SECRET");
    expect(output).toContain("RELAY_TICKET_SECRET");
  });
});

describe("npm start (lib/server/main.js) with a bad configuration", () => {
  it("prints each problem once with its fix and exits 1, without a stack trace", async () => {
    const env = { PATH: process.env.PATH, APP_ID: "1", NODE_ENV: "test" };
    const badKey = await run([path.join(ROOT, "lib/server/main.js")], { ...env, PRIVATE_KEY: "not a key" });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr.trim()).toBe(
      'Invalid relay configuration:\n  - PRIVATE_KEY / PRIVATE_KEY_PATH: The contents of "env.PRIVATE_KEY" could not be validated. Please check to ensure you have copied the contents of the .pem file correctly.',
    );
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    const badPort = await run([path.join(ROOT, "lib/server/main.js")], { ...env, PRIVATE_KEY: privateKey, PORT: "abc" });
    expect(badPort.code).toBe(1);
    expect(badPort.stderr.trim()).toBe('Invalid relay configuration:\n  - PORT: "abc" is not a port number; set it to an integer between 1 and 65535 (default 3000)');
    expect(badPort.stdout).toBe("");
  });
});

/**
 * What `probot receive` does with one event, in this process: the app loaded in receive mode (handlers
 * only), GitHub played by `interceptors` through nock, JSON logs captured. The error is the handler's.
 */
async function receiveInProcess(event: string, payload: unknown, interceptors: Interceptor[], env: Record<string, string>) {
  nock.disableNetConnect();
  intercept("https://api.github.com", interceptors);
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  const probot = new Probot({ appId: 1, privateKey: testPrivateKey(), log, Octokit: TestOctokit });
  try {
    await probot.load(createApp({ mode: "receive", env: { ...env, DATA_DIR: path.join(dir, `data-${randomUUID()}`) } }));
    await probot.receive({ id: randomUUID(), name: event, payload } as never);
    return { error: undefined, output: lines.join("") };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), output: lines.join("") };
  } finally {
    nock.cleanAll();
    nock.enableNetConnect();
  }
}

describe("probot receive ./lib/index.js", () => {
  async function receive(event: string, payload: unknown, interceptors: Interceptor[], extra: Record<string, string> = {}) {
    const id = randomUUID();
    const payloadPath = path.join(dir, `${event}-${id}.json`);
    const nockPath = path.join(dir, `nock-${id}.json`);
    const logPath = path.join(dir, `nock-log-${id}.json`);
    await writeFile(payloadPath, JSON.stringify(payload));
    await writeFile(nockPath, JSON.stringify(interceptors));
    const result = await run(
      [PROBOT, "receive", "-e", event, "-p", payloadPath, "./lib/index.js"],
      childEnv({ NODE_OPTIONS: `--import ${PRELOAD}`, RELAY_TEST_NOCK: nockPath, RELAY_TEST_NOCK_LOG: logPath, ...extra }),
    );
    const log = JSON.parse(await readFile(logPath, "utf8")) as { seen: SeenRequest[]; pending: string[] };
    return { ...result, log };
  }

  // Every example payload goes through the app in receive mode in this process (a child process each
  // would cost ~60 Probot start-ups); one example per event also goes through the real `probot receive`.
  /** GitHub as the App sees it: the config repo holds a valid allowlist; any installation can get a token. */
  const CONFIG_REPO_GITHUB: Interceptor[] = [
    { method: "POST", pathPattern: /^\/app\/installations\/\d+\/access_tokens$/.source, status: 201, body: { token: "t" }, persist: true },
    { method: "GET", path: "/repos/Codertocat/Hello-World/installation", status: 200, body: { id: 1 }, persist: true },
    { method: "GET", pathPattern: /\/contents\/allowlist\.yml/.source, status: 200, body: "L2:\n  - acme/npu-backend\n", persist: true },
    { method: "GET", path: "/repos/Codertocat/Hello-World/pulls/2/files?per_page=100", status: 200, body: [], persist: true },
    { method: "POST", path: "/repos/Codertocat/Hello-World/check-runs", status: 201, body: { id: 1 }, persist: true },
  ];
  const RECEIVED_EVENTS = ["push", "pull_request", "check_run", "check_suite", "installation", "installation_repositories"];

  async function configRepoEnv(): Promise<Record<string, string>> {
    const keyPath = path.join(dir, "receive.pem");
    await writeFile(keyPath, testPrivateKey());
    return { APP_ID: "1", PRIVATE_KEY_PATH: keyPath, ALLOWLIST_REPO: "Codertocat/Hello-World" };
  }

  it("handles every example payload of the events the relay receives, in receive mode, without an error", async () => {
    const env = await configRepoEnv();
    const failures: string[] = [];
    let handled = 0;
    for (const event of RECEIVED_EVENTS) {
      for (const [index, payload] of webhookExamples(event).entries()) {
        const { error } = await receiveInProcess(event, payload, CONFIG_REPO_GITHUB, env);
        handled += 1;
        if (error) failures.push(`${event}[${index}] ${String(payload.action ?? "")}: ${error}`);
      }
    }
    expect(handled).toBeGreaterThan(50);
    expect(failures).toEqual([]);
  });

  it("`probot receive` handles a push and a check_run example, offline, and exits 0", async () => {
    // Pull requests go through `probot receive` in the tests below; the other events' handlers ran above.
    const env = await configRepoEnv();
    const results = await Promise.all(["push", "check_run"].map(async (event) => {
      const result = await receive(event, webhookExamples(event)[0], CONFIG_REPO_GITHUB, env);
      return { event, code: result.code, stderr: result.stderr };
    }));
    expect(results.filter((result) => result.code !== 0)).toEqual([]);
  }, 60_000);

  const UPSTREAM = "Codertocat/Hello-World";
  // Two backends: one only dispatched (L2), one also shown on the PR as a queued aggregate check run (L4).
  const TWO_BACKENDS = `L2:\n  - acme/npu-backend\nL4:\n  - beta/tpu-backend: "@tpu-oncall"\n`;

  /** The relay's settings of an upstream replay: App credentials and the allowlist file. */
  async function upstreamEnv(): Promise<Record<string, string>> {
    const keyPath = path.join(dir, "upstream.pem");
    const allowlistPath = path.join(dir, "two-backends.yml");
    await writeFile(keyPath, testPrivateKey());
    await writeFile(allowlistPath, TWO_BACKENDS);
    return { APP_ID: "1", PRIVATE_KEY_PATH: keyPath, UPSTREAM_REPO: UPSTREAM, ALLOWLIST_FILE: allowlistPath };
  }

  /** The summary line the app logs in receive mode (JSON logs, one object a line). */
  function summaryOf(output: string): string | undefined {
    const lines = output.split("\n").filter((line) => line.startsWith("{"));
    return lines.map((line) => (JSON.parse(line) as { msg: string }).msg).find((msg) => msg.startsWith("stored "));
  }

  const OPENED_SUMMARY = /^stored 2 dispatch tasks for acme\/npu-backend, beta\/tpu-backend and 1 check-run write in .+; nothing is sent under probot receive/;
  const CLOSED_SUMMARY = "stored nothing (pull_request.closed of a head no backend received)";

  it("replays every upstream pull_request and push example in receive mode and says what it stored", async () => {
    const env = await upstreamEnv();
    const results: Array<{ name: string; error?: string; summary?: string }> = [];
    for (const event of ["pull_request", "push"]) {
      for (const [index, payload] of webhookExamples(event).entries()) {
        // No interceptors: the handlers only store work; a GitHub call they waited for would fail the run.
        const { error, output } = await receiveInProcess(event, payload, [], env);
        results.push({ name: `${event}[${index}] ${String(payload.action ?? "")}`, ...(error && { error }), summary: summaryOf(output) });
      }
    }
    expect(results.length).toBeGreaterThan(30);
    expect(results.filter((result) => result.error !== undefined || result.summary === undefined)).toEqual([]);
    expect(results.find((result) => result.name === "pull_request[0] opened")?.summary).toMatch(OPENED_SUMMARY);
    expect(results.find((result) => result.name === "pull_request[3] closed")?.summary).toBe(CLOSED_SUMMARY);
  });

  it("`probot receive` of an upstream pull_request exits 0 and says what it stored", async () => {
    const env = await upstreamEnv();
    const [opened, closed] = await Promise.all(
      [0, 3].map((index) => receive("pull_request", webhookExamples("pull_request")[index], [], env)),
    );
    expect([opened!.code, closed!.code]).toEqual([0, 0]);
    expect(summaryOf(opened!.stdout)).toMatch(OPENED_SUMMARY);
    expect(summaryOf(closed!.stdout)).toBe(CLOSED_SUMMARY);
  }, 60_000);

  it("stores the dispatches of an opened pull_request: the rows the relay's server stores for the same delivery", async () => {
    const pr = webhookExample("pull_request", (payload) => payload.action === "opened" && payload.installation !== undefined);
    const github = await startGitHubStandIn();
    try {
      github.install(1, [UPSTREAM]);
      github.install(11, ["acme/npu-backend"]);
      github.install(12, ["beta/tpu-backend"]);
      // The same GitHub host and ticket secret, so links and tickets are the server's.
      const sameRelay = { UPSTREAM_REPO: UPSTREAM, RELAY_TICKET_SECRET: TICKET_SECRET };
      const receiveData = path.join(dir, `receive-${randomUUID()}`);
      const received = await receive("pull_request", pr, [], {
        ...(await upstreamEnv()),
        ...sameRelay,
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        DATA_DIR: receiveData,
      });
      expect(received.code).toBe(0);
      const serverData = path.join(dir, `server-${randomUUID()}`);
      const relay = await startRelayAgainst(github, TWO_BACKENDS, { ...sameRelay, DATA_DIR: serverData });
      try {
        expect((await deliver(relay, "pull_request", pr, "server-delivery")).status).toBe(200);
      } finally {
        await relay.stop();
      }

      const fromReceive = await storedWork(receiveData);
      expect(fromReceive.outbox.map((task) => [task.key, task.status])).toEqual([
        [`check:codertocat/hello-world:tpu-backend:${pr.pull_request.head.sha}`, "pending"],
        ["dispatch:<delivery>:acme/npu-backend", "pending"],
        ["dispatch:<delivery>:beta/tpu-backend", "pending"],
      ]);
      expect(fromReceive.dispatchLog.map((row) => [row.downstream_repo, row.backend_name, row.level, row.outcome])).toEqual([
        ["acme/npu-backend", "npu-backend", "L2", "pending"],
        ["beta/tpu-backend", "tpu-backend", "L4", "pending"],
      ]);
      // The server's worker may have sent some already: the stored work is compared, not its progress.
      const fromServer = await storedWork(serverData);
      expect(withoutProgress(fromReceive)).toEqual(withoutProgress(fromServer));
    } finally {
      await github.close();
    }
  }, 60_000);

  it("with ALLOWLIST_REPO, reads the allowlist from the config repo with the App's installation token before the event", async () => {
    const pr = webhookExample("pull_request", (payload) => payload.action === "opened");
    const { ALLOWLIST_FILE: _file, ...env } = await upstreamEnv();
    const config = "/repos/acme/relay-config";
    const result = await receive(
      "pull_request",
      pr,
      [
        { method: "GET", path: `${config}/installation`, status: 200, body: { id: 7 } },
        { method: "POST", path: "/app/installations/7/access_tokens", status: 201, body: { token: "config-token" } },
        { method: "GET", path: `${config}/contents/allowlist.yml`, status: 200, body: TWO_BACKENDS },
      ],
      { ...env, ALLOWLIST_REPO: "acme/relay-config" },
    );
    expect(result.code).toBe(0);
    expect(result.log.pending).toEqual([]);
    expect(result.log.seen.map((request) => `${request.method} ${request.uri}`)).toEqual([
      `GET ${config}/installation`,
      "POST /app/installations/7/access_tokens",
      `GET ${config}/contents/allowlist.yml`,
    ]);
    expect(result.log.seen[2]?.headers.authorization).toBe("token config-token");
    expect(summaryOf(result.stdout)).toMatch(/^stored 2 dispatch tasks for acme\/npu-backend, beta\/tpu-backend/);
  });

  it("validates a config-repo PR with GITHUB_TOKEN (as a workflow step) and fails the step when invalid", async () => {
    const pr = webhookExample("pull_request", (payload) => payload.action === "opened");
    const repo = "/repos/Codertocat/Hello-World";
    const result = await receive(
      "pull_request",
      pr,
      [
        // The allowlist in force, read with the workflow's token before the event (the App has no installation here).
        { method: "GET", path: `${repo}/contents/allowlist.yml`, status: 200, body: "L2:\n  - acme/npu-backend\n" },
        { method: "GET", path: `${repo}/pulls/2/files?per_page=100`, status: 200, body: [{ filename: "allowlist.yml", status: "modified" }] },
        { method: "GET", path: `${repo}/contents/allowlist.yml?ref=${pr.pull_request.head.sha}`, status: 200, body: "L7: []\n" },
        { method: "POST", path: `${repo}/check-runs`, status: 201, body: { id: 5 } },
      ],
      { GITHUB_TOKEN: "workflow-token", ALLOWLIST_REPO: "Codertocat/Hello-World" },
    );
    expect(result.code).toBe(1);
    expect(result.log.pending).toEqual([]);
    expect(result.log.seen.map((request) => request.headers.authorization)).toEqual(Array(4).fill("token workflow-token"));
    const checkRun = result.log.seen.find((request) => request.method === "POST");
    expect(checkRun?.headers.authorization).toBe("token workflow-token");
    expect(checkRun?.body).toMatchObject({ name: "allowlist / validate", conclusion: "failure" });
  });
});

interface StoredTask {
  key: string;
  kind: string;
  repo: string;
  dispatch_repo: string | null;
  status: string;
  request: unknown;
}

interface DispatchLogRow {
  downstream_repo: string;
  backend_name: string;
  level: string;
  outcome: string;
  [column: string]: unknown;
}

/**
 * The work in a DATA_DIR's SQLite store (opened read-only) for its one delivery, with the delivery id as
 * `<delivery>` and each dispatch ticket replaced by its verified claims (signing times differ).
 */
async function storedWork(dataDir: string): Promise<{ outbox: StoredTask[]; dispatchLog: DispatchLogRow[] }> {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    const deliveries = db.prepare("SELECT id FROM deliveries").pluck().all() as string[];
    expect(deliveries).toHaveLength(1);
    const normalize = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll(deliveries[0]!, "<delivery>")) as unknown;
    const tasks = db.prepare("SELECT key, kind, repo, dispatch_repo, status, request_json FROM outbox ORDER BY key").all() as Array<
      Omit<StoredTask, "request"> & { request_json: string }
    >;
    const outbox = await Promise.all(
      tasks.map(async ({ request_json, ...task }) => {
        const request = JSON.parse(request_json) as { params: { client_payload?: Payload } };
        const payload = request.params.client_payload;
        if (payload) payload.ticket = await verifyTicket(String(payload.ticket), { current: TICKET_SECRET });
        return normalize({ ...task, request }) as StoredTask;
      }),
    );
    const dispatchLog = db
      .prepare(
        `SELECT downstream_repo, upstream_repo, event, action, pr_number, head_sha, backend_name, level, outcome, reason, title, author
         FROM dispatch_log ORDER BY downstream_repo`,
      )
      .all() as DispatchLogRow[];
    return { outbox, dispatchLog };
  } finally {
    db.close();
  }
}

/** Stored work without how far sending it got. */
function withoutProgress(work: Awaited<ReturnType<typeof storedWork>>) {
  return {
    outbox: work.outbox.map(({ status: _status, ...task }) => task),
    dispatchLog: work.dispatchLog.map(({ outcome: _outcome, ...row }) => row),
  };
}
