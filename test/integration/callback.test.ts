// POST /relay/callback end to end: a PR is dispatched through the running relay (GitHub played by
// the stand-in), the downstream reports with an OIDC token from a local issuer and the ticket it
// received, and the relay turns the reports into check runs updated in place.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_FILE } from "../../src/store/sqlite-store.js";
import { signTicket } from "../../src/dispatch/ticket.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { UNBOUND_NOTE } from "../../src/callback/legacy.js";
import { crcrBlockingRepos, downstreamRepoFromCheckRunName, torchciEntries } from "../helpers/torchci-allowlist.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, tempDir, TICKET_SECRET, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const ALLOWLIST = `
L1:
  - one/l1-backend
L3:
  npu:
    acme/npu-backend: [npu-oncall]
L4:
  - beta/tpu-backend: "@tpu-oncall"
`;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay;
let pr: Payload;

async function start(env: Record<string, string> = {}): Promise<void> {
  relay = await startRelayAgainst(github, ALLOWLIST, {
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_CHECK_UPDATE_DELAY_SECONDS: "1",
    ...env,
  });
}

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

async function settled(): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

/** Dispatches the PR and returns the ticket each backend received. */
async function dispatchPr(): Promise<Record<string, string>> {
  expect((await deliver(relay, "pull_request", pr, "cb-delivery")).status).toBe(200);
  await settled();
  const tickets: Record<string, string> = {};
  for (const request of github.find("POST", /\/dispatches$/)) {
    const body = request.body as { client_payload: { ticket: string } };
    tickets[request.path.split("/").slice(2, 4).join("/")] = body.client_payload.ticket;
  }
  return tickets;
}

function report(ticket: string, overrides: Record<string, unknown> = {}) {
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
function runReport(ticket: string, conclusion: string, overrides: Record<string, unknown> = {}) {
  return report(ticket, { scope: "run", status: "completed", conclusion, job: { name: "report-run" }, ...overrides });
}

/** The backend's aggregate check run ("oot / <name>") on the stand-in. */
const aggregateOf = (name: string) => [...github.checkRuns.values()].find((run) => run.name === `oot / ${name}`);

async function post(body: unknown, token?: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...extraHeaders },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const tokenFor = (repository: string) => oidc.mint({ repository });

describe("callback → job lifecycle → check runs", () => {
  it("creates the job's check run, updates it and the aggregate in place, and ends with the worst conclusion", async () => {
    await start();
    const tickets = await dispatchPr();
    const token = await tokenFor("beta/tpu-backend");

    expect((await post(report(tickets["beta/tpu-backend"]!), token)).json).toMatchObject({ accepted: true, duplicate: false, job: { status: "in_progress" } });
    await settled();
    const completed = report(tickets["beta/tpu-backend"]!, {
      status: "completed",
      conclusion: "failure",
      failure_kind: "test",
      tests: { total: 10, passed: 8, failed: 2, skipped: 0 },
      failed_tests: ["test_ops.py::test_add", "test_ops.py::test_mul"],
    });
    expect((await post(completed, token)).json).toMatchObject({ accepted: true, job: { status: "completed", conclusion: "failure" } });
    expect((await post(completed, token)).json).toEqual({ accepted: true, duplicate: true });
    const backwards = await post(report(tickets["beta/tpu-backend"]!), token);
    expect(backwards.status).toBe(409);
    expect(backwards.json.error).toContain("already completed");
    await settled();
    // Every reported job is done, but the run is not known to be over: the aggregate waits for it.
    expect(aggregateOf("tpu-backend")).toMatchObject({ status: "in_progress", output: { title: "1 of 1 reported jobs done (total not known yet)" } });
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "failure"), token)).json).toEqual({ accepted: true, duplicate: false, run: { conclusion: "failure" } });
    await settled();

    const runs = [...github.checkRuns.values()];
    const job = runs.find((run) => run.name === "oot / tpu-backend / ci / test (cpu, 1/2)")!;
    const aggregate = runs.find((run) => run.name === "oot / tpu-backend")!;
    expect(runs).toHaveLength(2);
    expect(job).toMatchObject({ status: "completed", conclusion: "failure", details_url: "https://ci.example.org/runs/555/jobs/1", external_id: "run:beta/tpu-backend:555" });
    expect(aggregate).toMatchObject({ status: "completed", conclusion: "failure", head_sha: pr.pull_request.head.sha });
    const jobOutput = job.output as { title: string; summary: string };
    expect(jobOutput.title).toBe("failure — 8 passed, 2 failed, 0 skipped");
    expect(jobOutput.summary).toContain("`test_ops.py::test_mul`");
    expect(jobOutput.summary).toContain("**Failure kind:** test");
    expect(jobOutput.summary).toContain("[workflow run](https://ci.example.org/runs/555)");
    expect(jobOutput.summary).toContain("[HUD](http://localhost:3000/hud/beta/tpu-backend)");
    // Created once each, then only updated in place.
    expect(github.find("POST", /\/check-runs$/)).toHaveLength(2);
    expect(github.find("PATCH", /\/check-runs\/\d+$/).length).toBeGreaterThanOrEqual(2);

    // Latency histograms an operator alerts on: webhook answers, callbacks, GitHub requests by route template.
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    const count = (series: string) => Number(new RegExp(`^${series.replace(/[{}()[\]|.*+?^$\\]/g, "\\$&")} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
    expect(count('relay_webhook_seconds_count{status="200"}')).toBe(1);
    expect(count('relay_callback_seconds_count{route="relay",status="200"}')).toBe(4);
    expect(count('relay_callback_seconds_count{route="relay",status="409"}')).toBe(1);
    expect(count('relay_github_request_seconds_count{route="POST /repos/{owner}/{repo}/dispatches",status="204"}')).toBe(3);
    expect(count('relay_github_request_seconds_count{route="POST /repos/{owner}/{repo}/check-runs",status="201"}')).toBe(2);
  });

  it("shows nothing on the PR for an L3 backend without its label, and ignores L1 reports with 202", async () => {
    await start();
    const tickets = await dispatchPr();
    const npu = await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "success" }), await tokenFor("acme/npu-backend"));
    expect(npu.status).toBe(200);
    const l1 = await post(report(tickets["one/l1-backend"]!, { status: "completed", conclusion: "success" }), await tokenFor("one/l1-backend"));
    expect(l1).toMatchObject({ status: 202, json: { accepted: true, ignored: "one/l1-backend is L1: results are not shown upstream" } });
    await settled();
    expect([...github.checkRuns.values()].map((run) => run.name)).toEqual(["oot / tpu-backend"]);
  });
});

