// Run tracking end to end: a PR is dispatched through the running relay (GitHub played by the stand-in),
// GitHub's workflow_run / workflow_job webhooks (real payloads from @octokit/webhooks-examples, edited as
// GitHub would send them for the downstream's run) and the downstream's reports arrive in the orders a
// real run produces, and the backend's aggregate check concludes only once the run is over.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const TPU = "beta/tpu-backend";
const NPU = "acme/npu-backend";
const ALLOWLIST = `
L4:
  - ${TPU}: "@tpu-oncall"
  - ${NPU}: "@npu-oncall"
`;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay;
let pr: Payload;
let deliveries = 0;

beforeEach(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  github.install(12, [TPU]);
  github.install(13, [NPU]);
  pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  pr.pull_request.labels = [];
  relay = await startRelayAgainst(github, ALLOWLIST, { UPSTREAM_REPO: UPSTREAM, GITHUB_OIDC_ISSUER: oidc.issuer, RELAY_CHECK_UPDATE_DELAY_SECONDS: "0", RELAY_HUD_FLUSH_MS: "50" });
});
afterEach(async () => {
  await relay?.stop();
  await github.close();
  await oidc.close();
});

async function settled(): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

interface Dispatched {
  ticket: string;
  deliveryId: string;
}

/** Dispatches the PR; what each backend received. */
async function dispatchPr(): Promise<Record<string, Dispatched>> {
  expect((await deliver(relay, "pull_request", pr, "pr-delivery")).status).toBe(200);
  await settled();
  const received: Record<string, Dispatched> = {};
  for (const request of github.find("POST", /\/dispatches$/)) {
    const payload = (request.body as { client_payload: { ticket: string; delivery_id: string } }).client_payload;
    received[request.path.split("/").slice(2, 4).join("/")] = { ticket: payload.ticket, deliveryId: payload.delivery_id };
  }
  return received;
}

/** A workflow_run delivery for run `runId` of `repo`, named as the reference workflow names its runs. */
async function workflowRun(repo: string, fields: { runId: number; status: string; conclusion?: string; deliveryId?: string; attempt?: number; event?: string }) {
  const payload = webhookExample("workflow_run", (p) => p.workflow_run.event === "repository_dispatch");
  const run = payload.workflow_run;
  payload.action = fields.status === "completed" ? "completed" : fields.status === "in_progress" ? "in_progress" : "requested";
  payload.repository.full_name = repo;
  Object.assign(run, {
    id: fields.runId,
    run_attempt: fields.attempt ?? 1,
    name: "PyTorch PR (out-of-tree CI)",
    event: fields.event ?? "repository_dispatch",
    status: fields.status,
    conclusion: fields.conclusion ?? null,
    display_title: `pytorch PR #1 @ ${pr.pull_request.head.sha}${fields.deliveryId ? ` [relay ${fields.deliveryId}]` : ""}`,
    html_url: `https://github.example/${repo}/actions/runs/${fields.runId}`,
  });
  const response = await deliver(relay, "workflow_run", payload, `run-${(deliveries += 1)}`);
  expect(response.status).toBe(200);
}

/** A workflow_job delivery for job `name` of run `runId`. */
async function workflowJob(repo: string, runId: number, name: string, status: string, conclusion?: string, runner = true) {
  const payload = webhookExample("workflow_job", (p) => p.action === (status === "waiting" ? "waiting" : status));
  payload.repository.full_name = repo;
  Object.assign(payload.workflow_job, {
    run_id: runId,
    run_attempt: 1,
    name,
    workflow_name: "PyTorch PR (out-of-tree CI)",
    status,
    conclusion: conclusion ?? null,
    created_at: "2026-12-06T10:00:00Z",
    started_at: status === "queued" ? "2026-12-06T10:00:00Z" : "2026-12-06T10:07:00Z",
    completed_at: status === "completed" ? "2026-12-06T10:30:00Z" : null,
    runner_name: runner && status !== "queued" ? "npu-runner-1" : null,
  });
  const response = await deliver(relay, "workflow_job", payload, `job-${(deliveries += 1)}`);
  expect(response.status).toBe(200);
}

