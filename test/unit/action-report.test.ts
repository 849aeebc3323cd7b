// report-ci-result's input handling without a relay: the run-level report (scope run) built from `needs`,
// the job report's body staying as it was before scope existed, and the step outputs read from the relay's answer.
import { describe, expect, it } from "vitest";
import type { FileSystem } from "../../src/action/files.js";
import { buildReport, runReport } from "../../src/action/report.js";

const EVENT_PATH = "/runner/event.json";
const TICKET = "v1.ticket.signature";
const CALLBACK_URL = "https://relay.example.com/relay/callback";

/** An in-memory file system holding the repository_dispatch event; appended text lands in `written`. */
function memoryFs(): FileSystem & { written: Record<string, string> } {
  const files: Record<string, string> = {
    [EVENT_PATH]: JSON.stringify({ action: "pytorch-pr-trigger", client_payload: { ticket: TICKET, callback_url: CALLBACK_URL } }),
  };
  const written: Record<string, string> = {};
  return {
    written,
    readFile: (file) => (file in files ? Promise.resolve(files[file]!) : Promise.reject(new Error(`ENOENT: ${file}`))),
    appendFile: (file, text) => {
      written[file] = (written[file] ?? "") + text;
      return Promise.resolve();
    },
    glob: () => Promise.resolve([]),
  };
}

/** The runner's environment for a step with the given inputs (action.yml defaults included, as the runner passes them). */
function actionsEnv(inputs: Record<string, string> = {}, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    GITHUB_EVENT_NAME: "repository_dispatch",
    GITHUB_EVENT_PATH: EVENT_PATH,
    GITHUB_WORKFLOW: "pytorch-pr",
    GITHUB_RUN_ID: "555",
    GITHUB_RUN_ATTEMPT: "2",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: "acme/npu-backend",
    GITHUB_JOB: "report-run",
    INPUT_STATUS: "completed",
    INPUT_SCOPE: "job",
    "INPUT_JOB-STATUS": "success",
    ...extra,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return env;
}

const build = (inputs: Record<string, string>, extra: Record<string, string> = {}) => buildReport({ env: actionsEnv(inputs, extra), fs: memoryFs() });
const needs = (results: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(results).map(([job, result]) => [job, { result, outputs: {} }])));

describe("a job report (scope job, the default)", () => {
  it("sends exactly the body it sent before scope existed", async () => {
    const { body, callbackUrl } = await build({ "job-name": "test (shard 1/2)", "job-status": "failure" });
    expect(callbackUrl).toBe(CALLBACK_URL);
    expect(body).toStrictEqual({
      schema_version: 1,
      ticket: TICKET,
      status: "completed",
      conclusion: "failure",
      workflow: { name: "pytorch-pr", run_id: 555, run_attempt: 2, url: "https://github.com/acme/npu-backend/actions/runs/555" },
      job: { name: "test (shard 1/2)" },
    });
    // An empty scope input (a workflow passing `scope: ''`) is the default too.
    expect((await build({ scope: "" })).body).not.toHaveProperty("scope");
  });

  it("refuses the run-level inputs and an unknown scope", async () => {
    await expect(build({ needs: needs({ test: "success" }) })).rejects.toThrow("input needs: only with scope: run");
    await expect(build({ "run-jobs": "3" })).rejects.toThrow("input run-jobs: only with scope: run");
    await expect(build({ scope: "workflow" })).rejects.toThrow('input scope: must be job or run, got "workflow"');
  });
});

describe("a run-level report (scope run)", () => {
  it("concludes with the worst result of the needed jobs: failure, cancelled, success, then skipped", async () => {
    const conclusion = async (results: Record<string, string>) => (await build({ scope: "run", needs: needs(results) })).body.conclusion;
    expect(await conclusion({ build: "success", test: "failure", lint: "cancelled" })).toBe("failure");
    expect(await conclusion({ build: "success", test: "cancelled", lint: "skipped" })).toBe("cancelled");
    expect(await conclusion({ build: "success", test: "skipped" })).toBe("success");
    expect(await conclusion({ build: "skipped", test: "skipped" })).toBe("skipped");
  });

  it("ignores the job's own status, and lets the conclusion input win", async () => {
    const fromNeeds = await build({ scope: "run", needs: needs({ test: "failure" }), "job-status": "success" });
    expect(fromNeeds.body.conclusion).toBe("failure");
    const explicit = await build({ scope: "run", needs: needs({ test: "failure" }), conclusion: "neutral" });
    expect(explicit.body.conclusion).toBe("neutral");
  });

  it("sends scope and run.jobs, counting the needed jobs plus itself unless run-jobs is given", async () => {
    const { body } = await build({ scope: "run", needs: needs({ build: "success", test: "success" }) });
    expect(body).toMatchObject({ scope: "run", run: { jobs: 3 }, status: "completed", conclusion: "success", ticket: TICKET, job: { name: "report-run" } });
    expect((await build({ scope: "run", needs: needs({ test: "success" }), "run-jobs": "5" })).body.run).toEqual({ jobs: 5 });
    expect((await build({ scope: "run", needs: needs({ test: "success" }), "run-jobs": "0" })).body.run).toEqual({ jobs: 0 });
    // Without needs nor run-jobs the count is unknown: no `run` at all.
    const bare = await build({ scope: "run", conclusion: "success" });
    expect(bare.body.scope).toBe("run");
    expect(bare.body).not.toHaveProperty("run");
  });

  it("explains a missing, malformed or empty needs", async () => {
    await expect(build({ scope: "run" })).rejects.toThrow(/^input needs: required with scope: run unless conclusion is given; pass needs: \$\{\{ toJSON\(needs\) \}\}/);
    await expect(build({ scope: "run", needs: "{test: success}" })).rejects.toThrow("input needs: not valid JSON; pass needs: ${{ toJSON(needs) }}");
    await expect(build({ scope: "run", needs: '["test"]' })).rejects.toThrow("input needs: expected an object of job ids, as ${{ toJSON(needs) }} gives");
    await expect(build({ scope: "run", needs: JSON.stringify({ test: { result: "passed" }, lint: "success" }) })).rejects.toThrow(
      "input needs: test.result: must be one of failure, cancelled, success, skipped; lint: expected an object with a result",
    );
    await expect(build({ scope: "run", needs: "{}" })).rejects.toThrow(/^input needs: lists no jobs/);
  });

  it("refuses a bad run-jobs, an in_progress status and nightly mode", async () => {
    const ok = { scope: "run", needs: needs({ test: "success" }) };
    for (const bad of ["-1", "2.5", "three"]) {
      await expect(build({ ...ok, "run-jobs": bad })).rejects.toThrow(`input run-jobs: must be a non-negative integer, got "${bad}"`);
    }
    await expect(build({ ...ok, "run-jobs": "4294967296" })).rejects.toThrow("run.jobs: must be at most 4294967295");
    await expect(build({ ...ok, status: "in_progress" })).rejects.toThrow("input status: must be completed with scope: run");
    const nightly = { ...ok, "upstream-sha": "b".repeat(40), "event-kind": "nightly", "callback-url": CALLBACK_URL };
    await expect(build(nightly)).rejects.toThrow("scope: a nightly self-report is about jobs; scope run is for a dispatched run");
  });
});

