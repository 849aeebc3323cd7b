// Upstream webhook → stored work → repository_dispatch and queued check runs, against the GitHub
// stand-in on loopback (a real HTTP server, so timing and concurrency are real).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyTicket } from "../../src/dispatch/ticket.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { deliver, startRelayAgainst, TICKET_SECRET, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const UPSTREAM_INSTALLATION = 1;

let github: GitHubStandIn;
let relay: RunningRelay | undefined;

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(UPSTREAM_INSTALLATION, [UPSTREAM]);
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  await github.close();
});

async function start(allowlist: string, env: Record<string, string> = {}): Promise<RunningRelay> {
  relay = await startRelayAgainst(github, allowlist, { UPSTREAM_REPO: UPSTREAM, ...env });
  return relay;
}

function openedPr(): Payload {
  const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  pr.pull_request.labels = [];
  return pr;
}

const dispatches = () => github.find("POST", /\/dispatches$/).filter((request) => request.status === 204);

/** The most requests the stand-in was holding open at the same moment. */
function peakOpen(requests: Array<{ receivedAt: number; respondedAt: number | undefined }>): number {
  const edges = requests.flatMap((request) => [
    { at: request.receivedAt, change: 1 },
    { at: request.respondedAt ?? Number.POSITIVE_INFINITY, change: -1 },
  ]);
  // A response written in the same millisecond as another request arrived closes first.
  edges.sort((a, b) => a.at - b.at || a.change - b.change);
  let open = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (open += edge.change));
  return peak;
}

async function settled(relay: RunningRelay): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 30_000, interval: 50 }).toMatchObject({ pending: 0 });
}

