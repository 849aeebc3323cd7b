// Least privilege per side (docs/security.md "Two Apps"): with DOWNSTREAM_APP_ID set, requests to downstream
// repos go out with the downstream App's installation tokens (created with its own JWT), everything on the
// upstream repo with the primary App's. GitHub is played by nock; each JWT is checked for the App it names.
import { createHmac, generateKeyPairSync } from "node:crypto";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { cancelRunTask } from "../../src/upstream/run-cancellation.js";
import { OutboxWorker } from "../../src/dispatch/outbox-worker.js";
import { writeLimiter } from "../../src/limits/sliding-window.js";
import { loadConfig } from "../../src/config.js";
import { downstreamApp } from "../../src/installations/downstream-app.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { appInstallations } from "../../src/installations/directory.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { relayAgainstNock } from "../helpers/nock-relay.js";
import { deliver, tempDir, type RunningRelay } from "../helpers/server.js";

const API = "https://api.github.com";
const PRIMARY_APP_ID = 1; // the App startRelay configures
const DOWNSTREAM_APP_ID = 7;
const DOWNSTREAM_SECRET = "downstream-webhook-secret";
const DOWNSTREAM_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const DOWNSTREAM_ENV = {
  DOWNSTREAM_APP_ID: String(DOWNSTREAM_APP_ID),
  DOWNSTREAM_PRIVATE_KEY: DOWNSTREAM_KEY,
  DOWNSTREAM_WEBHOOK_SECRET: DOWNSTREAM_SECRET,
};

const start = relayAgainstNock();

/** The App an `Authorization: bearer <JWT>` header authenticates as (the JWT's issuer). */
function jwtApp(authorization: string): number | undefined {
  const jwt = /^bearer (\S+)$/i.exec(authorization)?.[1];
  if (!jwt) return undefined;
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as { iss?: unknown };
  return Number(claims.iss);
}

const asApp = (appId: number) => (authorization: string) => jwtApp(authorization) === appId;


function labelledPr(): Payload {
  const pr = webhookExample("pull_request", (p) => p.action === "synchronize");
  pr.pull_request.author_association = "OWNER";
  pr.pull_request.labels = [{ name: "ciflow/oot/npu" }];
  return pr;
}

/** Delivers a webhook signed with `secret` (the downstream App's deliveries). */
function deliverSigned(running: RunningRelay, name: string, payload: unknown, id: string, secret: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${running.url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": id,
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
    body,
  });
}

function installationRepositoriesAdded(installationId: number, appId: number, repo: string): Payload {
  const event = webhookExample("installation_repositories", (p) => p.action === "added");
  event.installation.id = installationId;
  event.installation.app_id = appId;
  event.repositories_added = [{ full_name: repo, name: repo.split("/")[1] }];
  return event;
}

