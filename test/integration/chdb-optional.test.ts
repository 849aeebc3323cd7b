// chdb is an optional dependency: without it the relay still loads, and the embedded HUD says what to do.
// A module-resolution hook in a child process makes `chdb` unresolvable, as after `npm ci --omit=optional`.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { tempDir } from "../helpers/server.js";

const run = promisify(execFile);

const HIDE_CHDB = `export async function resolve(specifier, context, next) {
  if (specifier === "chdb" || specifier.startsWith("chdb/")) {
    throw Object.assign(new Error("Cannot find package '" + specifier + "'"), { code: "ERR_MODULE_NOT_FOUND" });
  }
  return next(specifier, context);
}`;

const CHILD = `
import { register } from "node:module";
import { createServer } from "node:http";
register("data:text/javascript," + encodeURIComponent(process.env.HIDE_CHDB));
await import("./lib/index.js"); // the app itself loads without chdb
const { HudConnection } = await import("./lib/hud/clickhouse.js");
const { HudService } = await import("./lib/hud/service.js");
const { hudRoutes } = await import("./lib/hud/routes.js");
const { createRouter } = await import("./lib/http/router.js");
const connection = new HudConnection({ kind: "embedded", path: process.env.CH_PATH, database: "relay" }, 30);
const service = new HudService({ connection, allowlist: () => undefined, upstreamRepo: "pytorch/pytorch" });
const router = createRouter(hudRoutes({ service, upstreamRepo: "pytorch/pytorch", webBaseUrl: "https://github.com", log: console }));
const server = createServer((req, res) => void router(req, res));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const response = await fetch("http://127.0.0.1:" + server.address().port + "/api/hud/summary");
console.log(JSON.stringify({ status: response.status, body: await response.json() }));
server.close();`;

it("loads without chdb, and the HUD answers 503 explaining how to get the embedded ClickHouse or use a server", async () => {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: path.resolve(import.meta.dirname, "../.."),
    env: { ...process.env, HIDE_CHDB, CH_PATH: path.join(tempDir(), "clickhouse") },
  });
  const answer = JSON.parse(stdout.trim()) as { status: number; body: { error: string } };
  expect(answer.status).toBe(503);
  expect(answer.body.error).toMatch(
    /^the embedded ClickHouse needs the optional package "chdb", which could not be loaded \(Cannot find package 'chdb\/connection'\); install it with `npm install chdb` .*, or set CLICKHOUSE_URL to use a ClickHouse server$/,
  );
});
