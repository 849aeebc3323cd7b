// No secret in any log: a full scenario (a PR webhook, dispatches, authenticated callbacks, check runs,
// refused and forged requests) against the real server and the GitHub stand-in, logged at `trace`, then
// every secret and token the scenario used is looked for in the captured output. `trace` emits every
// line the other levels emit (redaction does not depend on the level), so it covers them all; both log
// formats are checked because they serialise differently.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logging.js";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { testPrivateKey } from "../helpers/probot.js";
import { deliver, startRelay, tempDir, TICKET_SECRET, WEBHOOK_SECRET, type RunningRelay } from "../helpers/server.js";
import { sign } from "./http-harness.js";
import { writeFileSync } from "node:fs";
import path from "node:path";

const UPSTREAM = "Codertocat/Hello-World";
const PREVIOUS_WEBHOOK_SECRET = "previous-webhook-secret-9f8e7d6c5b4a39281706";
const PREVIOUS_TICKET_SECRET = "previous-ticket-secret-0f1e2d3c4b5a69788796a5b4";
const CLICKHOUSE_PASSWORD = "clickhouse-password-5a4b3c2d1e0f";

let github: GitHubStandIn | undefined;
let oidc: OidcIssuer | undefined;
let relay: RunningRelay | undefined;

afterEach(async () => {
  await relay?.stop();
  await github?.close();
  await oidc?.close();
  relay = github = oidc = undefined;
});

function capture(): { sink: Writable; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return { sink, text: () => chunks.join("") };
}

async function settled(running: RunningRelay): Promise<void> {
  await expect.poll(async () => (await running.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

async function callback(url: string, body: unknown, token: string): Promise<number> {
  const response = await fetch(`${url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Runs the scenario with logs captured in `format`; returns the log text and every secret used. */
async function scenario(format: "json" | "pretty"): Promise<{ logs: string; secrets: Map<string, string> }> {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  github.install(12, ["beta/tpu-backend"]);
  const { sink, text } = capture();
  const allowlist = path.join(tempDir(), "allowlist.yml");
  writeFileSync(allowlist, 'L4:\n  - beta/tpu-backend: "@tpu-oncall"\n');
  relay = await startRelay(
    {
      ALLOWLIST_FILE: allowlist,
      GHE_HOST: github.host,
      GHE_PROTOCOL: "http",
      UPSTREAM_REPO: UPSTREAM,
      GITHUB_OIDC_ISSUER: oidc.issuer,
      WEBHOOK_SECRET_PREVIOUS: PREVIOUS_WEBHOOK_SECRET,
      RELAY_TICKET_SECRET_PREVIOUS: PREVIOUS_TICKET_SECRET,
      CLICKHOUSE_PASSWORD,
      RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
      LOG_LEVEL: "trace",
    },
    { baseUrl: github.apiUrl, log: await createLogger({ level: "trace", format }, sink) },
  );

  const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  pr.pull_request.labels = [];
  expect((await deliver(relay, "pull_request", pr, "secrets-delivery")).status).toBe(200);
  await settled(relay);
  const dispatch = github.find("POST", /\/dispatches$/)[0]!;
  const ticket = (dispatch.body as { client_payload: { ticket: string } }).client_payload.ticket;

  const token = await oidc.mint({ repository: "beta/tpu-backend" });
  const report = {
    schema_version: 1,
    ticket,
    status: "in_progress",
    workflow: { name: "ci", run_id: 777, run_attempt: 1, url: "https://ci.example.org/runs/777" },
    job: { name: "test (tpu)", url: "https://ci.example.org/runs/777/jobs/1" },
  };
  expect(await callback(relay.url, report, token)).toBe(200);
  expect(await callback(relay.url, { ...report, status: "completed", conclusion: "failure" }, token)).toBe(200);
  // Refused requests log too: a token of another repo with this ticket, a garbage token, a forged webhook.
  const otherToken = await oidc.mint({ repository: "evil/other-repo" });
  expect(await callback(relay.url, report, otherToken)).toBeGreaterThanOrEqual(400);
  expect(await callback(relay.url, report, "not.a.jwt-but-secret-looking")).toBe(401);
  const forged = JSON.stringify({ forged: true });
  const refused = await fetch(`${relay.url}/api/github/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "forged-1", "x-hub-signature-256": sign(forged, "wrong-secret") },
    body: forged,
  });
  expect(refused.status).toBe(401);
  await settled(relay);
  expect([...github.checkRuns.values()].some((run) => run.status === "completed")).toBe(true);
  await relay.stop();
  relay = undefined;

  const secrets = new Map<string, string>([
    ["WEBHOOK_SECRET", WEBHOOK_SECRET],
    ["WEBHOOK_SECRET_PREVIOUS", PREVIOUS_WEBHOOK_SECRET],
    ["RELAY_TICKET_SECRET", TICKET_SECRET],
    ["RELAY_TICKET_SECRET_PREVIOUS", PREVIOUS_TICKET_SECRET],
    ["CLICKHOUSE_PASSWORD", CLICKHOUSE_PASSWORD],
    ["dispatch ticket", ticket],
    ["OIDC token", token],
    ["other repo's OIDC token", otherToken],
    ["App private key", testPrivateKey().split("\n")[1]!],
  ]);
  // Installation tokens and App JWTs the relay sent to GitHub, as the stand-in received them.
  for (const request of github.requests) {
    const credential = /^(?:token|bearer)\s+(\S+)$/i.exec(String(request.headers.authorization ?? ""))?.[1];
    if (credential) secrets.set(`credential sent to ${request.method} ${request.path}`, credential);
  }
  return { logs: text(), secrets };
}

describe("secrets in logs", () => {
  for (const format of ["json", "pretty"] as const) {
    it(`logs no secret or token of a full scenario at trace (${format})`, async () => {
      const { logs, secrets } = await scenario(format);
      // The scenario really logged (GitHub requests at debug, access lines, refusals).
      expect(logs).toContain("secrets-delivery");
      expect(logs).toContain("forged-1");
      expect(logs.length).toBeGreaterThan(2000);
      expect(secrets.size).toBeGreaterThan(10);
      const leaked = [...secrets].filter(([, value]) => logs.includes(value)).map(([name]) => name);
      expect(leaked).toEqual([]);
    });
  }
});