describe("two Apps", () => {
  it("sends repository_dispatch with the downstream App's token and the check run with the primary App's", async () => {
    // Startup: the downstream repo's installation is looked up with the downstream App's JWT.
    nock(API).get("/repos/acme/npu-backend/installation").matchHeader("authorization", asApp(DOWNSTREAM_APP_ID)).reply(200, { id: 42, suspended_at: null });
    const running = await start(`L3:\n  npu:\n    acme/npu-backend: [npu-oncall]\n`, DOWNSTREAM_ENV);
    await expect.poll(() => nock.pendingMocks()).toEqual([]);

    const bodies: Record<string, any> = {};
    const capture = (name: string) => (body: nock.Body) => {
      bodies[name] = body;
      return true;
    };
    const scope = nock(API)
      .post("/app/installations/42/access_tokens")
      .matchHeader("authorization", asApp(DOWNSTREAM_APP_ID))
      .reply(201, { token: "downstream-token" })
      .post("/repos/acme/npu-backend/dispatches", capture("dispatch"))
      .matchHeader("authorization", "token downstream-token")
      .reply(204)
      .post("/app/installations/1/access_tokens")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(201, { token: "upstream-token" })
      .post("/repos/Codertocat/Hello-World/check-runs", capture("checkRun"))
      .matchHeader("authorization", "token upstream-token")
      .reply(201, { id: 9 });

    const pr = labelledPr();
    expect((await deliver(running, "pull_request", pr, "two-apps-sync")).status).toBe(200);
    await expect.poll(() => scope.isDone(), { timeout: 5000 }).toBe(true);

    expect(bodies.dispatch).toMatchObject({
      event_type: "pytorch-pr-trigger",
      client_payload: { head_sha: pr.pull_request.head.sha, backend: { name: "npu", level: "L3" } },
    });
    expect(bodies.checkRun).toMatchObject({ name: "oot / npu", head_sha: pr.pull_request.head.sha, status: "queued" });
  });

  it("follows a downstream run from the downstream App's workflow_run delivery: startup_failure concludes the aggregate", async () => {
    nock(API).get("/repos/acme/npu-backend/installation").matchHeader("authorization", asApp(DOWNSTREAM_APP_ID)).reply(200, { id: 42, suspended_at: null });
    const running = await start(`L4:\n  - acme/npu-backend: "@npu-oncall"\n`, DOWNSTREAM_ENV);
    await expect.poll(() => nock.pendingMocks()).toEqual([]);
    const dispatched = nock(API)
      .post("/app/installations/42/access_tokens")
      .reply(201, { token: "downstream-token" })
      .post("/repos/acme/npu-backend/dispatches")
      .reply(204)
      .post("/app/installations/1/access_tokens")
      .reply(201, { token: "upstream-token" })
      .post("/repos/Codertocat/Hello-World/check-runs")
      .reply(201, { id: 9 });
    const pr = labelledPr();
    expect((await deliver(running, "pull_request", pr, "two-apps-run")).status).toBe(200);
    await expect.poll(() => dispatched.isDone(), { timeout: 5000 }).toBe(true);

    const written: Record<string, any>[] = [];
    const capture = (body: nock.Body) => {
      written.push(body as Record<string, any>);
      return true;
    };
    // Check-run writes caused by a downstream event look the upstream installation up (the event does not name it).
    const concluded = nock(API)
      .get("/repos/Codertocat/Hello-World/installation")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(200, { id: 1, suspended_at: null })
      .post("/app/installations/1/access_tokens")
      .optionally()
      .reply(201, { token: "upstream-token" })
      .patch("/repos/Codertocat/Hello-World/check-runs/9", capture)
      .matchHeader("authorization", "token upstream-token")
      .reply(200, { id: 9 })
      .post("/repos/Codertocat/Hello-World/check-runs", capture)
      .matchHeader("authorization", "token upstream-token")
      .reply(201, { id: 10 });
    const run = webhookExample("workflow_run", (p) => p.workflow_run.event === "repository_dispatch");
    run.repository.full_name = "acme/npu-backend";
    Object.assign(run.workflow_run, { id: 501, run_attempt: 1, status: "completed", conclusion: "startup_failure", display_title: "pytorch PR [relay two-apps-run]" });
    expect((await deliverSigned(running, "workflow_run", run, "downstream-run-1", DOWNSTREAM_SECRET)).status).toBe(200);
    await expect.poll(() => concluded.isDone(), { timeout: 5000 }).toBe(true);
    expect(written).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: "completed", conclusion: "failure", output: expect.objectContaining({ title: "0 of 1 jobs passed" }) }),
        expect.objectContaining({ name: "oot / npu-backend / workflow / (workflow run)", status: "completed", conclusion: "failure" }),
      ]),
    );
  });

  it("without a downstream App, the one App looks up, and gets the token for, the downstream repo", async () => {
    nock(API).get("/repos/acme/npu-backend/installation").matchHeader("authorization", asApp(PRIMARY_APP_ID)).reply(200, { id: 42, suspended_at: null });
    const running = await start(`L2:\n  - acme/npu-backend\n`);
    await expect.poll(() => nock.pendingMocks()).toEqual([]);
    const scope = nock(API)
      .post("/app/installations/42/access_tokens")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(201, { token: "only-app-token" })
      .post("/repos/acme/npu-backend/dispatches")
      .matchHeader("authorization", "token only-app-token")
      .reply(204);

    expect((await deliver(running, "pull_request", labelledPr(), "one-app")).status).toBe(200);
    await expect.poll(() => scope.isDone(), { timeout: 5000 }).toBe(true);
  });

  it("learns the downstream App's installations from its own webhooks; the primary App's never overwrite them", async () => {
    nock(API).get("/repos/ghost/late-installer/installation").matchHeader("authorization", asApp(DOWNSTREAM_APP_ID)).reply(404, { message: "Not Found" });
    const running = await start(`L2:\n  - ghost/late-installer\n`, DOWNSTREAM_ENV);
    await expect.poll(() => nock.pendingMocks()).toEqual([]);
    await expect.poll(async () => (await (await fetch(`${running.url}/readyz`)).json())).toMatchObject({ checks: { dispatch: "degraded" } });

    // The downstream App is installed (its delivery, its secret); the primary App too, by another installation.
    const downstreamAdded = installationRepositoriesAdded(77, DOWNSTREAM_APP_ID, "ghost/late-installer");
    expect((await deliverSigned(running, "installation_repositories", downstreamAdded, "ds-added", DOWNSTREAM_SECRET)).status).toBe(200);
    expect((await deliver(running, "installation_repositories", installationRepositoriesAdded(55, PRIMARY_APP_ID, "ghost/late-installer"), "primary-added")).status).toBe(200);
    expect(await (await fetch(`${running.url}/readyz`)).json()).toMatchObject({ checks: { dispatch: "ready" } });

    // Other events signed with the downstream App's secret start nothing (net connect is off: a dispatch would fail).
    expect((await deliverSigned(running, "pull_request", labelledPr(), "ds-pr", DOWNSTREAM_SECRET)).status).toBe(200);
    expect(await (await fetch(`${running.url}/metrics`)).text()).not.toContain('relay_webhooks_total{event="pull_request"');

    const scope = nock(API)
      .post("/app/installations/77/access_tokens")
      .matchHeader("authorization", asApp(DOWNSTREAM_APP_ID))
      .reply(201, { token: "late-token" })
      .post("/repos/ghost/late-installer/dispatches")
      .matchHeader("authorization", "token late-token")
      .reply(204);
    expect((await deliver(running, "pull_request", labelledPr(), "primary-pr")).status).toBe(200);
    await expect.poll(() => scope.isDone(), { timeout: 5000 }).toBe(true);
  });
});