describe("dispatch end to end", () => {
  it("sends one v1 dispatch per backend with a ticket bound to it, and a queued check run where shown", async () => {
    github.install(11, ["acme/npu-backend"]);
    github.install(12, ["beta/tpu-backend"]);
    const running = await start(`L2:\n  - acme/npu-backend\nL4:\n  - beta/tpu-backend: "@tpu-oncall"\n`);
    const pr = openedPr();

    const response = await deliver(running, "pull_request", pr, "delivery-pr-1");
    expect(response.status).toBe(200);
    await settled(running);

    const sent = dispatches();
    expect(sent.map((request) => [request.path, request.installationId]).sort()).toEqual([
      ["/repos/acme/npu-backend/dispatches", 11],
      ["/repos/beta/tpu-backend/dispatches", 12],
    ]);
    const body = sent.find((request) => request.path.includes("beta"))!.body as { event_type: string; client_payload: Record<string, any> };
    expect(body.event_type).toBe("pytorch-pr-trigger");
    const payload = body.client_payload;
    expect(Object.keys(payload).length).toBeLessThanOrEqual(10);
    expect(payload).toMatchObject({
      schema_version: 1,
      delivery_id: "delivery-pr-1",
      event: { name: "pull_request", action: "opened" },
      pr_number: pr.number,
      head_sha: pr.pull_request.head.sha,
      upstream: { repo: UPSTREAM, url: pr.pull_request.html_url },
      backend: { name: "tpu-backend", level: "L4", shows_check_run: true, blocks_pr: true },
      callback_url: "http://localhost:3000/relay/callback",
    });
    expect(JSON.stringify(payload)).not.toContain(String(pr.pull_request.body).slice(0, 20));
    const ticket = await verifyTicket(payload.ticket, { current: TICKET_SECRET });
    expect(ticket).toEqual({
      ok: true,
      claims: {
        deliveryId: "delivery-pr-1",
        downstreamRepo: "beta/tpu-backend",
        upstreamRepo: "codertocat/hello-world",
        prNumber: pr.number,
        headSha: pr.pull_request.head.sha,
        level: "L4",
      },
    });

    const checkRuns = github.find("POST", /\/check-runs$/);
    expect(checkRuns).toHaveLength(1);
    expect(checkRuns[0]).toMatchObject({ path: `/repos/${UPSTREAM}/check-runs`, installationId: UPSTREAM_INSTALLATION });
    expect(checkRuns[0]!.body).toMatchObject({
      name: "oot / tpu-backend",
      head_sha: pr.pull_request.head.sha,
      status: "queued",
      external_id: "dispatch:delivery-pr-1:beta/tpu-backend",
      details_url: `${github.url}/beta/tpu-backend/actions`,
    });
  });

  it("never dispatches twice for a redelivered webhook, even after the first round was sent", async () => {
    github.install(11, ["acme/npu-backend"]);
    const running = await start(`L1:\n  - acme/npu-backend\n`);
    const pr = openedPr();
    await deliver(running, "pull_request", pr, "delivery-again");
    await settled(running);
    expect((await deliver(running, "pull_request", pr, "delivery-again")).status).toBe(200);
    await settled(running);
    expect(dispatches()).toHaveLength(1);
  });

  it("dispatches pushes to the upstream default branch with the trunk event type and no PR", async () => {
    github.install(11, ["acme/npu-backend"]);
    const running = await start(`L2:\n  - acme/npu-backend\n`, { RELAY_PUSH_EVENT_TYPE: "pytorch-trunk" });
    const push = webhookExample("push", (p) => p.ref === "refs/heads/master" && p.installation);
    await deliver(running, "push", push, "delivery-push");
    await settled(running);
    const [sent] = dispatches();
    expect(sent!.body).toMatchObject({
      event_type: "pytorch-trunk",
      client_payload: { event: { name: "push", action: null }, pr_number: null, head_sha: push.after, upstream: { ref: "master" } },
    });
    expect(github.find("POST", /\/check-runs$/)).toEqual([]);
  });

  it("records a repo without the App as failed not_installed, then skips it at planning time", async () => {
    github.install(11, ["acme/npu-backend"]);
    const running = await start(`L1:\n  - acme/npu-backend\n  - ghost/not-installed\n`);
    await deliver(running, "pull_request", openedPr(), "delivery-a");
    await settled(running);
    const second = openedPr();
    second.action = "synchronize";
    await deliver(running, "pull_request", second, "delivery-b");
    await settled(running);

    expect(dispatches().map((request) => request.path)).toEqual(["/repos/acme/npu-backend/dispatches", "/repos/acme/npu-backend/dispatches"]);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('relay_dispatches_total{outcome="failed",reason="not_installed"} 1');
    expect(metrics).toContain('relay_dispatches_total{outcome="skipped",reason="not_installed"} 1');
    expect(await (await fetch(`${running.url}/readyz`)).json()).toMatchObject({ status: "ready", checks: { dispatch: "degraded" } });
    expect((await running.dispatch?.readiness())?.details.notInstalled).toEqual(["ghost/not-installed"]);
  });

  it("learns installations from installation_repositories events", async () => {
    github.install(11, ["acme/npu-backend"]);
    const running = await start(`L1:\n  - acme/npu-backend\n  - ghost/late-installer\n`);
    await deliver(running, "pull_request", openedPr(), "delivery-before");
    await settled(running);

    github.install(31, ["ghost/late-installer"]);
    const added = webhookExample("installation_repositories", (p) => p.action === "added");
    added.installation.id = 31;
    added.repositories_added = [{ full_name: "ghost/late-installer", name: "late-installer" }];
    expect((await deliver(running, "installation_repositories", added, "delivery-install")).status).toBe(200);

    const again = openedPr();
    again.action = "synchronize";
    await deliver(running, "pull_request", again, "delivery-after");
    await settled(running);
    expect(dispatches().filter((request) => request.path === "/repos/ghost/late-installer/dispatches")).toHaveLength(1);
    expect(dispatches().find((request) => request.path.startsWith("/repos/ghost/"))!.installationId).toBe(31);
  });

  it("holds an untrusted author's PR until the trust label is added", async () => {
    github.install(11, ["acme/npu-backend"]);
    const running = await start(`L2:\n  - acme/npu-backend\n`);
    const pr = openedPr();
    pr.pull_request.author_association = "FIRST_TIME_CONTRIBUTOR";
    await deliver(running, "pull_request", pr, "delivery-untrusted");
    await settled(running);
    expect(dispatches()).toEqual([]);

    const labeled = webhookExample("pull_request", (p) => p.action === "labeled" && p.installation);
    labeled.pull_request.author_association = "FIRST_TIME_CONTRIBUTOR";
    labeled.label = { name: "ciflow/oot-approved" };
    labeled.pull_request.labels = [{ name: "ciflow/oot-approved" }];
    await deliver(running, "pull_request", labeled, "delivery-label");
    await settled(running);
    expect(dispatches()).toHaveLength(1);
    expect(dispatches()[0]!.body).toMatchObject({ client_payload: { event: { action: "labeled" } } });
  });

  it("retries 502 and a secondary rate limit (honouring Retry-After), then delivers exactly once", async () => {
    github.install(11, ["acme/npu-backend"]);
    github.script("POST", "/repos/acme/npu-backend/dispatches", [
      { status: 502, body: { message: "Bad Gateway" } },
      { status: 403, body: { message: "You have exceeded a secondary rate limit" }, headers: { "retry-after": "2" } },
    ]);
    const running = await start(`L1:\n  - acme/npu-backend\n`);
    await deliver(running, "pull_request", openedPr(), "delivery-retry");
    await settled(running);

    const attempts = github.find("POST", "/repos/acme/npu-backend/dispatches");
    expect(attempts.map((request) => request.status)).toEqual([502, 403, 204]);
    expect(attempts[2]!.receivedAt - attempts[1]!.respondedAt!).toBeGreaterThanOrEqual(2000);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('relay_outbox_retries_total{kind="dispatch",reason="secondary_rate_limit"} 1');
    expect(metrics).toContain('relay_dispatches_total{outcome="sent",reason=""} 1');
  });

  it("records a permanent failure (422) with its reason instead of retrying", async () => {
    github.install(11, ["acme/npu-backend"]);
    github.script("POST", "/repos/acme/npu-backend/dispatches", [{ status: 422, body: { message: "Invalid request" } }]);
    const running = await start(`L1:\n  - acme/npu-backend\n`);
    await deliver(running, "pull_request", openedPr(), "delivery-422");
    await settled(running);
    expect(github.find("POST", "/repos/acme/npu-backend/dispatches")).toHaveLength(1);
    expect(await (await fetch(`${running.url}/metrics`)).text()).toContain('relay_dispatches_total{outcome="failed",reason="http_422"} 1');
  });
});

