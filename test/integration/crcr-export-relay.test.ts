// The crcr export in the running relay (TORCHCI_RESULTS_URL): a PR job's reports and a nightly self-report
// reach torchci's results API as the production relay's records, one per state, while the relay's own HUD
// keeps its rows; a backend not shown on the HUD exports nothing; without the setting nothing is queued.
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { torchciEnvelope } from "../../src/export/torchci-envelope.js";
import { DATABASE_FILE } from "../../src/store/sqlite-store.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";
import { TorchciStandIn } from "../helpers/torchci-stand-in.js";

type Envelope = ReturnType<typeof torchciEnvelope>;

const UPSTREAM = "Codertocat/Hello-World";
const TOKEN = "hud-bot-key-0123456789abcdef";
// Beta/tpu-backend as the allowlist spells it: the relay keeps repos in lower case, the records carry this.
const ALLOWLIST = `
L1:
  - one/l1-backend
L4:
  - Beta/tpu-backend: "@tpu-oncall"
`;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let torchci: TorchciStandIn;
let relay: RunningRelay;
let dataDir: string;

beforeEach(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  torchci = new TorchciStandIn();
  await torchci.listen();
  github.install(1, [UPSTREAM]);
  github.install(12, ["beta/tpu-backend"]);
  github.install(13, ["one/l1-backend"]);
  dataDir = tempDir();
});
afterEach(async () => {
  await relay?.stop();
  await torchci.close();
  await github.close();
  await oidc.close();
});

async function start(env: Record<string, string> = {}): Promise<void> {
  relay = await startRelayAgainst(github, ALLOWLIST, { UPSTREAM_REPO: UPSTREAM, GITHUB_OIDC_ISSUER: oidc.issuer, DATA_DIR: dataDir, RELAY_HUD_FLUSH_MS: "50", ...env });
}

/** Dispatches a PR and returns the ticket each backend received, by lower-case repo. */
async function dispatchPr(): Promise<{ pr: Payload; tickets: Record<string, string> }> {
  const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  expect((await deliver(relay, "pull_request", pr, "crcr-delivery")).status).toBe(200);
  await expect.poll(() => github.find("POST", /\/dispatches$/).length, { timeout: 20_000, interval: 50 }).toBe(2);
  const tickets: Record<string, string> = {};
  for (const request of github.find("POST", /\/dispatches$/)) {
    tickets[request.path.split("/").slice(2, 4).join("/").toLowerCase()] = (request.body as { client_payload: { ticket: string } }).client_payload.ticket;
  }
  return { pr, tickets };
}

async function post(body: unknown, repository: string): Promise<number> {
  const response = await fetch(`${relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository })}` },
    body: JSON.stringify(body),
  });
  return response.status;
}

const report = (ticket: string, fields: Record<string, unknown> = {}) => ({
  schema_version: 1,
  ticket,
  status: "in_progress",
  workflow: { name: "ci", run_id: 555, run_attempt: 1, url: "https://ci.example.org/runs/555" },
  job: { name: "test (tpu, 1/1)" },
  ...fields,
});

/** Queued rows per target in the relay's store, set aside ones included. */
function queuedTargets(): Record<string, number> {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true });
  try {
    const rows = db.prepare("SELECT target, count(*) AS n FROM hud_rows GROUP BY target").all() as Array<{ target: string; n: number }>;
    return Object.fromEntries(rows.map((row) => [row.target, row.n]));
  } finally {
    db.close();
  }
}