describe("RELAY_NONBLOCKING_FAILURE_CONCLUSION=neutral", () => {
  it("shows an L3 backend's failures as neutral on its job and aggregate check runs, and leaves L4 failures red", async () => {
    await start({ RELAY_NONBLOCKING_FAILURE_CONCLUSION: "neutral" });
    pr.pull_request.labels = [{ name: "ciflow/oot/npu" }];
    const tickets = await dispatchPr();
    const failed = { status: "completed", conclusion: "failure", failure_kind: "test", tests: { total: 4, passed: 3, failed: 1, skipped: 0 } };
    const npu = await post(report(tickets["acme/npu-backend"]!, failed), await tokenFor("acme/npu-backend"));
    // The callback answer and the stored job keep what the backend reported.
    expect(npu.json).toMatchObject({ accepted: true, job: { status: "completed", conclusion: "failure" } });
    const tpu = await post(report(tickets["beta/tpu-backend"]!, failed), await tokenFor("beta/tpu-backend"));
    expect(tpu.json).toMatchObject({ accepted: true, job: { conclusion: "failure" } });
    await settled();
    // The aggregates conclude once each run is over (its run-level report), not before.
    expect([aggregateOf("npu")?.status, aggregateOf("tpu-backend")?.status]).toEqual(["in_progress", "in_progress"]);
    expect((await post(runReport(tickets["acme/npu-backend"]!, "failure"), await tokenFor("acme/npu-backend"))).status).toBe(200);
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "failure"), await tokenFor("beta/tpu-backend"))).status).toBe(200);
    await settled();

    const byName = new Map([...github.checkRuns.values()].map((run) => [run.name as string, run]));
    expect(byName.get("oot / npu / ci / test (cpu, 1/2)")).toMatchObject({ status: "completed", conclusion: "neutral" });
    expect(byName.get("oot / npu")).toMatchObject({ status: "completed", conclusion: "neutral" });
    // Only the conclusion changes: the title still says what failed.
    expect((byName.get("oot / npu / ci / test (cpu, 1/2)")!.output as { title: string }).title).toBe("failure — 3 passed, 1 failed, 0 skipped");
    expect(byName.get("oot / tpu-backend / ci / test (cpu, 1/2)")).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(byName.get("oot / tpu-backend")).toMatchObject({ status: "completed", conclusion: "failure" });
  });
});