describe("installations and clients per side", () => {
  function sides() {
    const config = loadConfig({ UPSTREAM_REPO: "Codertocat/Hello-World", ALLOWLIST_REPO: "pytorch/relay-config", ...DOWNSTREAM_ENV });
    const metrics = createMetrics({ defaultMetrics: false });
    const store = openSqliteStore(tempDir());
    const { installations, clients } = appInstallations(store, installationClients(testProbot(), metrics), {
      log: testLog,
      recheckMs: 600_000,
      downstream: downstreamApp(config, metrics, testLog),
    });
    return { store, installations, clients };
  }

  it("cancels a downstream run (an outbox task) as the downstream App, after looking its installation up with that App's JWT", async () => {
    const { store, installations, clients } = sides();
    const scope = nock(API)
      .get("/repos/acme/npu-backend/installation")
      .matchHeader("authorization", asApp(DOWNSTREAM_APP_ID))
      .reply(200, { id: 42, suspended_at: null })
      .post("/app/installations/42/access_tokens")
      .matchHeader("authorization", asApp(DOWNSTREAM_APP_ID))
      .reply(201, { token: "downstream-token" })
      .post("/repos/acme/npu-backend/actions/runs/5/cancel")
      .matchHeader("authorization", "token downstream-token")
      .reply(202, {});
    await store.acceptDelivery({ id: "close-1", event: "pull_request", payloadHash: "h" }, { tasks: [cancelRunTask("acme/npu-backend", 5)], log: [] }, Date.now());
    const worker = new OutboxWorker({
      store,
      clients,
      installations,
      limiter: writeLimiter({ perMinute: 80, perHour: 500 }),
      metrics: createMetrics({ defaultMetrics: false }),
      log: testLog,
      concurrency: 4,
      maxAgeMs: 3_600_000,
      requestTimeoutMs: 5000,
    });
    await worker.start();
    await expect.poll(async () => (await store.outboxStats()).pending, { timeout: 5000 }).toBe(0);
    await worker.stop();
    expect(scope.isDone()).toBe(true);
    expect(await store.taskByKey("cancel:acme/npu-backend:5")).toMatchObject({ attempts: 1 });
    await store.close();
  });

  it("keeps the upstream and config repos with the primary App", async () => {
    const { store, installations, clients } = sides();
    const scope = nock(API)
      .get("/repos/Codertocat/Hello-World/installation")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(200, { id: 1, suspended_at: null })
      .get("/repos/pytorch/relay-config/installation")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(200, { id: 1, suspended_at: null })
      .post("/app/installations/1/access_tokens")
      .matchHeader("authorization", asApp(PRIMARY_APP_ID))
      .reply(201, { token: "upstream-token" })
      .get("/repos/Codertocat/Hello-World/commits/abc")
      .matchHeader("authorization", "token upstream-token")
      .reply(200, { sha: "abc" });
    expect(await installations.resolve("Codertocat/Hello-World")).toBe(1);
    expect(await installations.resolve("pytorch/relay-config")).toBe(1);
    expect(await installations.isDownstream(1)).toBe(false);
    await (await clients.get(1)).request("GET /repos/{owner}/{repo}/commits/{ref}", { owner: "Codertocat", repo: "Hello-World", ref: "abc" });
    expect(scope.isDone()).toBe(true);
    await store.close();
  });
});
