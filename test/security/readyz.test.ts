// /readyz is public: it answers one word per component, never error text or repo names, however unwell
// the relay is. The details go to the log, once per change of state, and a gauge per component.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logging.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { seedHud } from "../helpers/hud-seed.js";
import { freePort, startRelay, tempDir, type RunningRelay } from "../helpers/server.js";

const WORDS = ["ready", "not ready", "degraded"];
let relay: RunningRelay | undefined;
let github: GitHubStandIn | undefined;

afterEach(async () => {
  await relay?.stop();
  await github?.close();
  relay = github = undefined;
});

async function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: await createLogger({ level: "info", format: "json" }, sink), lines };
}

async function readyz(running: RunningRelay): Promise<{ status: number; text: string; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${running.url}/readyz`);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as { status: string; checks: Record<string, string> } };
}

/** The body is exactly a status word and one word per component. */
function expectOnlyWords(body: { status: string; checks: Record<string, string> }): void {
  expect(Object.keys(body).sort()).toEqual(["checks", "status"]);
  expect(["ready", "not ready"]).toContain(body.status);
  expect(Object.keys(body.checks).sort()).toEqual(["allowlist", "dispatch", "hud"]);
  for (const state of Object.values(body.checks)) expect(WORDS).toContain(state);
}

describe("/readyz", () => {
  it("names no repo and no error while a backend lacks the App and ClickHouse is unreachable", async () => {
    github = await startGitHubStandIn();
    const clickhousePort = await freePort();
    const allowlist = path.join(tempDir(), "allowlist.yml");
    writeFileSync(allowlist, "L1:\n  - secret-org/hidden-backend\n");
    // Rows waiting for ClickHouse, so the HUD writer tries (and fails) to write them.
    const dataDir = tempDir();
    const store = openSqliteStore(dataDir);
    await seedHud(store, Date.now());
    await store.close();
    const { log, lines } = await capturedLog();
    relay = await startRelay(
      {
        ALLOWLIST_FILE: allowlist,
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        DATA_DIR: dataDir,
        CLICKHOUSE_URL: `http://127.0.0.1:${clickhousePort}`,
        RELAY_HUD_FLUSH_MS: "50",
      },
      { baseUrl: github.apiUrl, log },
    );
    const running = relay;

    await expect.poll(async () => (await readyz(running)).body.checks, { timeout: 10_000 }).toMatchObject({ dispatch: "degraded", hud: "degraded" });
    for (let probe = 0; probe < 3; probe += 1) {
      const { status, text, body } = await readyz(running);
      expect(status).toBe(200);
      expectOnlyWords(body);
      for (const secret of ["secret-org", "hidden-backend", String(clickhousePort), "127.0.0.1", "ECONNREFUSED", "rror"]) expect(text).not.toContain(secret);
    }

    // The details are logged once, when the state changed, not on every probe.
    const changes = lines.filter((line) => line.component === "dispatch" && line.state === "degraded");
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ details: { notInstalled: ["secret-org/hidden-backend"] } });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('relay_component_ready{component="dispatch"} 0');
    expect(metrics).toContain('relay_component_ready{component="hud"} 0');
    expect(metrics).toContain('relay_component_ready{component="allowlist"} 1');
  });

  it("answers 503 with words only while the allowlist repo cannot be read", async () => {
    const closed = await freePort();
    const { log, lines } = await capturedLog();
    relay = await startRelay(
      { ALLOWLIST_REPO: "secret-org/relay-config", GHE_HOST: `127.0.0.1:${closed}`, GHE_PROTOCOL: "http" },
      { baseUrl: `http://127.0.0.1:${closed}/api/v3`, log },
    );

    const { status, text, body } = await readyz(relay);
    expect(status).toBe(503);
    expectOnlyWords(body);
    expect(body).toMatchObject({ status: "not ready", checks: { allowlist: "not ready" } });
    for (const secret of ["secret-org", "relay-config", String(closed), "ECONNREFUSED", "rror"]) expect(text).not.toContain(secret);

    const change = lines.find((line) => line.component === "allowlist" && line.state === "not ready");
    expect(change).toMatchObject({ details: { source: expect.stringContaining("secret-org/relay-config") } });
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toContain('relay_component_ready{component="allowlist"} 0');
  });
});
