// Callbacks end to end, as levels use them (the rig: ./callback-e2e.ts): the trunk baseline, oncall
// comments and webhooks, the merge gate API, and L3 label timing.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { webhookExample } from "../helpers/fixtures.js";
import { deliver } from "../helpers/server.js";
import { dispatchPr, github, post, pr, relay, report, runReport, settled, start, tokenFor, useCallbackRelay } from "./callback-e2e.js";

useCallbackRelay();

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
