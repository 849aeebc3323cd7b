// Callbacks end to end for PyTorch's tooling and re-runs (the rig: ./callback-e2e.ts): RELAY_PROFILE=pytorch
// check runs, legacy callbacks on /github/callback, and Re-run from the pull request.
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { DATABASE_FILE } from "../../src/store/sqlite-store.js";
import { webhookExample } from "../helpers/fixtures.js";
import { UNBOUND_NOTE } from "../../src/callback/legacy.js";
import { crcrBlockingRepos, downstreamRepoFromCheckRunName, torchciEntries } from "../helpers/torchci-allowlist.js";
import { deliver, tempDir } from "../helpers/server.js";
import { ALLOWLIST, UPSTREAM, dispatchPr, github, oidc, post, pr, relay, report, runReport, settled, start, tokenFor, useCallbackRelay } from "./callback-e2e.js";

useCallbackRelay();

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
    await start({}, `${ALLOWLIST}relay:\n  acme/npu-backend: {legacy_callbacks: true}\n`);
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

