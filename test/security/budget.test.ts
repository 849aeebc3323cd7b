// Fair and obedient use of GitHub's write budget: one backend's burst of jobs cannot starve another
// backend's check runs on the shared upstream installation, and a secondary rate limit pauses every
// write of the installation until GitHub's Retry-After has passed.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { processCallback, type CallbackSettings } from "../../src/callback/process.js";
import { CallbackBodyV1 } from "../../src/callback/schema.js";
import { OutboxWorker } from "../../src/dispatch/outbox-worker.js";
import { signTicket } from "../../src/dispatch/ticket.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { writeLimiter } from "../../src/limits/sliding-window.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { InstallationDirectory } from "../../src/installations/directory.js";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn, type RecordedRequest } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { seedDispatch } from "../helpers/state.js";
import { deliver, startRelayAgainst, tempDir, TICKET_SECRET, type RunningRelay } from "../helpers/server.js";

const UPSTREAM_INSTALLATION = 1;

const isUpstreamWrite = (request: RecordedRequest) => request.installationId === UPSTREAM_INSTALLATION && request.method !== "GET";
const outputOf = (run: Record<string, unknown> | undefined) => run?.output as { title: string; summary: string } | undefined;

describe("fair share of the upstream installation's budget (outbox worker, budget clock)", () => {
  const UPSTREAM = "pytorch/pytorch";
  const SHA = "c".repeat(40);
  const MAX_JOB_CHECKS = 20;
  const parsed = parseAllowlist(`L4:\n  - acme/a-backend: "@a"\n  - beta/b-backend: "@b"\n`);
  if (!parsed.ok) throw new Error("bad test allowlist");
  const allowlist: Allowlist = parsed.allowlist;
  const settings: CallbackSettings = {
    ticketKeys: { current: TICKET_SECRET },
    checkUpdateDelayMs: 5000, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000,
    checkPrefix: "oot",
    labelPrefix: "ciflow/oot/",
    startTimeoutMs: 3_600_000,
    maxJobChecksPerBackend: MAX_JOB_CHECKS,
    webBaseUrl: "https://github.example",
    publicUrl: "https://relay.example",
  };
  let github: GitHubStandIn;
  let store: Store;
  let worker: OutboxWorker;
  /** The worker's clock: moved by the test, so minutes of budget pass in moments. */
  let clock: number;

  beforeEach(async () => {
    github = await startGitHubStandIn();
    github.install(UPSTREAM_INSTALLATION, [UPSTREAM]);
    store = openSqliteStore(tempDir());
    clock = Date.now();
    await store.setInstallation(UPSTREAM, UPSTREAM_INSTALLATION, clock);
    const clients = installationClients(testProbot({ baseUrl: github.apiUrl }), createMetrics({ defaultMetrics: false }));
    worker = new OutboxWorker({
      store,
      clients,
      installations: new InstallationDirectory(store, clients, { log: testLog, recheckMs: 3_600_000 }),
      limiter: writeLimiter({ perMinute: 10, perHour: 500 }),
      metrics: createMetrics({ defaultMetrics: false }),
      log: testLog,
      concurrency: 4,
      maxAgeMs: 12 * 3_600_000,
      requestTimeoutMs: 5000,
      now: () => clock,
    });
  });
  afterEach(async () => {
    await worker.stop();
    await store.close();
    await github.close();
  });

  /** Lets the worker send everything it may at the current clock, and waits until it has. */
  async function settle(): Promise<void> {
    worker.notify();
    // notify() looks at the store on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    await expect.poll(() => worker.inFlight, { interval: 5, timeout: 10_000 }).toBe(0);
  }

  async function dispatched(repo: string): Promise<string> {
    const entry = allowlist.entries.find((candidate) => candidate.repo === repo)!;
    const deliveryId = `delivery-${entry.name}`;
    await seedDispatch({ store, allowlist, settings, entry, upstreamRepo: UPSTREAM, headSha: SHA, prNumber: 7, deliveryId, now: clock });
    return deliveryId;
  }

  /** A job's completed report; with `{ scope: "run" }`, the run's final report (the run is over). */
  async function report(repo: string, deliveryId: string, jobName: string, fields: Record<string, unknown> = {}): Promise<void> {
    const ticket = await signTicket(
      { deliveryId, downstreamRepo: repo, upstreamRepo: UPSTREAM, prNumber: 7, headSha: SHA, level: "L4" },
      settings.ticketKeys,
      { ttlSeconds: 3600, now: new Date(clock) },
    );
    const body = CallbackBodyV1.parse({
      schema_version: 1,
      ticket,
      workflow: { name: "ci", run_id: 9, run_attempt: 1, url: "https://ci.example/runs/9" },
      job: { name: jobName },
      status: "completed",
      conclusion: "success",
      ...fields,
    });
    const answer = await processCallback({ repo, provider: "github", claims: {} }, body, {
      store,
      upstreamCommit: () => Promise.resolve("exists"),
      upstreamRepo: UPSTREAM,
      allowlist: () => allowlist,
      settings,
      onWork: () => worker.notify(),
      now: () => clock,
    });
    expect(answer.status).toBe(200);
  }

  const aggregateOf = (name: string) => [...github.checkRuns.values()].find((run) => run.name === `oot / ${name}`);

  it("gives backend B the next free write slot while backend A's 120 jobs wait, and caps A's job check runs", async () => {
    const deliveryA = await dispatched("acme/a-backend");
    const deliveryB = await dispatched("beta/b-backend");
    await worker.start();
    await settle();
    expect(github.find("POST", /\/check-runs$/)).toHaveLength(2);

    clock += 1000;
    for (let index = 0; index < 120; index += 1) await report("acme/a-backend", deliveryA, `test (${index})`);
    // Each run ends with its run-level report: only then may its aggregate conclude.
    await report("acme/a-backend", deliveryA, "report-run", { scope: "run" });
    await settle();
    clock += 1000;
    const reportedAt = clock;
    await report("beta/b-backend", deliveryB, "test");
    await report("beta/b-backend", deliveryB, "report-run", { scope: "run" });
    await settle();
    // The minute's ten writes went to the two queued aggregates and A's burst: B waits for a slot.
    expect(github.requests.filter(isUpstreamWrite)).toHaveLength(10);
    expect(aggregateOf("b-backend")).toMatchObject({ status: "queued" });

    let landedAt: number | undefined;
    const writesBefore = github.requests.filter(isUpstreamWrite).length;
    while (landedAt === undefined && clock < reportedAt + 10 * 60_000) {
      clock += 1000;
      await settle();
      if (aggregateOf("b-backend")?.status === "completed") landedAt = clock;
    }
    // The first slots to free (a minute after the first writes) are shared: B gets one of them, not
    // the one after A's backlog (about 5 minutes of budget later).
    expect(landedAt).toBeDefined();
    expect(landedAt! - reportedAt).toBeLessThanOrEqual(60_000);
    const writesUntilB = github.requests.filter(isUpstreamWrite).slice(writesBefore);
    const bWrite = writesUntilB.findIndex((request) => (request.body as { name?: string }).name === "oot / b-backend");
    expect(bWrite).toBeLessThanOrEqual(1);
    expect(outputOf(aggregateOf("b-backend"))?.title).toBe("1 of 1 jobs passed");

    // A's own writes keep going within the budget until everything is sent.
    while ((await store.outboxStats()).pending > 0 && clock < reportedAt + 60 * 60_000) {
      clock += 5000;
      await settle();
    }
    expect((await store.outboxStats()).pending).toBe(0);
    const aJobRuns = [...github.checkRuns.values()].filter((run) => String(run.name).startsWith("oot / a-backend / "));
    expect(aJobRuns).toHaveLength(MAX_JOB_CHECKS);
    expect(aggregateOf("a-backend")).toMatchObject({ status: "completed", conclusion: "success" });
    expect(outputOf(aggregateOf("a-backend"))).toMatchObject({ title: "120 of 120 jobs passed" });
    expect(outputOf(aggregateOf("a-backend"))?.summary).toContain(`${120 - MAX_JOB_CHECKS} more jobs not shown as check runs; see the HUD: https://relay.example/hud/acme/a-backend`);
  });
});

