// HUD rows can never poison the writer. Through the real relay on loopback: a report whose job name holds
// a lone UTF-16 surrogate (valid JSON, refused by ClickHouse as it is) and a PR title holding one are
// written with U+FFFD; a test count beyond ClickHouse's UInt32 is refused with a 400 naming the field
// instead of wrapping; and a later report of another backend still reaches the HUD.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { UINT32_MAX } from "../../src/hud/column-types.js";
import { setUpHud } from "../../src/hud/setup.js";
import { PrViewSchema, type PrView } from "../../src/hud/views.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { seedHud } from "../helpers/hud-seed.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { testProbot } from "../helpers/probot.js";
import { deliver, freePort, startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const TPU = "beta/tpu-backend";
const NPU = "acme/npu-backend";
const ALLOWLIST = `
L3:
  npu:
    ${NPU}: [npu-oncall]
L4:
  - ${TPU}: "@tpu-oncall"
`;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay;
let pr: Payload;

beforeEach(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  github.install(11, [NPU]);
  github.install(12, [TPU]);
  pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  pr.pull_request.labels = [];
  pr.pull_request.title = "Fix \ud800 the op";
  relay = await startRelayAgainst(github, ALLOWLIST, { UPSTREAM_REPO: UPSTREAM, GITHUB_OIDC_ISSUER: oidc.issuer, RELAY_HUD_FLUSH_MS: "50" });
});
afterEach(async () => {
  await relay?.stop();
  await github.close();
  await oidc.close();
});

/** Dispatches the PR and returns the ticket each backend received. */
async function dispatchPr(): Promise<Record<string, string>> {
  expect((await deliver(relay, "pull_request", pr, "poison-delivery")).status).toBe(200);
  const tickets: Record<string, string> = {};
  await expect
    .poll(() => github.find("POST", /\/dispatches$/).length, { timeout: 20_000, interval: 50 })
    .toBe(2);
  for (const request of github.find("POST", /\/dispatches$/)) {
    tickets[request.path.split("/").slice(2, 4).join("/")] = (request.body as { client_payload: { ticket: string } }).client_payload.ticket;
  }
  return tickets;
}

function report(ticket: string, jobName: string, overrides: Record<string, unknown> = {}) {
  return {
    schema_version: 1,
    ticket,
    status: "completed",
    conclusion: "success",
    workflow: { name: "ci", run_id: 777, run_attempt: 1, url: "https://ci.example.org/runs/777" },
    job: { name: jobName },
    tests: { total: 3, passed: 3, failed: 0, skipped: 0 },
    ...overrides,
  };
}

async function post(repository: string, body: unknown): Promise<{ status: number; json: { error?: string } }> {
  const response = await fetch(`${relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository })}` },
    // JSON.stringify writes a lone surrogate as the escape \ud800: valid JSON, as a downstream may send it.
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as { error?: string } };
}

async function prView(): Promise<PrView> {
  const response = await fetch(`${relay.url}/api/hud/pr/${pr.number as number}`);
  return PrViewSchema.parse(await response.json());
}

const jobsOf = (view: PrView, repo: string) => view.gating.find((box) => box.downstreamRepo === repo)?.jobs.map((job) => job.jobName) ?? [];

describe("HUD rows cannot poison the writer", () => {
  it("writes lone surrogates as U+FFFD, refuses a UInt32 overflow with a 400, and keeps writing other backends' rows", async () => {
    const tickets = await dispatchPr();

    const surrogate = await post(TPU, report(tickets[TPU]!, "test \ud800 (tpu)"));
    expect(surrogate.status).toBe(200);
    const overflow = await post(TPU, report(tickets[TPU]!, "test (tpu, big)", { tests: { total: 2 ** 32 + 5, passed: 0, failed: 0, skipped: 0 } }));
    expect(overflow).toEqual({ status: 400, json: { error: `tests.total: must be at most ${UINT32_MAX}` } });
    expect((await post(NPU, report(tickets[NPU]!, "test (npu)"))).status).toBe(200);

    // The writer drains every 50 ms; under load it may take longer, never forever.
    await expect.poll(async () => jobsOf(await prView(), NPU), { timeout: 30_000, interval: 100 }).toEqual(["test (npu)"]);
    const view = await prView();
    expect(jobsOf(view, TPU)).toEqual(["test \ufffd (tpu)"]);
    // The title reaches the HUD through the store's dispatch log, whose TEXT column keeps a lone surrogate
    // as the three bytes ED A0 80: read back, each is a U+FFFD.
    expect(view.title).toMatch(/^Fix \ufffd+ the op$/);

    const readiness = await fetch(`${relay.url}/readyz`);
    expect(readiness.status).toBe(200);
    expect(JSON.stringify(await readiness.json())).not.toMatch(/CANNOT_PARSE|Exception/);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/^relay_hud_writer_failing_since_seconds 0$/m);
    expect(metrics).not.toMatch(/^relay_hud_rows_rejected_total\{[^}]*\} [1-9]/m);
  });
});

describe("the HUD's readiness report", () => {
  it("says the writer is failing and since when, counts the rows set aside, and never quotes ClickHouse", async () => {
    const store = openSqliteStore(tempDir());
    await seedHud(store, Date.now());
    await store.rejectHudRows([(await store.pendingHudRows(1))[0]!.id], "refused by ClickHouse: CANNOT_PARSE_ESCAPE_SEQUENCE: … 'job_name' …", Date.now());
    const config = loadConfig({ CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}`, RELAY_HUD_FLUSH_MS: "20", RELAY_TICKET_SECRET: "s".repeat(40) });
    const hud = setUpHud(testProbot(), { config, metrics: createMetrics({ defaultMetrics: false }), store: () => store, allowlist: () => undefined, leader: () => true });
    try {
      hud.start();
      await expect.poll(async () => (await hud.readiness()).details.writer, { timeout: 20_000, interval: 20 }).toBe("failing");
      const report = await hud.readiness();
      expect(report).toEqual({
        ready: true,
        degraded: true,
        details: { clickhouse: "server", writer: "failing", failingSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/), pending: expect.any(Number), rejectedRows: 1 },
      });
      expect(JSON.stringify(report)).not.toMatch(/ECONNREFUSED|CANNOT_PARSE|job_name|127\.0\.0\.1|rror/);
    } finally {
      await hud.stop();
      await store.close();
    }
  });
});
