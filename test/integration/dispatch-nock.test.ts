// The dispatch path with GitHub played by nock: exact request bodies for each event kind the relay
// dispatches, from real @octokit/webhooks-examples payloads.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { webhookExample } from "../helpers/fixtures.js";
import { relayAgainstNock } from "../helpers/nock-relay.js";
import { deliver, type RunningRelay } from "../helpers/server.js";

const API = "https://api.github.com";
const startWithAllowlist = relayAgainstNock();

async function start(): Promise<RunningRelay> {
  // The allowlist load looks the backend's installation up once (App JWT).
  nock(API).get("/repos/acme/npu-backend/installation").reply(200, { id: 42, suspended_at: null });
  const relay = await startWithAllowlist(`L3:\n  npu:\n    acme/npu-backend: [npu-oncall]\n`);
  await expect.poll(() => nock.pendingMocks()).toEqual([]);
  return relay;
}

type Captured = { path: string; body: Record<string, any> };

function github(captured: Captured[]) {
  const capture = (uri: string, body: nock.Body) => {
    captured.push({ path: uri, body: body as Record<string, any> });
    return true;
  };
  return nock(API)
    .post("/app/installations/42/access_tokens")
    .reply(201, { token: "downstream-token" })
    .post("/repos/acme/npu-backend/dispatches", (body: nock.Body) => capture("/repos/acme/npu-backend/dispatches", body))
    .matchHeader("authorization", "token downstream-token")
    .reply(204);
}

describe("dispatch requests (nock)", () => {
  it("synchronize with the backend's label: dispatch with shows_check_run, and the queued aggregate check run", async () => {
    const running = await start();
    const captured: Captured[] = [];
    const scope = github(captured)
      .post("/app/installations/1/access_tokens")
      .reply(201, { token: "upstream-token" })
      .post("/repos/Codertocat/Hello-World/check-runs", (body: nock.Body) => {
        captured.push({ path: "check-runs", body: body as Record<string, any> });
        return true;
      })
      .reply(201, { id: 9 });
    const pr = webhookExample("pull_request", (p) => p.action === "synchronize");
    pr.pull_request.author_association = "OWNER";
    pr.pull_request.labels = [{ name: "ciflow/oot/npu" }];

    expect((await deliver(running, "pull_request", pr, "nock-sync")).status).toBe(200);
    await expect.poll(() => scope.isDone(), { timeout: 5000 }).toBe(true);

    const dispatch = captured.find((c) => c.path.endsWith("/dispatches"))!.body;
    expect(dispatch.event_type).toBe("pytorch-pr-trigger");
    expect(dispatch.client_payload).toMatchObject({
      event: { name: "pull_request", action: "synchronize" },
      pr_number: 2,
      head_sha: pr.pull_request.head.sha,
      upstream: { labels: ["ciflow/oot/npu"], labels_truncated: false, head_repo: pr.pull_request.head.repo.full_name },
      backend: { name: "npu", level: "L3", shows_check_run: true, blocks_pr: false },
    });
    expect(captured.find((c) => c.path === "check-runs")!.body).toEqual({
      name: "oot / npu",
      head_sha: pr.pull_request.head.sha,
      status: "queued",
      external_id: "dispatch:nock-sync:acme/npu-backend",
      details_url: "https://github.com/acme/npu-backend/actions",
      output: {
        title: "Dispatched to acme/npu-backend",
        summary: "The relay sent this commit to `acme/npu-backend` (L3) and is waiting for its CI to report. This check is informational.",
      },
    });
  });

  it("reopened without the label: dispatch only, no check run", async () => {
    const running = await start();
    const captured: Captured[] = [];
    const scope = github(captured);
    const pr = webhookExample("pull_request", (p) => p.action === "reopened");
    pr.pull_request.author_association = "COLLABORATOR";
    pr.pull_request.labels = [];

    await deliver(running, "pull_request", pr, "nock-reopen");
    await expect.poll(() => scope.isDone(), { timeout: 5000 }).toBe(true);
    expect(captured).toHaveLength(1);
    expect(captured[0]!.body.client_payload.backend.shows_check_run).toBe(false);
  });

  it("closed PRs and pushes to other repos send nothing", async () => {
    const running = await start();
    const closed = webhookExample("pull_request", (p) => p.action === "closed");
    const push = webhookExample("push", (p) => p.ref === "refs/heads/master");
    push.repository.full_name = "someone/else";
    for (const [name, payload, id] of [["pull_request", closed, "c"], ["push", push, "p"]] as const) {
      expect((await deliver(running, name, payload, id)).status).toBe(200);
    }
    // Net connect is disabled and no interceptor is left: any GitHub call would be an error in the log,
    // and the outbox holds nothing.
    expect((await running.dispatch?.readiness())?.details.outbox).toMatchObject({ pending: 0 });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('relay_webhooks_total{event="pull_request",outcome="ignored"} 1');
  });
});