describe("obedience to GitHub's secondary rate limit (relay server on loopback)", () => {
  const UPSTREAM = "Codertocat/Hello-World";
  const BACKENDS = ["acme/a-backend", "beta/b-backend", "gamma/c-backend"];
  const JOBS = 4;
  let github: GitHubStandIn;
  let oidc: OidcIssuer;
  let relay: RunningRelay;

  beforeEach(async () => {
    github = await startGitHubStandIn();
    oidc = await startOidcIssuer();
    github.install(UPSTREAM_INSTALLATION, [UPSTREAM]);
    BACKENDS.forEach((repo, index) => github.install(11 + index, [repo]));
    relay = await startRelayAgainst(github, `L4:\n${BACKENDS.map((repo) => `  - ${repo}: "@oncall"\n`).join("")}`, {
      UPSTREAM_REPO: UPSTREAM,
      GITHUB_OIDC_ISSUER: oidc.issuer,
      RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
      // One request on the wire at a time: every refusal is seen before the next request starts.
      RELAY_OUTBOX_CONCURRENCY: "1",
    });
  });
  afterEach(async () => {
    await relay.stop();
    await github.close();
    await oidc.close();
  });

  /** A job's completed report; with `{ scope: "run" }`, the run's final report (the run is over). */
  async function report(repo: string, ticket: string, jobName: string, fields: Record<string, unknown> = {}): Promise<void> {
    const response = await fetch(`${relay.url}/relay/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository: repo })}` },
      body: JSON.stringify({
        schema_version: 1,
        ticket,
        workflow: { name: "ci", run_id: 9, run_attempt: 1, url: "https://ci.example.org/runs/9" },
        job: { name: jobName },
        status: "completed",
        conclusion: "success",
        ...fields,
      }),
    });
    expect(response.status).toBe(200);
  }

  it("stops every write of a limited installation until Retry-After has passed, and still writes every final state", async () => {
    const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
    const sha = pr.pull_request.head.sha as string;
    github.limitWrites({ writes: 4, windowMs: 1000 });

    expect((await deliver(relay, "pull_request", pr, "burst-delivery")).status).toBe(200);
    await expect.poll(() => github.find("POST", /\/dispatches$/).length, { timeout: 20_000 }).toBe(BACKENDS.length);
    for (const dispatch of github.find("POST", /\/dispatches$/)) {
      const repo = dispatch.path.split("/").slice(2, 4).join("/");
      const ticket = (dispatch.body as { client_payload: { ticket: string } }).client_payload.ticket;
      for (let index = 0; index < JOBS; index += 1) await report(repo, ticket, `test (${index})`);
      // The run is over: its aggregate may conclude.
      await report(repo, ticket, "report-run", { scope: "run" });
    }

    // Every final state arrives: each backend's jobs and its aggregate.
    const finals = () => [...github.checkRuns.values()].filter((run) => run.head_sha === sha && run.status === "completed");
    const aggregatesDone = () => finals().filter((run) => String(run.name).split(" / ").length === 2 && outputOf(run)?.title === `${JOBS} of ${JOBS} jobs passed`);
    await expect.poll(() => [finals().length, aggregatesDone().length], { timeout: 60_000, interval: 200 }).toEqual([
      BACKENDS.length * (JOBS + 1),
      BACKENDS.length,
    ]);

    // The limit was hit, and each refusal paused the installation: no write of it reached GitHub again
    // before the Retry-After had passed, so there is at most one refusal per pause.
    expect(github.refusals.length).toBeGreaterThan(0);
    for (const refusal of github.refusals) {
      expect(refusal.status).toBe(403);
      // A one-second window always answers "retry-after: 1".
      const resumeAt = refusal.respondedAt! + 1000;
      const early = github.requests.filter(
        (request) => request.installationId === refusal.installationId && request.method !== "GET" && request.receivedAt > refusal.respondedAt! && request.receivedAt < resumeAt,
      );
      expect(early).toEqual([]);
    }
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`relay_github_pauses_total\\{reason="secondary_rate_limit"\\} ${github.refusals.length}\\b`));
  });
});