describe("the crcr export in the relay", () => {
  it("sends each state of a PR job and a nightly self-report to torchci, as the production relay does; the HUD keeps its rows", async () => {
    await start({ TORCHCI_RESULTS_URL: torchci.url, TORCHCI_API_TOKEN: TOKEN });
    const { pr, tickets } = await dispatchPr();
    expect(await post(report(tickets["beta/tpu-backend"]!), "beta/tpu-backend")).toBe(200);
    const completed = { status: "completed", conclusion: "failure", tests: { total: 10, passed: 8, failed: 2, skipped: 0 }, completed_at: "2026-05-04T21:10:00Z" };
    expect(await post(report(tickets["beta/tpu-backend"]!, completed), "beta/tpu-backend")).toBe(200);
    // An L1 backend's reports are ignored: nothing to export.
    expect(await post(report(tickets["one/l1-backend"]!), "one/l1-backend")).toBe(202);
    const sha = "b".repeat(40);
    const nightly = {
      schema_version: 1,
      status: "completed",
      conclusion: "success",
      workflow: { name: "nightly", run_id: 900, run_attempt: 1, url: "https://ci.example.org/runs/900" },
      job: { name: "full suite" },
      nightly: { upstream_sha: sha, event: "nightly" },
    };
    expect(await post(nightly, "beta/tpu-backend")).toBe(200);

    await expect.poll(() => torchci.received.length, { timeout: 20_000, interval: 50 }).toBe(3);
    expect(torchci.received.map((request) => request.headers["x-hud-internal-bot"])).toEqual([TOKEN, TOKEN, TOKEN]);
    const [started, finished, selfReport] = torchci.received.map((request) => request.body as unknown as Envelope);
    expect(started!.trusted).toMatchObject({ verified_repo: "Beta/tpu-backend", downstream_repo_level: "L4", ci_metrics: { execution_time: null } });
    expect(started!.trusted.ci_metrics.queue_time).toBeGreaterThanOrEqual(0);
    expect(started!.untrusted.callback_payload).toMatchObject({
      event_type: "pull_request",
      delivery_id: "crcr-delivery",
      payload: { repository: { full_name: "codertocat/hello-world" }, pull_request: { number: pr.number, head: { sha: pr.pull_request.head.sha } } },
      workflow: { status: "in_progress", conclusion: null, name: "ci", run_id: "555", run_attempt: "1", job_name: "test (tpu, 1/1)", completed_at: null },
    });
    // The completed state updates the same torchci row: same key fields, the start kept.
    const key = ({ untrusted: { callback_payload: record } }: Envelope) => [record.delivery_id, record.workflow.name, record.workflow.job_name, record.workflow.check_run_id];
    expect(key(finished!)).toEqual(key(started!));
    expect(finished!.untrusted.callback_payload.workflow).toMatchObject({
      status: "completed",
      conclusion: "failure",
      started_at: started!.untrusted.callback_payload.workflow.started_at,
      completed_at: "2026-05-04T21:10:00.000Z",
      test_results: { total: 10, passed: 8, failed: 2, skipped: 0 },
    });
    expect(finished!.trusted.ci_metrics.execution_time).toBeGreaterThanOrEqual(0);
    expect(selfReport!.trusted.verified_repo).toBe("Beta/tpu-backend");
    expect(selfReport!.untrusted.callback_payload).toMatchObject({
      event_type: "nightly",
      payload: { repository: { full_name: "codertocat/hello-world" }, head_sha: sha },
      workflow: { status: "completed", conclusion: "success", name: "nightly", job_name: "full suite" },
    });

    // Our own HUD wrote its rows too: every queue drained, nothing set aside.
    await expect.poll(async () => (await fetch(`${relay.url}/api/hud/pr/${pr.number}`)).status, { timeout: 20_000, interval: 100 }).toBe(200);
    await expect.poll(queuedTargets, { timeout: 20_000, interval: 100 }).toEqual({});
    const ready = (await (await fetch(`${relay.url}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).toMatchObject({ crcrExport: "ready", hud: "ready" });
  });

  it("queues nothing for the export when it is not configured", async () => {
    await start({ RELAY_HUD_FLUSH_MS: "600000" }); // the HUD writer leaves its rows queued: they can be counted
    const { tickets } = await dispatchPr();
    expect(await post(report(tickets["beta/tpu-backend"]!), "beta/tpu-backend")).toBe(200);
    expect(queuedTargets()).toEqual({ results: 1, dispatches: expect.any(Number) });
    const ready = (await (await fetch(`${relay.url}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).not.toHaveProperty("crcrExport");
    expect(torchci.received).toEqual([]);
  });
});
