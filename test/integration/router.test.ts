// The relay's route table on a real loopback server: literal and parameterised paths, precedence,
// decoding, and the answers for unknown methods and malformed paths.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRouter, sendJson, type Route } from "../../src/http/router.js";

let server: Server;
let base: string;

const echo = (name: string): Route["handler"] => (_req, res, _url, params) => sendJson(res, 200, { route: name, params });
const routes: Route[] = [
  { method: "GET", path: "/hud/:owner/:repo", handler: echo("backend") },
  { method: "GET", path: "/hud/pr/:number", handler: echo("pr") },
  { method: "GET", path: "/hud", handler: echo("summary") },
  { method: "POST", path: "/relay/callback", handler: echo("callback") },
];

beforeAll(async () => {
  const router = createRouter(routes);
  server = createServer((req, res) => {
    void router(req, res).then((handled) => {
      if (!handled) sendJson(res, 404, { error: "no route" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const call = async (path: string, method = "GET") => {
  const response = await fetch(`${base}${path}`, { method });
  return { status: response.status, allow: response.headers.get("allow"), body: await response.json() };
};

it("matches literal paths and fills parameters, decoded", async () => {
  expect(await call("/hud")).toMatchObject({ status: 200, body: { route: "summary", params: {} } });
  expect(await call("/hud/Acme/torch-npu?days=7")).toMatchObject({ body: { route: "backend", params: { owner: "Acme", repo: "torch-npu" } } });
  expect(await call("/hud/acme/a%20b")).toMatchObject({ body: { params: { owner: "acme", repo: "a b" } } });
});

it("prefers the route with more literal segments", async () => {
  expect(await call("/hud/pr/42")).toMatchObject({ body: { route: "pr", params: { number: "42" } } });
});

it("does not match empty segments, extra segments or malformed escapes", async () => {
  expect((await call("/hud/acme/")).status).toBe(404);
  expect((await call("/hud/acme/npu/extra")).status).toBe(404);
  expect((await call("/hud/acme/%E0%A4%A")).status).toBe(404);
});

it("answers another method on a known path with 405 and the allowed methods", async () => {
  expect(await call("/relay/callback")).toMatchObject({ status: 405, allow: "POST", body: { error: "method GET not allowed on /relay/callback" } });
  expect(await call("/hud/pr/42", "POST")).toMatchObject({ status: 405, allow: "GET" });
});