describe("trunk baseline", () => {
  const trunkPush = () => {
    const push = webhookExample("push", (payload) => payload.ref === "refs/heads/master" && payload.installation);
    return { ...push, installation: { id: 1 } };
  };
  const TRUNK_SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
  const SAME_TEST = "test_ops.py::test_add";
  const jobReport = (ticket: string, job: string, conclusion: string, failedTests: string[] = []) =>
    report(ticket, { status: "completed", conclusion, job: { name: job }, ...(failedTests.length > 0 && { failed_tests: failedTests }) });

  /**
   * tpu-backend (L4) on trunk: `test (cpu, 1/2)` fails SAME_TEST, `test (cpu, 2/2)` passes. Then the PR is
   * dispatched and tpu-backend reports `prJobs` ([job, conclusion, failed tests]) and the run's end.
   */
  let prTickets: Record<string, string> = {};
  async function trunkThenPr(prJobs: Array<[string, string, string[]]>): Promise<Map<string, Record<string, unknown>>> {
    const token = await tokenFor("beta/tpu-backend");
    expect((await deliver(relay, "push", trunkPush(), "push-delivery")).status).toBe(200);
    await settled();
    const pushDispatch = github.find("POST", /beta\/tpu-backend\/dispatches$/)[0]!.body as { client_payload: { ticket: string } };
    const trunkTicket = pushDispatch.client_payload.ticket;
    expect((await post(jobReport(trunkTicket, "test (cpu, 1/2)", "failure", [SAME_TEST]), token)).status).toBe(200);
    expect((await post(jobReport(trunkTicket, "test (cpu, 2/2)", "success"), token)).status).toBe(200);
    // Trunk results make no check runs.
    expect(github.checkRuns.size).toBe(0);

    const tickets = await dispatchPr();
    prTickets = tickets;
    for (const [job, conclusion, failedTests] of prJobs) {
      expect((await post(jobReport(tickets["beta/tpu-backend"]!, job, conclusion, failedTests), token)).status).toBe(200);
    }
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "failure"), token)).status).toBe(200);
    await settled();
    return new Map([...github.checkRuns.values()].map((run) => [run.name as string, run]));
  }
  const outputOf = (run: Record<string, unknown> | undefined) => run?.output as { title: string; summary: string };

  it("marks a PR job failing the way trunk does; with RELAY_TRUNK_FAILURE_CONCLUSION=neutral the L4 aggregate does not block", async () => {
    await start({ RELAY_TRUNK_FAILURE_CONCLUSION: "neutral" });
    const runs = await trunkThenPr([
      ["test (cpu, 1/2)", "failure", [SAME_TEST]],
      ["test (cpu, 2/2)", "success", []],
    ]);
    const job = runs.get("oot / tpu-backend / ci / test (cpu, 1/2)");
    expect(job).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(outputOf(job).title).toBe("failure (also failing on trunk)");
    expect(outputOf(job).summary).toContain(`**Trunk:** Also failing on trunk ([6113728](http://${github.host}/Codertocat/Hello-World/commit/${TRUNK_SHA}), the same 1 test).`);
    const aggregate = runs.get("oot / tpu-backend");
    expect(aggregate).toMatchObject({ status: "completed", conclusion: "neutral" });
    expect(outputOf(aggregate).title).toBe("1 of 2 jobs passed; the failures are trunk's too");
    expect(outputOf(aggregate).summary).toContain("**Every failed job also fails on trunk**");
    expect(outputOf(aggregate).summary).toContain("| ci / test (cpu, 1/2) | failure · also failing on trunk | 1 |");
    // The merge gate agrees with the check run, and says which failure is trunk's.
    const gate = (await (await fetch(`${relay.url}/api/gate/Codertocat/Hello-World/pull/${pr.pull_request.number}`)).json()) as Record<string, unknown>;
    expect(gate).toMatchObject({ verdict: "clear", blocking: [] });
    expect((gate.backends as Array<Record<string, unknown>>)[0]).toMatchObject({
      name: "tpu-backend",
      state: "passed",
      conclusion: "neutral",
      failedJobs: [{ workflowName: "ci", jobName: "test (cpu, 1/2)", conclusion: "failure", alsoOnTrunk: true, trunkSha: TRUNK_SHA }],
    });
  });

  it("a failure new with the PR (a job passing on trunk, a new failed test) keeps the L4 aggregate failed under the policy", async () => {
    await start({ RELAY_TRUNK_FAILURE_CONCLUSION: "neutral" });
    const runs = await trunkThenPr([
      ["test (cpu, 1/2)", "failure", [SAME_TEST, "test_ops.py::test_new"]],
      ["test (cpu, 2/2)", "failure", ["test_nn.py::test_conv"]],
    ]);
    const partly = runs.get("oot / tpu-backend / ci / test (cpu, 1/2)");
    expect(outputOf(partly).title).toBe("failure");
    expect(outputOf(partly).summary).toContain("Also failing on trunk ([6113728]");
    expect(outputOf(partly).summary).toContain("but 1 failed test is new with this change.");
    const fresh = runs.get("oot / tpu-backend / ci / test (cpu, 2/2)");
    expect(outputOf(fresh).title).toBe("failure");
    expect(outputOf(fresh).summary).toContain("**Trunk:** Passing on trunk ([6113728]");
    const aggregate = runs.get("oot / tpu-backend");
    expect(aggregate).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(outputOf(aggregate).title).toBe("0 of 2 jobs passed");
    expect(outputOf(aggregate).summary).toContain("| ci / test (cpu, 1/2) | failure | 1 |");
    expect(outputOf(aggregate).summary).toContain("| ci / test (cpu, 2/2) | failure | 1 |");
  });

  it("RELAY_ONCALL_COMMENTS=on: one comment per head and backend, mentioning the oncalls, edited in place as jobs fail and are fixed", async () => {
    await start({ RELAY_ONCALL_COMMENTS: "on" });
    await trunkThenPr([["test (cpu, 1/2)", "failure", [SAME_TEST]]]);
    const sha = String(pr.pull_request.head.sha);
    const token = await tokenFor("beta/tpu-backend");
    const commit = `[\`${sha.slice(0, 7)}\`](http://${github.host}/Codertocat/Hello-World/commit/${sha})`;
    const runLink = `http://${github.host}/beta/tpu-backend/actions/runs/555`;
    const links = `[HUD](http://localhost:3000/hud/pr/${pr.pull_request.number}?sha=${sha}) · this comment is kept up to date by the relay.`;
    expect([...github.comments.values()]).toEqual([
      {
        id: 9001,
        repo: "codertocat/hello-world",
        issue_number: pr.pull_request.number,
        body: `<!-- relay-oncall:beta/tpu-backend:${sha} -->
**\`tpu-backend\` (L4) has 1 failed job on ${commit}** cc @tpu-oncall

| job | result | attempt | trunk |
|---|---|---|---|
| [\`ci / test (cpu, 1/2)\`](${runLink}) | failure | 1 | also failing on trunk |

Every failed job also fails on trunk (the backend's latest results on the default branch): likely not this change.

1 of 1 reported jobs of \`beta/tpu-backend\` failed. ${links}`,
      },
    ]);

    // A second failure edits the same comment; a job name cannot mention anyone or break the table.
    expect((await post(jobReport(prTickets["beta/tpu-backend"]!, "lint @someone | x", "failure"), token)).status).toBe(200);
    await settled();
    expect(github.find("POST", /\/issues\/\d+\/comments$/)).toHaveLength(1);
    expect(github.find("PATCH", /\/repos\/Codertocat\/Hello-World\/issues\/comments\/9001$/)).toHaveLength(1);
    const twoFailed = github.comments.get(9001)!.body;
    expect(twoFailed).toContain("has 2 failed jobs on");
    expect(twoFailed).toContain(`| [\`ci / lint @someone \\| x\`](${runLink}) | failure | 1 | — |`);
    expect(twoFailed).toContain("1 of the 2 failed jobs also fail on trunk.");

    // Re-runs pass: the comment says so, and mentions nobody again.
    for (const job of ["test (cpu, 1/2)", "lint @someone | x"]) {
      const rerun = report(prTickets["beta/tpu-backend"]!, { status: "completed", conclusion: "success", job: { name: job }, workflow: { name: "ci", run_id: 555, run_attempt: 2, url: "https://ci.example.org/runs/555" } });
      expect((await post(rerun, token)).status).toBe(200);
    }
    await settled();
    expect(github.comments.get(9001)!.body).toBe(
      `<!-- relay-oncall:beta/tpu-backend:${sha} -->\n**\`tpu-backend\` (L4) has no failed job on ${commit} any more** (a re-run passed). ${links}`,
    );
    expect(github.comments.size).toBe(1);
    // A report that does not change what the comment says (one more passing job) writes nothing.
    const patches = github.find("PATCH", /\/issues\/comments\/\d+$/).length;
    expect((await post(jobReport(prTickets["beta/tpu-backend"]!, "docs", "success"), token)).status).toBe(200);
    await settled();
    expect(github.find("PATCH", /\/check-runs\/\d+$/).length).toBeGreaterThan(0);
    expect(github.find("PATCH", /\/issues\/comments\/\d+$/)).toHaveLength(patches);
  });

  it("RELAY_ONCALL_COMMENTS=on: no comment for an L3 backend without its label, nor for a passing one", async () => {
    await start({ RELAY_ONCALL_COMMENTS: "on" });
    const tickets = await dispatchPr();
    expect((await post(jobReport(tickets["acme/npu-backend"]!, "test", "failure"), await tokenFor("acme/npu-backend"))).status).toBe(200);
    expect((await post(jobReport(tickets["beta/tpu-backend"]!, "test", "success"), await tokenFor("beta/tpu-backend"))).status).toBe(200);
    await settled();
    expect(github.find("POST", /\/issues\/\d+\/comments$/)).toEqual([]);
  });

  it("without the policy, trunk's failures still block the L4 aggregate, marked as trunk's", async () => {
    await start();
    const runs = await trunkThenPr([
      ["test (cpu, 1/2)", "failure", [SAME_TEST]],
      ["test (cpu, 2/2)", "success", []],
    ]);
    expect(outputOf(runs.get("oot / tpu-backend / ci / test (cpu, 1/2)")).title).toBe("failure (also failing on trunk)");
    const aggregate = runs.get("oot / tpu-backend");
    expect(aggregate).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(outputOf(aggregate).title).toBe("1 of 2 jobs passed");
    expect(outputOf(aggregate).summary).not.toContain("Every failed job also fails on trunk");
    expect(outputOf(aggregate).summary).toContain("| ci / test (cpu, 1/2) | failure · also failing on trunk | 1 |");
  });
});

