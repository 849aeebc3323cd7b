// Check runs that end without a final report: superseded heads, closed PRs, silent jobs and backends.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { sweep } from "../../src/callback/sweeper.js";
import { recordRunEvent } from "../../src/state/runs.js";
import { recordJob } from "../../src/state/reports.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";
import { seedDispatch } from "../helpers/state.js";

const UPSTREAM = "Codertocat/Hello-World";

describe("superseded and closed pull requests", () => {
  let github: GitHubStandIn;
  let oidc: OidcIssuer;
  let relay: RunningRelay;
  let pr: Payload;
  let allowlistFile: string;

  beforeEach(async () => {
    github = await startGitHubStandIn();
    oidc = await startOidcIssuer();
    github.install(1, [UPSTREAM]);
    github.install(12, ["beta/tpu-backend"]);
    allowlistFile = path.join(tempDir(), "allowlist.yml");
    await writeFile(allowlistFile, `L4:\n  - beta/tpu-backend: "@tpu-oncall"\n`);
    // The allowlist file is rewritten by one test, so this suite keeps its own path.
    relay = await startRelayAgainst(github, "", {
      UPSTREAM_REPO: UPSTREAM,
      ALLOWLIST_FILE: allowlistFile,
      GITHUB_OIDC_ISSUER: oidc.issuer,
      RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
    });
    pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
  });
  afterEach(async () => {
    await relay.stop();
    await github.close();
    await oidc.close();
  });

  const settled = () => expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 10_000, interval: 50 }).toMatchObject({ pending: 0 });

  async function startJob(): Promise<string> {
    await deliver(relay, "pull_request", pr, "open-delivery");
    await settled();
    const ticket = (github.find("POST", /\/dispatches$/)[0]!.body as { client_payload: { ticket: string } }).client_payload.ticket;
    await postReport(ticket, { status: "in_progress" });
    await settled();
    return ticket;
  }

  async function postReport(ticket: string, fields: Record<string, unknown>): Promise<number> {
    const response = await fetch(`${relay.url}/relay/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository: "beta/tpu-backend" })}` },
      body: JSON.stringify({
        schema_version: 1,
        ticket,
        workflow: { name: "ci", run_id: 9, run_attempt: 1, url: "https://ci.example.org/runs/9" },
        job: { name: "test" },
        ...fields,
      }),
    });
    return response.status;
  }

  const runsOn = (sha: string) => [...github.checkRuns.values()].filter((run) => run.head_sha === sha);

  it("concludes the old head's running check runs as cancelled when a new commit is pushed; a later result on it is shown", async () => {
    const ticket = await startJob();
    const oldSha = pr.pull_request.head.sha as string;
    expect(runsOn(oldSha).map((run) => run.status).sort()).toEqual(["in_progress", "in_progress"]);

    const sync = webhookExample("pull_request", (p) => p.action === "synchronize");
    sync.pull_request.author_association = "MEMBER";
    sync.before = oldSha;
    sync.after = "1".repeat(40);
    sync.pull_request.head.sha = "1".repeat(40);
    expect((await deliver(relay, "pull_request", sync, "sync-delivery")).status).toBe(200);
    await settled();

    expect(runsOn(oldSha)).toHaveLength(2);
    for (const run of runsOn(oldSha)) {
      expect(run).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Superseded" } });
      expect(String((run.output as { summary: string }).summary)).toContain("1111111111");
    }
    // The new head gets its own queued aggregate.
    expect(runsOn("1".repeat(40))).toMatchObject([{ name: "oot / tpu-backend", status: "queued" }]);

    // The old run finishing later: its result is true for that commit, so the old head shows it — the
    // aggregate once the run ended (before that, one job's result says nothing about the others).
    expect(await postReport(ticket, { status: "completed", conclusion: "failure" })).toBe(200);
    await settled();
    expect(runsOn(oldSha).find((run) => run.name === "oot / tpu-backend")).toMatchObject({ conclusion: "cancelled" });
    expect(await postReport(ticket, { status: "completed", conclusion: "failure", scope: "run", job: { name: "report-run" } })).toBe(200);
    await settled();
    expect(runsOn(oldSha).map((run) => [run.name, run.conclusion]).sort()).toEqual([
      ["oot / tpu-backend / ci / test", "failure"],
      ["oot / tpu-backend", "failure"],
    ]);
    // The new head is not touched by the old run's report.
    expect(runsOn("1".repeat(40))).toMatchObject([{ name: "oot / tpu-backend", status: "queued" }]);
  });

  it("concludes a backend's open check runs neutral when the allowlist stops showing them", async () => {
    await startJob();
    await writeFile(allowlistFile, `L2:\n  - beta/tpu-backend\n`);
    await expect
      .poll(() => runsOn(pr.pull_request.head.sha).map((run) => run.conclusion), { timeout: 10_000, interval: 100 })
      .toEqual(["neutral", "neutral"]);
    expect(runsOn(pr.pull_request.head.sha)[0]).toMatchObject({ output: { title: "No longer shown" } });
  });

  it("concludes open check runs as cancelled when the PR is closed, and cancels the run in progress through the outbox", async () => {
    const ticket = await startJob();
    // GitHub fails the first cancellation: the outbox tries again.
    github.script("POST", "/repos/beta/tpu-backend/actions/runs/9/cancel", [{ status: 502, body: { message: "Bad Gateway" } }]);
    const closed = structuredClone(pr);
    closed.action = "closed";
    expect((await deliver(relay, "pull_request", closed, "close-delivery")).status).toBe(200);
    await settled();
    for (const run of runsOn(pr.pull_request.head.sha)) {
      expect(run).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Pull request closed" } });
    }
    const cancels = () => github.find("POST", "/repos/beta/tpu-backend/actions/runs/9/cancel");
    expect(cancels().map((request) => request.status)).toEqual([502, 202]);
    expect(cancels()[1]).toMatchObject({ installationId: 12 });
    // The backend got a closing notice (the check runs above did not move for it).
    const dispatches = () => github.find("POST", "/repos/beta/tpu-backend/dispatches");
    const sent = dispatches().map((request) => request.body as { event_type: string; client_payload: { event: { action: string } } });
    expect(sent.map((body) => [body.event_type, body.client_payload.event.action])).toEqual([
      ["pytorch-pr-trigger", "opened"],
      ["pytorch-pr-closed", "closed"],
    ]);
    // The notice is not the head's latest dispatch: the run's late result still counts for the closed head.
    expect(await postReport(ticket, { status: "completed", conclusion: "success" })).toBe(200);
    await settled();
    expect(runsOn(pr.pull_request.head.sha).find((run) => run.name !== "oot / tpu-backend")).toMatchObject({ status: "completed", conclusion: "success" });
    // GitHub redelivers the close: nothing is sent again.
    expect((await deliver(relay, "pull_request", closed, "close-delivery")).status).toBe(200);
    await settled();
    expect(cancels()).toHaveLength(2);
    expect(dispatches()).toHaveLength(2);

    // Reopened with the same head: the aggregate is queued again and follows new reports.
    const reopened = structuredClone(pr);
    reopened.action = "reopened";
    expect((await deliver(relay, "pull_request", reopened, "reopen-delivery")).status).toBe(200);
    await settled();
    expect(runsOn(pr.pull_request.head.sha).find((run) => run.name === "oot / tpu-backend")).toMatchObject({ status: "queued" });
  });
});

