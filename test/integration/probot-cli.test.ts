// The fixed process contracts: `probot run ./lib/index.js` (what `npm start` runs) and
// `probot receive -e <event> -p <fixture> ./lib/index.js`, as child processes against the built lib/.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { webhookExample, webhookExamples } from "../helpers/fixtures.js";
import { testPrivateKey } from "../helpers/probot.js";
import { freePort } from "../helpers/server.js";

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


interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
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

describe("probot receive ./lib/index.js", () => {
  async function receive(event: string, payload: unknown, interceptors: unknown[], extra: Record<string, string> = {}) {
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
    const log = JSON.parse(await readFile(logPath, "utf8")) as { seen: Array<{ method: string; uri: string; body: unknown; headers: Record<string, string> }>; pending: string[] };
    return { ...result, log };
  }

  it("handles every example payload of the events the relay receives, offline, and exits 0", async () => {
    const keyPath = path.join(dir, "receive.pem");
    await writeFile(keyPath, testPrivateKey());
    const repo = "/repos/Codertocat/Hello-World";
    // GitHub as the App sees it: the config repo holds a valid allowlist; any installation can get a token.
    const github = [
      { method: "POST", pathPattern: /^\/app\/installations\/\d+\/access_tokens$/.source, status: 201, body: { token: "t" }, persist: true },
      { method: "GET", path: "/repos/Codertocat/Hello-World/installation", status: 200, body: { id: 1 }, persist: true },
      { method: "GET", pathPattern: /\/contents\/allowlist\.yml/.source, status: 200, body: "L2:\n  - acme/npu-backend\n", persist: true },
      { method: "GET", path: `${repo}/pulls/2/files?per_page=100`, status: 200, body: [], persist: true },
      { method: "POST", path: `${repo}/check-runs`, status: 201, body: { id: 1 }, persist: true },
    ];
    const events = ["push", "pull_request", "check_run", "check_suite", "installation", "installation_repositories"];
    const cases = events.flatMap((event) =>
      webhookExamples(event).map((payload, index) => ({ event, index, payload })),
    );
    const results = [];
    // A few child processes at a time: each one is a whole `probot receive` run.
    for (let i = 0; i < cases.length; i += 6) {
      results.push(
        ...(await Promise.all(
          cases.slice(i, i + 6).map(async ({ event, index, payload }) => {
            const result = await receive(event, payload, github, {
              APP_ID: "1",
              PRIVATE_KEY_PATH: keyPath,
              ALLOWLIST_REPO: "Codertocat/Hello-World",
            });
            return { name: `${event}[${index}] ${String(payload.action ?? "")}`, code: result.code, stderr: result.stderr };
          }),
        )),
      );
    }
    expect(results.length).toBeGreaterThan(50);
    expect(results.filter((result) => result.code !== 0)).toEqual([]);
  }, 120_000);

  it("validates a config-repo PR with GITHUB_TOKEN (as a workflow step) and fails the step when invalid", async () => {
    const pr = webhookExample("pull_request", (payload) => payload.action === "opened");
    const repo = "/repos/Codertocat/Hello-World";
    const result = await receive(
      "pull_request",
      pr,
      [
        { method: "GET", path: `${repo}/pulls/2/files?per_page=100`, status: 200, body: [{ filename: "allowlist.yml", status: "modified" }] },
        { method: "GET", path: `${repo}/contents/allowlist.yml?ref=${pr.pull_request.head.sha}`, status: 200, body: "L7: []\n" },
        { method: "POST", path: `${repo}/check-runs`, status: 201, body: { id: 5 } },
      ],
      { GITHUB_TOKEN: "workflow-token", ALLOWLIST_REPO: "Codertocat/Hello-World" },
    );
    expect(result.code).toBe(1);
    expect(result.log.pending).toEqual([]);
    const checkRun = result.log.seen.find((request) => request.method === "POST");
    expect(checkRun?.headers.authorization).toBe("token workflow-token");
    expect(checkRun?.body).toMatchObject({ name: "allowlist / validate", conclusion: "failure" });
  });
});