describe("oncall webhook (RELAY_ONCALL_WEBHOOKS)", () => {
  it("posts one Slack-compatible message per head and backend when it first fails, retrying a refusal", async () => {
    const received: Array<{ path: string; type: string | undefined; body: unknown }> = [];
    let refusals = 1;
    const hook = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({ path: request.url ?? "", type: request.headers["content-type"], body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        response.statusCode = refusals-- > 0 ? 503 : 200;
        response.end("ok");
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = hook.address() as AddressInfo;
      await start({ RELAY_ONCALL_WEBHOOKS: JSON.stringify({ "Beta/TPU-Backend": `http://127.0.0.1:${port}/services/T1/secret` }) });
      const tickets = await dispatchPr();
      const token = await tokenFor("beta/tpu-backend");
      const failed = (job: string) => report(tickets["beta/tpu-backend"]!, { status: "completed", conclusion: "failure", job: { name: job } });
      expect((await post(failed("test (cpu, 1/2)"), token)).status).toBe(200);
      await settled();
      const sha = String(pr.pull_request.head.sha);
      const message = {
        path: "/services/T1/secret",
        type: "application/json",
        body: {
          text: `tpu-backend (L4) has failed jobs on <http://${github.host}/Codertocat/Hello-World/pull/${pr.pull_request.number}|Codertocat/Hello-World#${pr.pull_request.number}> (commit ${sha.slice(0, 7)}). Oncall: tpu-oncall. <http://localhost:3000/hud/pr/${pr.pull_request.number}?sha=${sha}|Results>`,
        },
      };
      // Refused once (503), then delivered: the same message twice.
      expect(received).toEqual([message, message]);
      // More failures on the same head send nothing more; the message went to the webhook, not to GitHub.
      expect((await post(failed("test (cpu, 2/2)"), token)).status).toBe(200);
      expect((await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "failure" }), await tokenFor("acme/npu-backend"))).status).toBe(200);
      await settled();
      expect(received).toHaveLength(2);
      expect(github.requests.some((request) => request.path.includes("/services/"))).toBe(false);
    } finally {
      await new Promise((resolve) => hook.close(resolve));
    }
  });
});

describe("merge gate (GET /api/gate/<owner>/<repo>/pull/<n>)", () => {
  const gate = async (path = `/api/gate/Codertocat/Hello-World/pull/${pr.pull_request.number}`) => {
    const response = await fetch(`${relay.url}${path}`);
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const backendOf = (view: Record<string, unknown>, name: string) => (view.backends as Array<Record<string, unknown>>).find((backend) => backend.name === name);

  it("answers through a PR's life: not seen, queued, failed, re-run, passed; L3 failures never block", async () => {
    await start();
    pr.pull_request.labels = [{ name: "ciflow/oot/npu" }];
    expect((await gate()).status).toBe(404);
    const tickets = await dispatchPr();
    const sha = String(pr.pull_request.head.sha);

    const queued = await gate();
    expect(queued.status).toBe(200);
    expect(queued.json).toMatchObject({ schemaVersion: 1, upstreamRepo: "Codertocat/Hello-World", prNumber: pr.pull_request.number, headSha: sha, headState: "open", verdict: "blocked" });
    expect((queued.json.blocking as Array<Record<string, unknown>>).map((backend) => [backend.name, backend.state])).toEqual([["tpu-backend", "pending"]]);
    expect(backendOf(queued.json, "tpu-backend")).toEqual({
      name: "tpu-backend",
      downstreamRepo: "beta/tpu-backend",
      level: "L4",
      blocksMerge: true,
      state: "pending",
      conclusion: null,
      title: "Dispatched to beta/tpu-backend",
      checkRunName: "oot / tpu-backend",
      failedJobs: [],
    });
    // L1 backends are not on the PR; the labelled L3 one is, without blocking.
    expect((queued.json.backends as Array<Record<string, unknown>>).map((backend) => backend.name)).toEqual(["tpu-backend", "npu"]);

    const tpu = await tokenFor("beta/tpu-backend");
    const npu = await tokenFor("acme/npu-backend");
    const failed = (ticket: string, attempt = 1, conclusion = "failure") =>
      report(ticket, { status: "completed", conclusion, workflow: { name: "ci", run_id: 555, run_attempt: attempt, url: "https://ci.example.org/runs/555" } });
    expect((await post(failed(tickets["beta/tpu-backend"]!), tpu)).status).toBe(200);
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "failure"), tpu)).status).toBe(200);
    expect((await post(failed(tickets["acme/npu-backend"]!), npu)).status).toBe(200);
    expect((await post(runReport(tickets["acme/npu-backend"]!, "failure"), npu)).status).toBe(200);
    const red = (await gate()).json;
    expect(red.verdict).toBe("blocked");
    expect(backendOf(red, "tpu-backend")).toMatchObject({
      state: "failed",
      conclusion: "failure",
      title: "0 of 1 jobs passed",
      failedJobs: [{ workflowName: "ci", jobName: "test (cpu, 1/2)", conclusion: "failure", alsoOnTrunk: null, trunkSha: null }],
    });
    expect((red.nonBlockingFailures as Array<Record<string, unknown>>).map((backend) => backend.name)).toEqual(["npu"]);

    // A re-run (attempt 2) that passes clears the gate; the L3 failure stays listed, never blocking.
    expect((await post(failed(tickets["beta/tpu-backend"]!, 2, "success"), tpu)).status).toBe(200);
    const rerunEnd = runReport(tickets["beta/tpu-backend"]!, "success", { workflow: { name: "ci", run_id: 555, run_attempt: 2, url: "https://ci.example.org/runs/555" } });
    expect((await post(rerunEnd, tpu)).status).toBe(200);
    const green = (await gate()).json;
    expect(green.verdict).toBe("clear");
    expect(green.blocking).toEqual([]);
    expect(backendOf(green, "tpu-backend")).toMatchObject({ state: "passed", conclusion: "success", failedJobs: [] });
    expect((green.nonBlockingFailures as Array<Record<string, unknown>>).map((backend) => backend.name)).toEqual(["npu"]);
    // The same head by sha, as a bot that pins the commit it merges asks.
    expect((await gate(`/api/gate/codertocat/hello-world/pull/${pr.pull_request.number}?sha=${sha}`)).json).toEqual(green);
  });

  it("answers bad requests with their specific status and message", async () => {
    await start();
    await dispatchPr();
    const base = `/api/gate/Codertocat/Hello-World/pull`;
    expect(await gate(`/api/gate/other/repo/pull/1`)).toEqual({ status: 404, json: { error: "this relay gates pull requests of Codertocat/Hello-World only, not other/repo" } });
    expect(await gate(`${base}/abc`)).toEqual({ status: 400, json: { error: 'pull request number must be a positive integer; got "abc"' } });
    expect(await gate(`${base}/${pr.pull_request.number}?sha=HEAD`)).toEqual({ status: 400, json: { error: "sha must be a 40-character lowercase hex commit sha" } });
    expect((await gate(`${base}/${pr.pull_request.number}?foo=1`)).json.error).toBe("unknown query parameter foo; accepted: sha");
    expect((await gate(`${base}/${pr.pull_request.number}?sha=${"f".repeat(40)}`)).status).toBe(404);
    const unseen = Number(pr.pull_request.number) + 1;
    expect((await gate(`${base}/${unseen}`)).json.error).toBe(
      `the relay knows no open head of pull request #${unseen} (not seen, closed, or the sha is not this pull request's); pass ?sha= for a closed pull request's head`,
    );
  });
});

