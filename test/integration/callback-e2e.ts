// The end-to-end rig of the callback tests (test/integration/callback*.test.ts): a PR is dispatched
// through the running relay (GitHub played by the stand-in), the downstream reports with an OIDC token
// from a local issuer and the ticket it received. The relay, stand-in, issuer and PR are live bindings,
// fresh for each test once a file calls useCallbackRelay().
import { afterEach, beforeEach, expect } from "vitest";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, type RunningRelay } from "../helpers/server.js";

export const UPSTREAM = "Codertocat/Hello-World";
export const ALLOWLIST = `
L1:
  - one/l1-backend
L3:
  npu:
    acme/npu-backend: [npu-oncall]
L4:
  - beta/tpu-backend: "@tpu-oncall"
`;

export let github: GitHubStandIn;
export let oidc: OidcIssuer;
export let relay: RunningRelay;
export let pr: Payload;

/** Starts the relay on ALLOWLIST (or `allowlist`) against this test's stand-in and issuer. */
export async function start(env: Record<string, string> = {}, allowlist = ALLOWLIST): Promise<void> {
  relay = await startRelayAgainst(github, allowlist, {
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
    ...env,
  });
}

/** A stand-in GitHub with the upstream and three backends installed, an issuer and an opened PR per test. */
export function useCallbackRelay(): void {
  beforeEach(async () => {
    github = await startGitHubStandIn();
    oidc = await startOidcIssuer();
    github.install(1, [UPSTREAM]);
    github.install(11, ["acme/npu-backend"]);
    github.install(12, ["beta/tpu-backend"]);
    github.install(13, ["one/l1-backend"]);
    pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
    pr.pull_request.labels = [];
  });
  afterEach(async () => {
    await relay?.stop();
    await github.close();
    await oidc.close();
  });
}

export async function settled(): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

/** Dispatches the PR and returns the ticket each backend received. */
export async function dispatchPr(): Promise<Record<string, string>> {
  expect((await deliver(relay, "pull_request", pr, "cb-delivery")).status).toBe(200);
  await settled();
  const tickets: Record<string, string> = {};
  for (const request of github.find("POST", /\/dispatches$/)) {
    const body = request.body as { client_payload: { ticket: string } };
    tickets[request.path.split("/").slice(2, 4).join("/")] = body.client_payload.ticket;
  }
  return tickets;
}

export function report(ticket: string, overrides: Record<string, unknown> = {}) {
  return {
    schema_version: 1,
    ticket,
    status: "in_progress",
    workflow: { name: "ci", run_id: 555, run_attempt: 1, url: "https://ci.example.org/runs/555" },
    job: { name: "test (cpu, 1/2)", url: "https://ci.example.org/runs/555/jobs/1" },
    ...overrides,
  };
}

/**
 * The run's final report (`scope: run`), as the downstream workflow's last job (`report-run`, which
 * `needs:` every other job) sends it once the run is over: only then may a backend's aggregate conclude.
 */
export function runReport(ticket: string, conclusion: string, overrides: Record<string, unknown> = {}) {
  return report(ticket, { scope: "run", status: "completed", conclusion, job: { name: "report-run" }, ...overrides });
}

/** The backend's aggregate check run ("oot / <name>") on the stand-in. */
export const aggregateOf = (name: string) => [...github.checkRuns.values()].find((run) => run.name === `oot / ${name}`);

export async function post(body: unknown, token?: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...extraHeaders },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

export const tokenFor = (repository: string) => oidc.mint({ repository });