describe("acknowledgement and fan-out", () => {
  const fifty = Array.from({ length: 50 }, (_, i) => `vendor${i}/backend-${i}`);
  const allowlist = `L2:\n${fifty.map((repo) => `  - ${repo}\n`).join("")}`;

  it("answers the webhook before any of 50 slow dispatches (2 s each) is answered, and all of them still arrive", async () => {
    github.install(20, fifty);
    github.setDelay("POST", /\/dispatches$/, 2000);
    // All 50 on the wire at once: one wave of the delay, not four.
    const running = await start(allowlist, { RELAY_OUTBOX_CONCURRENCY: "50" });
    const response = await deliver(running, "pull_request", openedPr(), "delivery-slow");
    // An ordering, not a stopwatch: the acknowledgement never waits for the fan-out, so no dispatch
    // can have been answered yet when it arrives (speed itself is measured in the benchmarks).
    const answeredBeforeAck = dispatches().filter((request) => request.respondedAt !== undefined);
    expect(response.status).toBe(200);
    expect(answeredBeforeAck).toEqual([]);
    await settled(running);
    expect(new Set(dispatches().map((request) => request.path)).size).toBe(50);
    expect(dispatches()).toHaveLength(50);
  }, 60_000);

  it("fans out to 50 installations in parallel (300 ms per call), each within its write budget", async () => {
    fifty.forEach((repo, i) => github.install(100 + i, [repo]));
    github.install(200, ["busy/one", "busy/two", "busy/three", "busy/four"]);
    github.setDelay("POST", /\/dispatches$/, 300);
    const running = await start(`${allowlist}  - busy/one\n  - busy/two\n  - busy/three\n  - busy/four\n`, {
      RELAY_WRITES_PER_MINUTE: "2",
      RELAY_OUTBOX_CONCURRENCY: "16",
    });
    const dispatch = running.dispatch!;
    await deliver(running, "pull_request", openedPr(), "delivery-fanout");

    // Wait for the relay to have recorded every send it may make this minute, not for the stand-in to
    // have answered them: the stand-in records a status as it writes the response, before the relay has
    // read it and marked the task sent. The webhook stored all 54 tasks at once, so pending only falls;
    // at 2 with nothing in flight, the 52 allowed sends are done and recorded and the worker is idle.
    await expect
      .poll(async () => ({ pending: ((await dispatch.readiness()).details.outbox as { pending: number }).pending, inFlight: dispatch.worker.inFlight }), {
        timeout: 45_000,
        interval: 50,
      })
      .toEqual({ pending: 2, inFlight: 0 });

    const vendors = dispatches().filter((request) => request.installationId! < 200);
    expect(vendors).toHaveLength(50);
    expect(new Set(vendors.map((request) => request.installationId)).size).toBe(50);
    // In parallel: the stand-in held each dispatch open for 300 ms and still had several open at once
    // (sent one after another, no two would overlap), never more than the worker's concurrency.
    const peak = peakOpen(github.find("POST", /\/dispatches$/));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(16);

    // The busy installation got its 2 writes this minute and no more; the rest wait in the outbox.
    const busy = github.find("POST", /\/repos\/busy\//);
    expect(busy.map((request) => request.status)).toEqual([204, 204]);
    expect((await dispatch.readiness()).details.outbox).toMatchObject({ pending: 2 });
  }, 60_000);
});