describe("RELAY_PROFILE=pytorch: check runs PyTorch's own tooling reads", () => {
  const checkRuns = () => [...github.checkRuns.values()].map((run) => ({ name: String(run.name), status: String(run.status), conclusion: (run.conclusion as string | null) ?? null, external_id: run.external_id }));
  const torchciGate = () => crcrBlockingRepos(checkRuns(), torchciEntries(ALLOWLIST));

  it("names check runs crcr/<owner>/<repo>/<workflow>/<job> with <run>:<pr> ids; torchci's merge gate blocks while the L4 backend is pending or failed", async () => {
    await start({ RELAY_PROFILE: "pytorch" });
    pr.pull_request.labels = [{ name: "ciflow/crcr/npu" }];
    const tickets = await dispatchPr();
    const number = Number(pr.pull_request.number);
    // Queued at dispatch: the aggregates, which torchci reads as jobs of the backends' repos.
    expect(checkRuns().map((run) => [run.name, run.status, run.external_id]).sort()).toEqual([
      ["crcr/acme/npu-backend/npu/all jobs", "queued", `0:${number}`],
      ["crcr/beta/tpu-backend/tpu-backend/all jobs", "queued", `0:${number}`],
    ]);
    for (const run of checkRuns()) expect(downstreamRepoFromCheckRunName(run.name)).not.toBeNull();
    expect(torchciGate()).toEqual(["beta/tpu-backend"]);

    const tpu = await tokenFor("beta/tpu-backend");
    expect((await post(report(tickets["beta/tpu-backend"]!, { status: "completed", conclusion: "failure" }), tpu)).status).toBe(200);
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "failure"), tpu)).status).toBe(200);
    await settled();
    const job = checkRuns().find((run) => run.name === "crcr/beta/tpu-backend/ci/test (cpu, 1/2)");
    expect(job).toMatchObject({ status: "completed", conclusion: "failure", external_id: `555:${number}` });
    expect(downstreamRepoFromCheckRunName(job!.name)).toBe("beta/tpu-backend");
    expect(torchciGate()).toEqual(["beta/tpu-backend"]);

    // A failed L3 backend never blocks; a passing re-run of the L4 one clears torchci's gate.
    const npu = await tokenFor("acme/npu-backend");
    expect((await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "failure" }), npu)).status).toBe(200);
    expect((await post(runReport(tickets["acme/npu-backend"]!, "failure"), npu)).status).toBe(200);
    const rerun = { name: "ci", run_id: 555, run_attempt: 2, url: "https://ci.example.org/runs/555" };
    expect((await post(report(tickets["beta/tpu-backend"]!, { status: "completed", conclusion: "success", workflow: rerun }), tpu)).status).toBe(200);
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "success", { workflow: rerun }), tpu)).status).toBe(200);
    await settled();
    expect(checkRuns().find((run) => run.name === "crcr/acme/npu-backend/npu/all jobs")).toMatchObject({ conclusion: "failure" });
    expect(torchciGate()).toEqual([]);
  });

  it("Re-run on a crcr check run re-runs its downstream run; on an aggregate nothing reported to, dispatches again", async () => {
    await start({ RELAY_PROFILE: "pytorch" });
    const tickets = await dispatchPr();
    const tpu = await tokenFor("beta/tpu-backend");
    expect((await post(report(tickets["beta/tpu-backend"]!, { status: "completed", conclusion: "failure" }), tpu)).status).toBe(200);
    await settled();
    const rerequested = (name: string, externalId: string, id: number) => {
      const payload = webhookExample("check_run", (p) => p.action === "rerequested");
      Object.assign(payload.check_run, { id, name, external_id: externalId, head_sha: pr.pull_request.head.sha });
      payload.repository.full_name = UPSTREAM;
      payload.installation = { id: 1 };
      return payload;
    };
    const number = Number(pr.pull_request.number);
    expect((await deliver(relay, "check_run", rerequested("crcr/beta/tpu-backend/ci/test (cpu, 1/2)", `555:${number}`, 1), "rr-1")).status).toBe(200);
    await expect.poll(() => github.find("POST", /\/beta\/tpu-backend\/actions\/runs\/555\/rerun-failed-jobs$/).length).toBe(1);
    const dispatches = github.find("POST", /\/acme\/npu-backend\/dispatches$/).length;
    expect((await deliver(relay, "check_run", rerequested("crcr/acme/npu-backend/npu/all jobs", `0:${number}`, 2), "rr-2")).status).toBe(200);
    await settled();
    expect(github.find("POST", /\/acme\/npu-backend\/dispatches$/)).toHaveLength(dispatches + 1);
    // A name that is not one of the allowlist's backends is left alone.
    expect((await deliver(relay, "check_run", rerequested("crcr/evil/repo/ci/x", `777:${number}`, 3), "rr-3")).status).toBe(200);
    await settled();
    expect(github.find("POST", /\/evil\/repo\//)).toEqual([]);
  });
});