describe("sweeper", () => {
  const NOW = Date.parse("2026-11-29T12:00:00Z");
  const HOUR = 3_600_000;
  const SHA = "a".repeat(40);
  const parsed = parseAllowlist(`L4:\n  - beta/tpu-backend: "@oncall"\nL2:\n  - acme/npu-backend\nL1:\n  - gamma/hooks\n`);
  if (!parsed.ok) throw new Error("bad test allowlist");
  const allowlist = parsed.allowlist;
  const settings = { checkPrefix: "oot", labelPrefix: "ciflow/oot/", maxJobChecksPerBackend: 50, webBaseUrl: "https://github.example", publicUrl: "https://relay.example", checkUpdateDelayMs: 0, runEndWaitMs: 1_800_000, trackedRunWaitMs: 21_600_000, jobTimeoutMs: 6 * HOUR, startTimeoutMs: 2 * HOUR };
  let store: Store;

  beforeEach(() => {
    store = openSqliteStore(tempDir());
  });
  afterEach(() => store.close());

  async function dispatched(repo: string, at: number): Promise<void> {
    const entry = allowlist.entries.find((candidate) => candidate.repo === repo)!;
    await seedDispatch({ store, allowlist, settings, entry, upstreamRepo: UPSTREAM, headSha: SHA, prNumber: 5, deliveryId: `d-${repo}`, now: at, withTask: true });
    for (const task of await store.dueTasks(at, 10)) await store.markSent(task.id, { at, resultId: 77 });
  }

  it("concludes a backend that never reported as timed_out and records it once", async () => {
    await dispatched("beta/tpu-backend", NOW - 3 * HOUR);
    await dispatched("acme/npu-backend", NOW - 30 * 60_000);
    expect(await sweep(store, allowlist, settings, NOW)).toEqual({ timedOut: 0, neverReported: 1, runUnconfirmed: 0 });
    const [aggregate] = await store.dueTasks(NOW, 10);
    expect(aggregate!.request.params).toMatchObject({ status: "completed", conclusion: "timed_out", output: { title: "Backend never reported" } });
    expect((await store.dispatchLog("d-beta/tpu-backend"))[0]).toMatchObject({ outcome: "sent", reason: "never_reported" });
    expect(await sweep(store, allowlist, settings, NOW + HOUR)).toEqual({ timedOut: 0, neverReported: 0, runUnconfirmed: 0 });
    // The quieter backend gets its turn once its own start timeout passes.
    expect(await sweep(store, allowlist, settings, NOW + 2 * HOUR)).toEqual({ timedOut: 0, neverReported: 1, runUnconfirmed: 0 });
  });

  it("does not fail a backend whose run GitHub shows going (its jobs may report only at their end); a run still queued fails", async () => {
    await dispatched("beta/tpu-backend", NOW - 3 * HOUR);
    await dispatched("acme/npu-backend", NOW - 3 * HOUR);
    const context = { allowlist, settings, now: NOW - 2 * HOUR };
    await store.transaction((tx) => recordRunEvent(tx, { deliveryId: "d-beta/tpu-backend", downstreamRepo: "beta/tpu-backend" }, { runId: 40, runAttempt: 1, status: "in_progress" }, context));
    await store.transaction((tx) => recordRunEvent(tx, { deliveryId: "d-acme/npu-backend", downstreamRepo: "acme/npu-backend" }, { runId: 41, runAttempt: 1, status: "queued" }, context));
    expect(await sweep(store, allowlist, settings, NOW)).toEqual({ timedOut: 0, neverReported: 1, runUnconfirmed: 0 });
    expect((await store.dispatchLog("d-beta/tpu-backend"))[0]).toMatchObject({ reason: "run_started" });
    expect((await store.dispatchLog("d-acme/npu-backend"))[0]).toMatchObject({ reason: "never_reported" });
    expect(await store.unreportedDispatches(NOW, 10)).toEqual([]);
  });

  it("does not count a forward-only (L1) backend's silence as a failure, and settles its dispatch once", async () => {
    await dispatched("gamma/hooks", NOW - 3 * HOUR);
    expect(await sweep(store, allowlist, settings, NOW)).toEqual({ timedOut: 0, neverReported: 0, runUnconfirmed: 0 });
    expect((await store.dispatchLog("d-gamma/hooks"))[0]).toMatchObject({ outcome: "sent", reason: "reports_not_expected" });
    expect(await store.unreportedDispatches(NOW, 10)).toEqual([]);
  });

  it("times out a job in progress longer than the job timeout, with its check runs and HUD row", async () => {
    await dispatched("beta/tpu-backend", NOW - 8 * HOUR);
    await store.transaction((tx) =>
      recordJob(
        tx,
        {
          deliveryId: "d-beta/tpu-backend",
          downstreamRepo: "beta/tpu-backend",
          runId: 3,
          runAttempt: 1,
          jobName: "test",
          upstreamRepo: UPSTREAM,
          prNumber: 5,
          headSha: SHA,
          backendName: "tpu-backend",
          level: "L4",
          workflowName: "ci",
          status: "in_progress",
          startedAt: NOW - 7 * HOUR,
          fingerprint: "x",
          report: { schema_version: 1, status: "in_progress", workflow: { name: "ci", run_id: 3, run_attempt: 1, url: "https://ci/3" }, job: { name: "test" } },
          updatedAt: NOW - 7 * HOUR,
        },
        undefined,
        { allowlist, settings, now: NOW - 7 * HOUR },
      ),
    );
    expect(await sweep(store, allowlist, settings, NOW)).toEqual({ timedOut: 1, neverReported: 0, runUnconfirmed: 0 });
    const job = await store.getJob({ deliveryId: "d-beta/tpu-backend", downstreamRepo: "beta/tpu-backend", runId: 3, runAttempt: 1, jobName: "test" });
    expect(job).toMatchObject({ status: "completed", conclusion: "timed_out", executionMs: 7 * HOUR, fingerprint: "relay:timed_out" });
    const shown = async (at: number) => Object.fromEntries((await store.dueTasks(at, 10)).map((task) => [task.request.params.name, task.request.params.conclusion]));
    // The aggregate waits for word that the run ended (no run is known here), then concludes without it.
    expect(await shown(NOW + settings.checkUpdateDelayMs)).toEqual({ "oot / tpu-backend / ci / test": "timed_out", "oot / tpu-backend": undefined });
    expect((await store.pendingHudRows(10)).at(-1)!.row).toMatchObject({ conclusion: "timed_out", failure_kind: "infra" });
    const later = NOW + settings.runEndWaitMs + 1;
    expect(await sweep(store, allowlist, settings, later)).toEqual({ timedOut: 0, neverReported: 0, runUnconfirmed: 1 });
    expect((await shown(later))["oot / tpu-backend"]).toBe("timed_out");
    expect(await sweep(store, allowlist, settings, later + HOUR)).toEqual({ timedOut: 0, neverReported: 0, runUnconfirmed: 0 });
  });
});
