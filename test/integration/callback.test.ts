// POST /relay/callback end to end (the rig: ./callback-e2e.ts): reports become check runs updated in
// place, nightly self-reports, authentication and limits, coalesced writes.
import { describe, expect, it } from "vitest";
import { signTicket } from "../../src/dispatch/ticket.js";
import { TICKET_SECRET } from "../helpers/server.js";
import { UPSTREAM, aggregateOf, dispatchPr, github, oidc, post, pr, relay, report, runReport, settled, start, tokenFor, useCallbackRelay } from "./callback-e2e.js";

useCallbackRelay();

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

