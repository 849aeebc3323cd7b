// Durability across a crash: the relay runs as a real `probot run` child process against the GitHub
// stand-in, is killed with SIGKILL while dispatches are stored but not yet accepted by GitHub, and is
// restarted on the same DATA_DIR. Every dispatch must then arrive exactly once. No fixed sleeps: each
// step waits for what it needs to see (requests at the stand-in, the restarted relay's outbox emptied).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { testPrivateKey } from "../helpers/probot.js";
import { deliver, freePort, tempDir, TICKET_SECRET, WEBHOOK_SECRET } from "../helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const REPOS = ["acme/one", "acme/two", "acme/three", "acme/four", "acme/five"];

let github: GitHubStandIn;
let children: ChildProcess[] = [];
let dataDir: string;
let env: NodeJS.ProcessEnv;


async function startChild(): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "node_modules/probot/bin/probot.js"), "run", "./lib/index.js"], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: "ignore",
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await expect.poll(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status, { timeout: 15_000, interval: 100 }).toBe(200);
  return url;
}

function kill(): Promise<void> {
  const child = children.at(-1)!;
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

const accepted = () => github.find("POST", /\/dispatches$/).filter((request) => request.status === 204);

/** Outbox tasks the relay at `url` has not sent yet (its relay_outbox_pending gauge, read from the store at scrape time). */
async function outboxPending(url: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`)
    .then((response) => response.text())
    .catch(() => undefined);
  const match = /^relay_outbox_pending (\d+)$/m.exec(text ?? "");
  return match ? Number(match[1]) : undefined;
}

/**
 * Waits until the relay at `url` has recorded an outcome for every task: a task recorded as sent is never
 * sent again, and nothing else queues dispatches here (no webhooks, redelivery and reconciler off), so the
 * dispatches GitHub received are then all there will be.
 */
async function outboxDrained(url: string): Promise<void> {
  await expect.poll(() => outboxPending(url), { timeout: 20_000, interval: 100 }).toBe(0);
}

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(1, ["Codertocat/Hello-World"]);
  github.install(11, REPOS);
  dataDir = tempDir("relay-crash-");
  const keyPath = path.join(dataDir, "app.pem");
  const allowlistPath = path.join(dataDir, "allowlist.yml");
  await writeFile(keyPath, testPrivateKey());
  await writeFile(allowlistPath, `L2:\n${REPOS.map((repo) => `  - ${repo}\n`).join("")}`);
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "warn",
    APP_ID: "1",
    PRIVATE_KEY_PATH: keyPath,
    WEBHOOK_SECRET,
    RELAY_TICKET_SECRET: TICKET_SECRET,
    RELAY_REDELIVERY_MINUTES: "0",
    RELAY_RECONCILE_MINUTES: "0",
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    UPSTREAM_REPO: "Codertocat/Hello-World",
    ALLOWLIST_FILE: allowlistPath,
    DATA_DIR: path.join(dataDir, "state"),
  };
});

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children = [];
  await github.close();
});

function pr() {
  const payload = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  payload.pull_request.author_association = "MEMBER";
  return payload;
}

describe("crash and restart on the same DATA_DIR", () => {
  it("delivers every dispatch exactly once when killed before any was sent", async () => {
    // The worker is stuck getting installation tokens when the process dies: nothing reached GitHub.
    github.setDelay("POST", /\/access_tokens$/, 60_000);
    const first = await startChild();
    expect((await deliver({ url: first }, "pull_request", pr(), "crash-delivery-1")).status).toBe(200);
    await expect.poll(() => github.find("POST", /\/access_tokens$/).length, { timeout: 10_000 }).toBeGreaterThan(0);
    await kill();
    expect(github.find("POST", /\/dispatches$/)).toEqual([]);

    github.setDelay("POST", /\/access_tokens$/, 0);
    const second = await startChild();
    await expect.poll(() => accepted().length, { timeout: 20_000, interval: 100 }).toBe(REPOS.length);
    await outboxDrained(second);
    expect(accepted().map((request) => request.path).sort()).toEqual(REPOS.map((repo) => `/repos/${repo}/dispatches`).sort());
    expect(github.find("POST", /\/dispatches$/)).toHaveLength(REPOS.length);
  }, 60_000);

  it("delivers every dispatch exactly once when killed while they wait to be retried", async () => {
    github.script(
      "POST",
      /\/dispatches$/,
      REPOS.map(() => ({ status: 503, body: { message: "Service Unavailable" }, headers: { "retry-after": "3" } })),
    );
    const first = await startChild();
    expect((await deliver({ url: first }, "pull_request", pr(), "crash-delivery-2")).status).toBe(200);
    await expect.poll(() => github.find("POST", /\/dispatches$/).filter((r) => r.status === 503).length, { timeout: 10_000 }).toBe(REPOS.length);
    await kill();
    // Killed while every dispatch waited for its retry (Retry-After: 3 s), none retried yet.
    expect(github.find("POST", /\/dispatches$/).map((request) => request.status)).toEqual(REPOS.map(() => 503));

    const second = await startChild();
    await expect.poll(() => accepted().length, { timeout: 20_000, interval: 100 }).toBe(REPOS.length);
    await outboxDrained(second);
    expect(accepted()).toHaveLength(REPOS.length);
    expect(new Set(accepted().map((request) => request.path)).size).toBe(REPOS.length);
    expect(github.find("POST", /\/dispatches$/)).toHaveLength(2 * REPOS.length);
  }, 60_000);
});