describe("legacy callbacks: the production relay's body on /github/callback (opt-in per repo)", () => {
  const LEGACY_AUDIENCE = "pytorch-cross-repo-ci-relay";
  const legacyBody = (deliveryId: string, fields: Record<string, unknown> = {}) => ({
    event_type: "pull_request",
    delivery_id: deliveryId,
    // The echoed upstream payload is untrusted and never read: a lying PR number changes nothing.
    payload: { pull_request: { number: 999_999, head: { sha: "f".repeat(40) } } },
    workflow: {
      schema_version: "1",
      status: "completed",
      conclusion: "failure",
      name: "ci",
      url: "https://github.example/acme/npu-backend/actions/runs/321",
      run_attempt: "1",
      job_name: "test-npu",
      check_run_id: "8888",
      run_id: "321",
      started_at: "2026-05-04T20:48:28.123456Z",
      completed_at: "2026-05-04T21:10:00.000000Z",
      test_results: { passed: 7, failed: 1, skipped: 2 },
      ...fields,
    },
  });
  const postLegacy = async (body: unknown, repository: string, audience = LEGACY_AUDIENCE) => {
    const response = await fetch(`${relay.url}/github/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository }, { audience })}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  it("binds an opted-in repo's report to its dispatch by delivery id and verified repo, marks it unbound, and refuses everyone else", async () => {
    relay = await startRelayAgainst(github, `${ALLOWLIST}relay:\n  acme/npu-backend: {legacy_callbacks: true}\n`, {
      UPSTREAM_REPO: UPSTREAM,
      GITHUB_OIDC_ISSUER: oidc.issuer,
      RELAY_CHECK_UPDATE_DELAY_SECONDS: "1",
    });
    pr.pull_request.labels = [{ name: "ciflow/oot/npu" }];
    await dispatchPr();

    // Not opted in: refused with the way to opt in; an unknown delivery: no dispatch record; the v1 audience is not the legacy one.
    expect(await postLegacy(legacyBody("cb-delivery"), "beta/tpu-backend")).toMatchObject({ status: 403, json: { error: expect.stringContaining("legacy_callbacks: true") as string } });
    expect(await postLegacy(legacyBody("no-such-delivery"), "acme/npu-backend")).toMatchObject({ status: 400, json: { error: expect.stringContaining("no matching dispatch record") as string } });
    expect((await postLegacy(legacyBody("cb-delivery"), "acme/npu-backend", "cross-repo-ci-relay")).status).toBe(401);
    expect(await postLegacy({ delivery_id: "cb-delivery", workflow: { status: "done" } }, "acme/npu-backend")).toMatchObject({ status: 400, json: { error: expect.stringContaining("workflow.status: must be in_progress or completed") as string } });

    const accepted = await postLegacy(legacyBody("cb-delivery"), "acme/npu-backend");
    expect(accepted).toEqual({ status: 200, json: { accepted: true, duplicate: false, job: { status: "completed", conclusion: "failure" } } });
    await settled();
    const job = [...github.checkRuns.values()].find((run) => run.name === "oot / npu / ci / test-npu")!;
    expect(job).toMatchObject({ head_sha: pr.pull_request.head.sha, status: "completed", conclusion: "failure", external_id: "run:acme/npu-backend:321" });
    expect((job.output as { title: string; summary: string }).title).toBe("failure — 7 passed, 1 failed, 2 skipped");
    expect((job.output as { summary: string }).summary).toContain(UNBOUND_NOTE);
    // The same report again is a duplicate, as on /relay/callback.
    expect((await postLegacy(legacyBody("cb-delivery"), "acme/npu-backend")).json).toEqual({ accepted: true, duplicate: true });
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toContain('relay_legacy_callbacks_total{status="200"} 2');
    expect(metrics).toContain('relay_legacy_callbacks_total{status="403"} 1');
  });
});

describe("nightly self-reports", () => {
  const nightly = (sha: string, runId = 900) => ({
    schema_version: 1,
    status: "completed",
    conclusion: "success",
    workflow: { name: "nightly", run_id: runId, run_attempt: 1, url: `https://ci.example.org/runs/${runId}` },
    job: { name: "full suite" },
    tests: { total: 3, passed: 3, failed: 0, skipped: 0 },
    nightly: { upstream_sha: sha, event: "nightly" },
  });

  it("accepts a completed self-report for a commit that exists upstream, with no check runs", async () => {
    await start();
    const token = await tokenFor("acme/npu-backend");
    const sha = "b".repeat(40);
    expect(await post(nightly(sha), token)).toMatchObject({ status: 200, json: { accepted: true, upstream_verified: true } });
    expect(await post(nightly(sha), token)).toMatchObject({ status: 200, json: { duplicate: true } });
    expect(github.find("GET", `/repos/${UPSTREAM}/commits/${sha}`)).toHaveLength(1);
    expect(github.checkRuns.size).toBe(0);
  });

  it("rejects a sha unknown upstream, L1 backends and unlisted repos; records an unverified report during an outage", async () => {
    await start();
    const token = await tokenFor("acme/npu-backend");
    github.script("GET", /\/commits\/c+$/, [{ status: 422, body: { message: "No commit found for SHA" } }]);
    const missing = await post(nightly("c".repeat(40)), token);
    expect(missing.status).toBe(422);
    expect(missing.json.error).toContain("is not a commit of Codertocat/Hello-World");
    expect((await post(nightly("d".repeat(40)), await tokenFor("one/l1-backend"))).status).toBe(403);
    expect((await post(nightly("d".repeat(40)), await tokenFor("stranger/repo"))).status).toBe(403);
    github.script("GET", /\/commits\/e+$/, [{ status: 502, body: { message: "Bad Gateway" } }]);
    expect(await post(nightly("e".repeat(40), 901), token)).toMatchObject({ status: 200, json: { accepted: true, upstream_verified: false } });
  });
});

describe("callback authentication and limits", () => {
  it("answers each bad request with its specific status and message", async () => {
    await start({ RELAY_CALLBACK_RATE_LIMIT: "100" });
    const tickets = await dispatchPr();
    const tpuTicket = tickets["beta/tpu-backend"]!;
    const tpuToken = await tokenFor("beta/tpu-backend");

    expect(await post(report(tpuTicket))).toMatchObject({ status: 401, json: { reason: "missing_token" } });
    expect(await post(report(tpuTicket), await oidc.mint({ repository: "beta/tpu-backend" }, { audience: "someone-else" }))).toMatchObject({
      status: 401,
      json: { reason: "wrong_audience" },
    });
    // A token for repo A with a ticket for repo B.
    const crossed = await post(report(tpuTicket), await tokenFor("acme/npu-backend"));
    expect(crossed.status).toBe(403);
    expect(crossed.json.error).toBe("the ticket was issued to beta/tpu-backend, but the token is for acme/npu-backend");
    // A forged ticket: claims for another sha signed with a key the relay does not hold.
    const forged = await signTicket(
      { deliveryId: "cb-delivery", downstreamRepo: "beta/tpu-backend", upstreamRepo: UPSTREAM, prNumber: 2, headSha: "f".repeat(40), level: "L4" },
      { current: "an-attackers-secret-that-is-long-enough-000" },
      { ttlSeconds: 3600 },
    );
    expect((await post(report(forged), tpuToken)).status).toBe(401);
    // A genuine ticket whose payload was edited (another sha): the signature no longer matches.
    const [header, payload, signature] = tpuTicket.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sha: "0".repeat(40) })).toString("base64url");
    expect((await post(report(`${header}.${edited}.${signature}`), tpuToken)).json.error).toMatch(/^ticket rejected \(bad_signature\)/);
    const expired = await signTicket(
      { deliveryId: "cb-delivery", downstreamRepo: "beta/tpu-backend", upstreamRepo: UPSTREAM, prNumber: 2, headSha: pr.pull_request.head.sha, level: "L4" },
      { current: TICKET_SECRET },
      { ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) },
    );
    expect((await post(report(expired), tpuToken)).json.error).toMatch(/^ticket rejected \(expired\)/);
    expect(await post("{not json", tpuToken)).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^body is not JSON/) } });
    expect(await post({ schema_version: 1, status: "completed" }, tpuToken)).toMatchObject({ status: 400, json: { error: expect.stringContaining("conclusion") } });
    const unlisted = await post(report(tpuTicket), await tokenFor("stranger/repo"));
    expect(unlisted.status).toBe(403);
    const huge = await post(report(tpuTicket, { summary: "x".repeat(2 * 1024 * 1024) }), tpuToken);
    expect(huge.status).toBe(413);
    expect((await fetch(`${relay.url}/relay/callback`)).status).toBe(405);
  });

  it("limits callbacks per verified repo with 429 and Retry-After", async () => {
    await start({ RELAY_CALLBACK_RATE_LIMIT: "3" });
    const tickets = await dispatchPr();
    const token = await tokenFor("beta/tpu-backend");
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await post(report(tickets["beta/tpu-backend"]!), token)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await post(report(tickets["beta/tpu-backend"]!), token);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another repo has its own budget.
    expect((await post(report(tickets["acme/npu-backend"]!), await tokenFor("acme/npu-backend"))).status).toBe(200);
  });
});