async function report(repo: string, ticket: string, runId: number, job: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository: repo })}` },
    body: JSON.stringify({
      schema_version: 1,
      ticket,
      status: "in_progress",
      workflow: { name: "PyTorch PR (out-of-tree CI)", run_id: runId, run_attempt: 1, url: `https://github.example/${repo}/actions/runs/${runId}` },
      job: { name: job },
      ...fields,
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

const aggregate = (backend = "tpu-backend") => [...github.checkRuns.values()].find((run) => run.name === `oot / ${backend}`)!;
const checkRun = (name: string) => [...github.checkRuns.values()].find((run) => run.name === name);
const output = (run: { output?: unknown }) => run.output as { title: string; summary: string };

async function metric(event: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`relay_webhooks_total{event="${event}",outcome="${outcome}"}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("a backend's aggregate waits for its run to end", () => {
  it("4-job matrix where job 1 finishes first: in progress with k of n until GitHub says the run completed, then the worst conclusion", async () => {
    const { ticket, deliveryId } = (await dispatchPr())[TPU]!;
    await workflowRun(TPU, { runId: 70, status: "queued", deliveryId });
    for (const shard of [1, 2, 3, 4]) await workflowJob(TPU, 70, `test (${shard}/4)`, "queued");
    await settled();
    expect(aggregate()).toMatchObject({ status: "queued", output: { title: "Waiting for a runner" } });

    await workflowJob(TPU, 70, "test (1/4)", "in_progress");
    await report(TPU, ticket, 70, "test (1/4)", {});
    await report(TPU, ticket, 70, "test (1/4)", { status: "completed", conclusion: "success" });
    await settled();
    // Before run tracking, this was the moment the aggregate turned green.
    expect(aggregate()).toMatchObject({ status: "in_progress", output: { title: "1 of 4 jobs done" } });

    await report(TPU, ticket, 70, "test (2/4)", { status: "completed", conclusion: "success" });
    await report(TPU, ticket, 70, "test (3/4)", { status: "completed", conclusion: "failure" });
    await report(TPU, ticket, 70, "test (4/4)", { status: "completed", conclusion: "success" });
    await settled();
    expect(aggregate()).toMatchObject({ status: "in_progress", output: { title: "4 of 4 jobs done" } });
    expect(output(aggregate()).summary).toContain("the run has not ended on GitHub yet");

    for (const shard of [1, 2, 4]) await workflowJob(TPU, 70, `test (${shard}/4)`, "completed", "success");
    await workflowJob(TPU, 70, "test (3/4)", "completed", "failure");
    await workflowRun(TPU, { runId: 70, status: "completed", conclusion: "failure", deliveryId });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "3 of 4 jobs passed" } });

    // Queue time is GitHub's runner wait where run tracking saw it (test 1/4: queued 10:00, runner at
    // 10:07); the others reported before GitHub said they got a runner, so the relay measured theirs.
    await expect
      .poll(async () => {
        const response = await fetch(`${relay.url}/api/hud/pr/${pr.pull_request.number}`);
        if (!response.ok) return undefined;
        const view = (await response.json()) as { gating: Array<{ jobs: Array<{ jobName: string; queueMs: number | null }> }> };
        return view.gating.flatMap((box) => box.jobs).find((job) => job.jobName === "test (1/4)")?.queueMs;
      }, { timeout: 20_000, interval: 100 })
      .toBe(7 * 60_000);
  });

  it("concludes from the downstream's run-level report when GitHub's events never come (no marker, no App events)", async () => {
    const { ticket } = (await dispatchPr())[TPU]!;
    await report(TPU, ticket, 71, "test", { status: "completed", conclusion: "success" });
    await settled();
    expect(aggregate()).toMatchObject({ status: "in_progress", output: { title: "1 of 1 reported jobs done (total not known yet)" } });
    const answer = await report(TPU, ticket, 71, "report-run", { status: "completed", conclusion: "success", scope: "run", run: { jobs: 2 } });
    expect(answer).toEqual({ accepted: true, duplicate: false, run: { conclusion: "success" } });
    expect(await report(TPU, ticket, 71, "report-run", { status: "completed", conclusion: "success", scope: "run", run: { jobs: 2 } })).toEqual({ accepted: true, duplicate: true });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "success", output: { title: "1 of 1 jobs passed" } });
  });

  it("a run whose final report never comes: GitHub's workflow_run.completed concludes it, and the job that never reported its end fails as infrastructure", async () => {
    const { ticket } = (await dispatchPr())[TPU]!;
    // No marker in the run name: the first report links run 72 to the dispatch.
    await report(TPU, ticket, 72, "build", {});
    await report(TPU, ticket, 72, "test", {});
    await report(TPU, ticket, 72, "build", { status: "completed", conclusion: "success" });
    await workflowJob(TPU, 72, "build", "completed", "success");
    await workflowJob(TPU, 72, "test", "in_progress");
    await workflowJob(TPU, 72, "test", "completed", "failure");
    await settled();
    expect(aggregate()).toMatchObject({ status: "in_progress", output: { title: "1 of 2 jobs done" } });

    await workflowRun(TPU, { runId: 72, status: "completed", conclusion: "failure" });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "1 of 2 jobs passed" } });
    const test = checkRun("oot / tpu-backend / PyTorch PR (out-of-tree CI) / test")!;
    expect(test).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(output(test).summary).toContain("reported its start but never its result; GitHub concluded it `failure`");
  });

  it("a job GitHub ran that never reported appears as not reported (infrastructure) on the aggregate and in the HUD", async () => {
    const { ticket, deliveryId } = (await dispatchPr())[TPU]!;
    await workflowRun(TPU, { runId: 73, status: "in_progress", deliveryId });
    await workflowJob(TPU, 73, "test (1/2)", "in_progress");
    await workflowJob(TPU, 73, "test (2/2)", "in_progress");
    await report(TPU, ticket, 73, "test (1/2)", { status: "completed", conclusion: "success" });
    await workflowJob(TPU, 73, "test (1/2)", "completed", "success");
    await workflowJob(TPU, 73, "test (2/2)", "completed", "failure");
    await workflowRun(TPU, { runId: 73, status: "completed", conclusion: "failure", deliveryId });
    await settled();

    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "1 of 2 jobs passed" } });
    expect(output(aggregate()).summary).toContain("| PyTorch PR (out-of-tree CI) / test (2/2) | failure | 1 |");
    const silent = checkRun("oot / tpu-backend / PyTorch PR (out-of-tree CI) / test (2/2)")!;
    expect(output(silent).summary).toContain("Not reported: this job ran on GitHub but never reported its result");
    await expect
      .poll(async () => {
        const response = await fetch(`${relay.url}/api/hud/pr/${pr.pull_request.number}`);
        return response.ok ? JSON.stringify(await response.json()) : "";
      }, { timeout: 20_000, interval: 100 })
      .toMatch(/"jobName":"test \(2\/2\)"[^}]*"failureKind":"infra"|"failureKind":"infra"[^}]*"jobName":"test \(2\/2\)"/);
  });

  it("GitHub's word after the run-level report still counts: a job that failed without reporting turns a reported success red", async () => {
    const { ticket, deliveryId } = (await dispatchPr())[TPU]!;
    await workflowRun(TPU, { runId: 75, status: "in_progress", deliveryId });
    await report(TPU, ticket, 75, "test", { status: "completed", conclusion: "success" });
    await report(TPU, ticket, 75, "report-run", { status: "completed", conclusion: "success", scope: "run" });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "success" });
    await workflowJob(TPU, 75, "lint", "completed", "failure");
    await workflowRun(TPU, { runId: 75, status: "completed", conclusion: "failure", deliveryId });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "1 of 2 jobs passed" } });
  });

  it("a run cancelled because the PR moved on is no infrastructure failure: its running job ends cancelled, nothing else is recorded", async () => {
    const { ticket, deliveryId } = (await dispatchPr())[TPU]!;
    const oldSha = pr.pull_request.head.sha as string;
    await workflowRun(TPU, { runId: 76, status: "in_progress", deliveryId });
    await workflowJob(TPU, 76, "test", "in_progress");
    await report(TPU, ticket, 76, "test", {});
    const sync = structuredClone(pr);
    sync.action = "synchronize";
    sync.pull_request.head.sha = "2".repeat(40);
    expect((await deliver(relay, "pull_request", sync, "sync-delivery")).status).toBe(200);
    // The workflow's concurrency group cancels the old run; GitHub says so.
    await workflowJob(TPU, 76, "test", "completed", "cancelled");
    await workflowJob(TPU, 76, "lint", "completed", "cancelled", false);
    await workflowRun(TPU, { runId: 76, status: "completed", conclusion: "cancelled", deliveryId });
    await settled();
    const onOld = [...github.checkRuns.values()].filter((run) => run.head_sha === oldSha);
    expect(onOld.map((run) => [run.name, run.conclusion]).sort()).toEqual([
      ["oot / npu-backend", "cancelled"],
      ["oot / tpu-backend / PyTorch PR (out-of-tree CI) / test", "cancelled"],
      ["oot / tpu-backend", "cancelled"],
    ]);
    const test = onOld.find((run) => String(run.name).endsWith("/ test"))!;
    expect(output(test).summary).not.toContain("infrastructure");
  });

  it("startup_failure: the run could not start, the aggregate fails as infrastructure at once", async () => {
    const { deliveryId } = (await dispatchPr())[TPU]!;
    await workflowRun(TPU, { runId: 74, status: "completed", conclusion: "startup_failure", deliveryId });
    await settled();
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "0 of 1 jobs passed" } });
    const verdict = checkRun("oot / tpu-backend / PyTorch PR (out-of-tree CI) / (workflow run)")!;
    expect(output(verdict).summary).toContain("could not start (GitHub: `startup_failure`");
  });

  it("ignores runs that are not the relay's before touching the store: other events, unmarked untracked runs, repos not in the allowlist", async () => {
    const { deliveryId } = (await dispatchPr())[TPU]!;
    const before = await metric("workflow_run", "ignored");
    await workflowRun(TPU, { runId: 80, status: "completed", conclusion: "failure", event: "push" });
    await workflowRun(TPU, { runId: 81, status: "completed", conclusion: "failure" });
    await workflowRun("someone/else", { runId: 82, status: "completed", conclusion: "failure", deliveryId });
    await workflowJob(TPU, 83, "lint", "completed", "failure");
    expect(await metric("workflow_run", "ignored")).toBe(before + 3);
    expect(await metric("workflow_job", "ignored")).toBeGreaterThanOrEqual(1);
    await settled();
    expect(aggregate()).toMatchObject({ status: "queued" });
  });
});

describe("closing a PR cancels the runs run tracking knows of", () => {
  it("a queued run and a running run are both cancelled through the outbox, retried on a 5xx", async () => {
    const received = await dispatchPr();
    // TPU's run waits for a runner (no job reported); NPU's runs (one job reported its start).
    await workflowRun(TPU, { runId: 90, status: "queued", deliveryId: received[TPU]!.deliveryId });
    await workflowRun(NPU, { runId: 91, status: "in_progress", deliveryId: received[NPU]!.deliveryId });
    await report(NPU, received[NPU]!.ticket, 91, "test", {});
    await settled();
    github.script("POST", `/repos/${TPU}/actions/runs/90/cancel`, [{ status: 502, body: { message: "Bad Gateway" } }]);

    const closed = structuredClone(pr);
    closed.action = "closed";
    closed.pull_request.state = "closed";
    expect((await deliver(relay, "pull_request", closed, "close-delivery")).status).toBe(200);
    await settled();
    await expect.poll(() => github.find("POST", /\/actions\/runs\/\d+\/cancel$/).map((request) => request.path), { timeout: 20_000 }).toEqual(
      expect.arrayContaining([`/repos/${TPU}/actions/runs/90/cancel`, `/repos/${NPU}/actions/runs/91/cancel`]),
    );
    expect(github.find("POST", `/repos/${TPU}/actions/runs/90/cancel`)).toHaveLength(2);
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Pull request closed" } });
  });
});