describe("step outputs", () => {
  const OUTPUT = "/runner/github-output";

  /** Runs the action with a stub relay answering the POST with `answer` (the OIDC token service always answers). */
  async function runWith(status: number, answer: unknown, inputs: Record<string, string> = {}) {
    const fs = memoryFs();
    const stub: typeof fetch = (_input, init) =>
      Promise.resolve(init?.method === "POST" ? new Response(JSON.stringify(answer), { status }) : new Response(JSON.stringify({ value: "oidc.jwt" }), { status: 200 }));
    const env = actionsEnv(inputs, { GITHUB_OUTPUT: OUTPUT, ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.example/", ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" });
    const result = await runReport({ env, fs, fetch: stub, log: () => {}, sleep: () => Promise.resolve() });
    return { result, outputs: fs.written[OUTPUT] };
  }

  const outputs = (fields: Record<string, string>) =>
    Object.entries({ accepted: "false", duplicate: "false", "status-code": "", "check-run-url": "", "checks-url": "", ...fields })
      .map(([name, value]) => `${name}=${value}\n`)
      .join("");

  it("sets accepted, duplicate and status-code from the relay's answer", async () => {
    expect((await runWith(200, { accepted: true, duplicate: false, job: { status: "completed" } })).outputs).toBe(outputs({ accepted: "true", "status-code": "200" }));
    expect((await runWith(200, { accepted: true, duplicate: true })).outputs).toBe(outputs({ accepted: "true", duplicate: "true", "status-code": "200" }));
    expect((await runWith(202, { accepted: true, ignored: "acme/npu-backend is L1: results are not shown upstream" })).outputs).toBe(
      outputs({ accepted: "true", "status-code": "202" }),
    );
    const rejected = await runWith(401, { error: "ticket rejected" });
    expect(rejected.result.outcome).toBe("failed");
    expect(rejected.outputs).toBe(outputs({ "status-code": "401" }));
  });

  it("sets check-run-url or checks-url from the answer, normalized, and leaves out a malformed one", async () => {
    const run = "https://github.com/pytorch/pytorch/runs/4242";
    const checks = "https://github.com/pytorch/pytorch/pull/7/checks";
    expect((await runWith(200, { accepted: true, duplicate: false, check_run_url: run })).outputs).toBe(outputs({ accepted: "true", "status-code": "200", "check-run-url": run }));
    expect((await runWith(200, { accepted: true, duplicate: false, checks_url: checks })).outputs).toBe(outputs({ accepted: "true", "status-code": "200", "checks-url": checks }));
    // A line break would start another output: the URL is written as `new URL` spells it.
    const smuggled = await runWith(200, { accepted: true, duplicate: false, check_run_url: "https://github.com/a/b/runs/1\naccepted=false" });
    expect(smuggled.outputs).toBe(outputs({ accepted: "true", "status-code": "200", "check-run-url": "https://github.com/a/b/runs/1accepted=false" }));
    for (const bad of ["javascript:alert(1)", "not a url", 42]) {
      expect((await runWith(200, { accepted: true, duplicate: "yes", check_run_url: bad })).outputs).toBe(outputs({ accepted: "true", "status-code": "200" }));
    }
  });

  it("sets accepted=false when the inputs are invalid, and nothing outside a runner", async () => {
    expect((await runWith(200, {}, { scope: "bogus" })).outputs).toBe(outputs({}));
    const fs = memoryFs();
    await runReport({ env: actionsEnv({ scope: "bogus" }), fs, log: () => {} });
    expect(fs.written).toEqual({});
  });
});
