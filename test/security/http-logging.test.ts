// What reaches the logs: the request log never holds a header, and the redacting logger (also Probot's
// and Octokit's) hides bearer tokens, signatures, dispatch tickets and webhook payloads.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createProbot } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logging.js";
import { testPrivateKey } from "../helpers/probot.js";
import { startCapturedRelay, type CapturedRelay } from "./http-harness.js";

async function capturedLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: await createLogger({ level: "trace", format: "json" }, sink), text: () => lines.join("") };
}

describe("the request log", () => {
  let relay: CapturedRelay;
  beforeAll(async () => {
    relay = await startCapturedRelay();
  });
  afterAll(() => relay.relay.stop());

  it("never contains an Authorization header value, even at trace", async () => {
    const response = await fetch(`${relay.relay.url}/relay/callback?token=QUERY-MARKER`, {
      method: "POST",
      headers: { authorization: "Bearer SECRET-MARKER-4d1e", cookie: "session=COOKIE-MARKER", "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(401);
    await expect.poll(() => relay.lines().filter((line) => line.includes('"path":"/relay/callback"'))).toHaveLength(1);
    const text = relay.lines().join("\n");
    expect(text).not.toContain("SECRET-MARKER");
    expect(text).not.toContain("COOKIE-MARKER");
    expect(text).not.toContain("QUERY-MARKER");
    expect(JSON.parse(relay.lines().find((line) => line.includes('"path":"/relay/callback"'))!)).toMatchObject({
      component: "http",
      method: "POST",
      status: 401,
    });
  });
});

describe("log lines", () => {
  it("carry one name whatever the child loggers (Probot names its own child logger too)", async () => {
    const { log, text } = await capturedLogger();
    log.child({ name: "probot" }).child({ component: "dispatch" }).info({ job: "sweeper" }, "ran");
    log.info("plain");
    const lines = text().trim().split("\n");
    for (const line of lines) expect(line.match(/"name":/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: "relay", component: "dispatch", job: "sweeper", msg: "ran" });
    expect(JSON.parse(lines[1]!)).toMatchObject({ name: "relay", msg: "plain" });
  });
});

describe("redaction", () => {
  it("hides secret headers wherever a headers object is logged", async () => {
    const { log, text } = await capturedLogger();
    log.info({ req: { headers: { authorization: "Bearer H1", "x-hub-signature-256": "sha256=H2", "user-agent": "kept" } } });
    log.info({ headers: { cookie: "H3", "proxy-authorization": "H4" } });
    log.error({ err: Object.assign(new Error("boom"), { request: { headers: { authorization: "token H5" }, body: '{"client_payload":{"ticket":"H6"}}' } }) });
    log.child({ component: "x" }).info({ res: { headers: { "set-cookie": "H7" } } });
    for (const secret of ["H1", "H2", "H3", "H4", "H5", "H6", "H7"]) expect(text()).not.toContain(secret);
    expect(text()).toContain("kept");
  });

  it("hides tickets, tokens, passwords, private keys and webhook payloads", async () => {
    const { log, text } = await capturedLogger();
    log.debug({ event_type: "pytorch-pr-trigger", client_payload: { ticket: "S1", pr: 5 } }, "GitHub request");
    log.info({ token: "S2", installation: { token: "S3" }, clickhouse: { password: "S4" }, privateKey: "S5" });
    log.error({ err: Object.assign(new Error("handler failed"), { event: { id: "d", name: "push", payload: { secret: "S6" } } }) });
    for (const secret of ["S1", "S2", "S3", "S4", "S5", "S6"]) expect(text()).not.toContain(secret);
    expect(text()).toContain("pytorch-pr-trigger");
  });

  it("reaches Probot's Octokit request logging: a dispatch body's ticket is not logged at debug", async () => {
    // GitHub for one installation: a token, then the dispatch.
    const github = createServer((req, res) => {
      if (!req.url?.endsWith("/access_tokens")) return void res.writeHead(204).end();
      const token = { token: "INSTALLATION-TOKEN-MARKER", expires_at: new Date(Date.now() + 3_600_000).toISOString() };
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(token));
    });
    await new Promise<void>((resolve) => github.listen(0, "127.0.0.1", resolve));
    try {
      const { log, text } = await capturedLogger();
      const probot = createProbot({
        env: {},
        overrides: { appId: 1, privateKey: testPrivateKey(), log, baseUrl: `http://127.0.0.1:${(github.address() as AddressInfo).port}` },
      });
      const octokit = await probot.auth(1);
      await octokit.request("POST /repos/{owner}/{repo}/dispatches", {
        owner: "acme",
        repo: "npu",
        event_type: "pytorch-pr-trigger",
        client_payload: { ticket: "TICKET-MARKER-91c2" },
      });
      expect(text()).toMatch(/GitHub request: POST \S+\/repos\/acme\/npu\/dispatches - 204/);
      expect(text()).not.toContain("TICKET-MARKER");
      expect(text()).not.toContain("INSTALLATION-TOKEN-MARKER");
    } finally {
      github.close();
    }
  });
});
