// /readyz's log (src/http/health.ts): one line per change of a component's state, never one per probe, and
// a check that throws is logged by its message, without a stack trace. A failing HUD writer is "degraded":
// /readyz still answers 200.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { healthRoutes, type ReadinessReport } from "../../src/http/health.js";
import { createLogger } from "../../src/logging.js";
import { createMetrics } from "../../src/metrics.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(checks: Parameters<typeof healthRoutes>[0]) {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString("utf8"));
      done();
    },
  });
  const log = await createLogger({ level: "info", format: "json" }, sink);
  const readyz = healthRoutes(checks, createMetrics({ defaultMetrics: false }), log.child({ component: "readiness" })).find((route) => route.path === "/readyz")!;
  server = createServer((req, res) => void readyz.handler(req, res, new URL(req.url ?? "/", "http://relay"), {}));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  const probe = async () => {
    const response = await fetch(url);
    return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
  };
  const lines = () => raw.join("").split("\n").filter(Boolean);
  return { probe, lines };
}

describe("readiness log", () => {
  it("logs a throwing check once per change of state, by its message, without a stack trace", async () => {
    let failing = true;
    const { probe, lines } = await serve({
      dispatch: () => {
        if (failing) throw new Error("SQLITE_IOERR: disk I/O error");
        return { ready: true, details: {} };
      },
    });

    for (let i = 0; i < 3; i += 1) expect(await probe()).toEqual({ status: 503, body: { status: "not ready", checks: { dispatch: "not ready" } } });
    expect(lines()).toHaveLength(1);
    const line = JSON.parse(lines()[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, component: "dispatch", state: "not ready", details: { error: "SQLITE_IOERR: disk I/O error" }, msg: "dispatch is not ready" });
    expect(lines()[0]).not.toMatch(/stack|\bat .*\(/);

    failing = false;
    for (let i = 0; i < 3; i += 1) expect((await probe()).status).toBe(200);
    expect(lines()).toHaveLength(2);
    expect(JSON.parse(lines()[1]!)).toMatchObject({ level: 30, component: "dispatch", state: "ready", msg: "dispatch is ready again" });
  });

  it("answers 200 with hud degraded while the HUD writer fails, and logs that once", async () => {
    const report: ReadinessReport = { ready: true, degraded: true, details: { clickhouse: "server", writer: "failing", pending: 12 } };
    const { probe, lines } = await serve({ allowlist: () => ({ ready: true, details: {} }), hud: () => report });

    for (let i = 0; i < 3; i += 1) {
      expect(await probe()).toEqual({ status: 200, body: { status: "ready", checks: { allowlist: "ready", hud: "degraded" } } });
    }
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0]!)).toMatchObject({ component: "hud", state: "degraded", details: { writer: "failing", pending: 12 } });
  });
});