describe("coalescing check-run writes", () => {
  it("200 callbacks for 20 jobs end in every run's final state with far fewer writes, none rate limited", async () => {
    await start({ RELAY_CALLBACK_RATE_LIMIT: "1000", RELAY_WRITES_PER_MINUTE: "50", RELAY_CHECK_UPDATE_DELAY_SECONDS: "5" });
    const tickets = await dispatchPr();
    const token = await tokenFor("beta/tpu-backend");
    const jobs = Array.from({ length: 20 }, (_, i) => `shard ${i}`);
    const posts: Array<Promise<unknown>> = [];
    for (const name of jobs) {
      for (let step = 0; step < 9; step += 1) {
        posts.push(post(report(tickets["beta/tpu-backend"]!, { job: { name }, summary: `progress ${step}` }), token));
      }
      posts.push(post(report(tickets["beta/tpu-backend"]!, { job: { name }, status: "completed", conclusion: "success" }), token));
    }
    const answers = (await Promise.all(posts)) as Array<{ status: number }>;
    expect(answers.every((answer) => answer.status === 200 || answer.status === 409)).toBe(true);

    await expect
      .poll(() => [...github.checkRuns.values()].filter((run) => String(run.name).includes("/ shard ") && run.status === "completed").length, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(20);
    await settled();
    // Every job is done, but the run is not known to be over yet: the aggregate waits for its run-level report.
    expect(aggregateOf("tpu-backend")).toMatchObject({ status: "in_progress", output: { title: "20 of 20 reported jobs done (total not known yet)" } });
    const jobWrites = github.find("*", /\/check-runs/).filter((request) => request.method !== "GET").length;
    expect((await post(runReport(tickets["beta/tpu-backend"]!, "success"), token)).status).toBe(200);
    await settled();
    const writes = github.find("*", /\/check-runs/).filter((request) => request.method !== "GET");
    // The 200 job callbacks took fewer than 50 writes (as before the aggregate waited for the run's end);
    // the run-level report adds exactly one: the aggregate's conclusion, written after its in_progress
    // "20 of 20" state above had already been written (the test waited for it).
    expect(jobWrites).toBeLessThan(50);
    expect(writes.length).toBe(jobWrites + 1);
    expect(writes.at(-1)?.body).toMatchObject({ status: "completed", conclusion: "success" });
    expect(writes.every((request) => request.status !== 403 && request.status !== 429)).toBe(true);
    expect(aggregateOf("tpu-backend")).toMatchObject({ status: "completed", conclusion: "success" });
  }, 90_000);
});

describe("re-runs from the pull request", () => {
  function rerequested(name: string, externalId: string, sha: string, id: number) {
    const payload = webhookExample("check_run", (p) => p.action === "rerequested");
    payload.check_run = { ...payload.check_run, id, name, external_id: externalId, head_sha: sha };
    payload.repository.full_name = UPSTREAM;
    return payload;
  }

  it("re-runs the downstream run behind a job's check run, and dispatches again where no run ever reported", async () => {
    await start();
    const tickets = await dispatchPr();
    await post(report(tickets["beta/tpu-backend"]!, { status: "completed", conclusion: "failure" }), await tokenFor("beta/tpu-backend"));
    await settled();
    const sha = pr.pull_request.head.sha as string;

    const job = rerequested("oot / tpu-backend / ci / test (cpu, 1/2)", "run:beta/tpu-backend:555", sha, 1001);
    expect((await deliver(relay, "check_run", job, "rerun-1")).status).toBe(200);
    expect(github.find("POST", "/repos/beta/tpu-backend/actions/runs/555/rerun-failed-jobs")).toMatchObject([{ installationId: 12 }]);

    // A dispatch that never produced a run: dispatched again with a fresh ticket bound to the new delivery.
    const aggregate = rerequested("oot / npu", "dispatch:cb-delivery:acme/npu-backend", sha, 1002);
    expect((await deliver(relay, "check_run", aggregate, "rerun-2")).status).toBe(200);
    await settled();
    const again = github.find("POST", "/repos/acme/npu-backend/dispatches").at(-1)!;
    const payload = (again.body as { client_payload: { delivery_id: string; ticket: string; head_sha: string } }).client_payload;
    expect(payload).toMatchObject({ delivery_id: "rerun-2", head_sha: sha });
    expect(payload.ticket).not.toBe(tickets["acme/npu-backend"]);
    expect(github.find("POST", "/repos/acme/npu-backend/dispatches")).toHaveLength(2);
  });

  it("concludes the aggregate of a dispatch GitHub refused for good as failed, and its Re-run dispatches again", async () => {
    github.script("POST", "/repos/beta/tpu-backend/dispatches", [{ status: 422, body: { message: "Validation Failed" } }]);
    await start();
    await dispatchPr();
    const sha = pr.pull_request.head.sha as string;
    const aggregate = () => [...github.checkRuns.values()].find((run) => run.name === "oot / tpu-backend")!;
    await expect.poll(() => aggregate().status, { timeout: 10_000, interval: 50 }).toBe("completed");
    expect(aggregate()).toMatchObject({ conclusion: "failure", external_id: "dispatch:cb-delivery:beta/tpu-backend" });
    const output = aggregate().output as { title: string; summary: string };
    expect(output.title).toBe("Dispatch failed");
    expect(output.summary).toContain("Re-run this check to dispatch it again");

    expect((await deliver(relay, "check_run", rerequested("oot / tpu-backend", "dispatch:cb-delivery:beta/tpu-backend", sha, 1003), "rerun-failed")).status).toBe(200);
    await settled();
    const sent = github.find("POST", "/repos/beta/tpu-backend/dispatches");
    expect(sent.map((request) => request.status)).toEqual([422, 204]);
    expect((sent[1]!.body as { client_payload: { delivery_id: string } }).client_payload.delivery_id).toBe("rerun-failed");
    // The new dispatch is the backend's latest: its aggregate is queued again, on the same check run.
    expect(aggregate()).toMatchObject({ status: "queued", external_id: "dispatch:rerun-failed:beta/tpu-backend" });
    expect(github.find("POST", /\/check-runs$/).filter((request) => (request.body as { name: string }).name === "oot / tpu-backend")).toHaveLength(1);
  });

  it("dead-letters a dispatch GitHub kept failing past the maximum age: the aggregate says so, and its Re-run dispatches again", async () => {
    const dataDir = tempDir("relay-dead-letter-");
    github.script("POST", "/repos/beta/tpu-backend/dispatches", Array.from({ length: 3 }, () => ({ status: 502, body: { message: "Bad Gateway" } })));
    await start({ DATA_DIR: dataDir, RELAY_OUTBOX_MAX_AGE_HOURS: "1" });
    expect((await deliver(relay, "pull_request", pr, "cb-delivery")).status).toBe(200);
    await expect.poll(() => github.find("POST", "/repos/beta/tpu-backend/dispatches").length, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    await relay.stop();
    // Two hours pass while the relay is down: the task, still failing, is older than the maximum age.
    const db = new Database(path.join(dataDir, DATABASE_FILE));
    db.prepare("UPDATE outbox SET created_at = created_at - 7200000, next_attempt_at = 0 WHERE key = 'dispatch:cb-delivery:beta/tpu-backend'").run();
    db.close();
    const sentBefore = github.find("POST", "/repos/beta/tpu-backend/dispatches").length;

    await start({ DATA_DIR: dataDir, RELAY_OUTBOX_MAX_AGE_HOURS: "1" });
    const aggregate = () => [...github.checkRuns.values()].find((run) => run.name === "oot / tpu-backend")!;
    await expect.poll(() => aggregate().status, { timeout: 10_000, interval: 50 }).toBe("completed");
    expect(aggregate()).toMatchObject({ conclusion: "failure", output: { title: "Dispatch failed" } });
    expect((aggregate().output as { summary: string }).summary).toContain("max_age");
    // Dead-lettered without being sent again.
    expect(github.find("POST", "/repos/beta/tpu-backend/dispatches")).toHaveLength(sentBefore);

    const sha = pr.pull_request.head.sha as string;
    expect((await deliver(relay, "check_run", rerequested("oot / tpu-backend", "dispatch:cb-delivery:beta/tpu-backend", sha, 1004), "rerun-dead")).status).toBe(200);
    await settled();
    expect(github.find("POST", "/repos/beta/tpu-backend/dispatches").at(-1)).toMatchObject({ status: 204 });
    expect(aggregate()).toMatchObject({ status: "queued", external_id: "dispatch:rerun-dead:beta/tpu-backend" });
  });

  it("re-runs every distinct downstream run behind the suite once", async () => {
    await start();
    const tickets = await dispatchPr();
    const token = await tokenFor("beta/tpu-backend");
    for (const name of ["a", "b"]) {
      await post(report(tickets["beta/tpu-backend"]!, { job: { name }, status: "completed", conclusion: "failure" }), token);
    }
    await settled();
    const suite = webhookExample("check_suite", (p) => p.action === "rerequested");
    suite.check_suite.head_sha = pr.pull_request.head.sha;
    suite.repository.full_name = UPSTREAM;
    expect((await deliver(relay, "check_suite", suite, "suite-rerun")).status).toBe(200);
    expect(github.find("POST", /\/actions\/runs\/555\/rerun-failed-jobs$/)).toHaveLength(1);
  });
});

describe("L3 label timing", () => {
  let labelledAt = Date.parse("2026-01-01T00:00:00Z");
  function labelEvent(action: "labeled" | "unlabeled", name: string) {
    const payload = structuredClone(pr);
    payload.action = action;
    // As on GitHub, each label event's payload differs (an identical one under a new delivery id is a replay).
    payload.pull_request.updated_at = new Date((labelledAt += 1000)).toISOString();
    payload.label = { name };
    payload.pull_request.labels = action === "labeled" ? [{ name }] : [];
    return payload;
  }
  const npuRuns = () => [...github.checkRuns.values()].filter((run) => String(run.name).startsWith("oot / npu"));

  it("label added while jobs run: backfills the aggregate and job runs, which then follow reports", async () => {
    await start();
    const tickets = await dispatchPr();
    const token = await tokenFor("acme/npu-backend");
    await post(report(tickets["acme/npu-backend"]!), token);
    await settled();
    expect(npuRuns()).toEqual([]);

    await deliver(relay, "pull_request", labelEvent("labeled", "ciflow/oot/npu"), "label-1");
    await settled();
    expect(Object.fromEntries(npuRuns().map((run) => [run.name, run.status]))).toEqual({
      "oot / npu": "in_progress",
      "oot / npu / ci / test (cpu, 1/2)": "in_progress",
    });
    await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "success" }), token);
    await settled();
    // The job's run follows its report; the aggregate waits for the run to be over.
    expect(Object.fromEntries(npuRuns().map((run) => [run.name, [run.status, run.conclusion ?? null]]))).toEqual({
      "oot / npu": ["in_progress", null],
      "oot / npu / ci / test (cpu, 1/2)": ["completed", "success"],
    });
    expect((await post(runReport(tickets["acme/npu-backend"]!, "success"), token)).status).toBe(200);
    await settled();
    expect(npuRuns()).toHaveLength(2);
    expect(npuRuns().every((run) => run.status === "completed" && run.conclusion === "success")).toBe(true);
  });

  it("label added after jobs finished: creates completed runs from the stored results", async () => {
    await start();
    const tickets = await dispatchPr();
    const token = await tokenFor("acme/npu-backend");
    await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "failure" }), token);
    // The run is over too (its run-level report), all before the label: nothing was shown yet.
    expect((await post(runReport(tickets["acme/npu-backend"]!, "failure"), token)).status).toBe(200);
    await settled();
    expect(npuRuns()).toEqual([]);
    await deliver(relay, "pull_request", labelEvent("labeled", "CIFlow/OOT/NPU"), "label-2");
    await settled();
    expect(npuRuns().map((run) => [run.status, run.conclusion])).toEqual([
      ["completed", "failure"],
      ["completed", "failure"],
    ]);
  });

  it("label added before any report: a queued aggregate; removed: open runs end neutral and stop following", async () => {
    await start();
    const tickets = await dispatchPr();
    await deliver(relay, "pull_request", labelEvent("labeled", "ciflow/oot/npu"), "label-3");
    await settled();
    expect(npuRuns()).toMatchObject([{ name: "oot / npu", status: "queued" }]);

    await deliver(relay, "pull_request", labelEvent("unlabeled", "ciflow/oot/npu"), "unlabel-3");
    await settled();
    expect(npuRuns()).toMatchObject([{ status: "completed", conclusion: "neutral", output: { title: "Label removed" } }]);
    const token = await tokenFor("acme/npu-backend");
    expect((await post(report(tickets["acme/npu-backend"]!, { status: "completed", conclusion: "failure" }), token)).status).toBe(200);
    // The run ends meanwhile too (its run-level report): still not shown.
    expect((await post(runReport(tickets["acme/npu-backend"]!, "failure"), token)).status).toBe(200);
    await settled();
    expect(npuRuns()).toHaveLength(1);
    expect(npuRuns()[0]).toMatchObject({ conclusion: "neutral" });

    // Labelled again: shown again, with what was reported meanwhile.
    await deliver(relay, "pull_request", labelEvent("labeled", "ciflow/oot/npu"), "relabel-3");
    await settled();
    expect(npuRuns().map((run) => run.conclusion)).toEqual(["failure", "failure"]);
  });
});
