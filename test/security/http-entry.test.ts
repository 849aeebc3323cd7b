// `npm start` (node lib/server/main.js) as a child process against the built lib/: Probot's setup page
// without an App, the relay's own server with one, a clean stop on SIGTERM, configuration errors.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { testPrivateKey } from "../helpers/probot.js";
import { freePort, tempDir } from "../helpers/server.js";
import { sign } from "./http-harness.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const MAIN = path.join(ROOT, "lib/server/main.js");

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

interface Exit {
  code: number | null;
  output: string;
}

function start(env: Record<string, string>): { exited: Promise<Exit> } {
  const dir = tempDir("relay-entry-");
  child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: "json", DATA_DIR: path.join(dir, "data"), ...env },
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { exited: new Promise((resolve) => child!.once("exit", (code) => resolve({ code, output }))) };
}

async function up(url: string): Promise<void> {
  await expect.poll(async () => (await fetch(url).catch(() => undefined))?.status, { timeout: 15_000, interval: 100 }).toBeDefined();
}

it("hands over to Probot's setup page when no App is configured, with nosniff", async () => {
  const port = await freePort();
  start({ NODE_ENV: "development", PORT: String(port), HOST: "127.0.0.1" });
  await up(`http://127.0.0.1:${port}/probot`);
  const response = await fetch(`http://127.0.0.1:${port}/probot`);
  expect(await response.text()).toContain("Register GitHub App");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
});

it("serves the relay with an App configured, accepts signed webhooks and stops on SIGTERM", async () => {
  const dir = tempDir("relay-entry-");
  const keyPath = path.join(dir, "app.pem");
  const allowlist = path.join(dir, "allowlist.yml");
  await writeFile(keyPath, testPrivateKey());
  await writeFile(allowlist, "");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { exited } = start({ APP_ID: "1", PRIVATE_KEY_PATH: keyPath, WEBHOOK_SECRET: "entry-secret", ALLOWLIST_FILE: allowlist, PORT: String(port), HOST: "127.0.0.1" });
  await up(`${url}/healthz`);

  const health = await fetch(`${url}/healthz`);
  expect(await health.json()).toEqual({ status: "ok" });
  expect(health.headers.get("x-content-type-options")).toBe("nosniff");
  const body = JSON.stringify({ zen: "entry", hook_id: 1 });
  const headers = { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "entry-1" };
  const signed = await fetch(`${url}/api/github/webhooks`, { method: "POST", headers: { ...headers, "x-hub-signature-256": sign(body, "entry-secret") }, body });
  expect(signed.status).toBe(200);
  const unsigned = await fetch(`${url}/api/github/webhooks`, { method: "POST", headers: { ...headers, "x-hub-signature-256": sign(body, "wrong") }, body });
  expect(unsigned.status).toBe(401);

  child!.kill("SIGTERM");
  const exit = await exited;
  expect(exit.code).toBe(0);
  const lines = exit.output.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines).toContainEqual(expect.objectContaining({ component: "http", method: "POST", path: "/api/github/webhooks", status: 200, delivery: "entry-1" }));
});

it("stops with one configuration message, no stack trace, in production without an App", async () => {
  const { exited } = start({ NODE_ENV: "production", WEBHOOK_SECRET: "s", RELAY_TICKET_SECRET: "t".repeat(32), PORT: String(await freePort()) });
  const exit = await exited;
  expect(exit.code).toBe(1);
  expect(exit.output.trim()).toBe(
    'Invalid relay configuration:\n  - APP_ID / PRIVATE_KEY: not set, but required in production, where Probot\'s setup page does not run; register the App (docs/deploy.md, "Register the App") and set both',
  );
});

it("does not open the setup page on an invalid configuration: it names each problem and exits 1", async () => {
  const { exited } = start({ NODE_ENV: "development", PORT: "abc" });
  const exit = await exited;
  expect(exit.code).toBe(1);
  expect(exit.output.trim()).toBe('Invalid relay configuration:\n  - PORT: "abc" is not a port number; set it to an integer between 1 and 65535 (default 3000)');
});

it("stops with every configuration problem in production without the relay's secrets", async () => {
  const keyPath = path.join(tempDir("relay-entry-"), "app.pem");
  await writeFile(keyPath, testPrivateKey());
  const { exited } = start({ NODE_ENV: "production", APP_ID: "1", PRIVATE_KEY_PATH: keyPath, PORT: String(await freePort()) });
  const exit = await exited;
  expect(exit.code).not.toBe(0);
  expect(exit.output).toContain("WEBHOOK_SECRET");
  expect(exit.output).toContain("RELAY_TICKET_SECRET");
});
