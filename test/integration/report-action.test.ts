// The report-ci-result action against a live relay on loopback, in a simulated Actions environment: the
// relay dispatches a PR to the GitHub stand-in, the dispatch payload it built becomes the job's
// repository_dispatch event file, a local token service mints OIDC tokens from a test issuer the relay trusts,
// and the action (in-process, and as the committed bundle in a child process) reports the job. One relay
// serves the whole file; each test reports on a PR head of its own.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runReport, TRUNCATION_NOTE, type ActionDeps } from "../../src/action/report.js";
import { MAX_SUMMARY_LENGTH } from "../../src/callback/schema.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { deliver, freePort, startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";
import type { PrView } from "../../src/hud/views.js";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const BUNDLE = path.join(ROOT, "actions/report-ci-result/dist/index.js");
const FIXTURES = path.join(ROOT, "test/fixtures/junit");
const UPSTREAM = "Codertocat/Hello-World";
const DOWNSTREAM = "beta/tpu-backend";
const REQUEST_TOKEN = "runner-request-token";
const ALLOWLIST = `
L3:
  npu:
    acme/npu-backend: [npu-oncall]
L4:
  - beta/tpu-backend: "@tpu-oncall"
`;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay;
let tokenService: { url: string; repository: string; requests: string[]; server: Server };

async function startTokenService(): Promise<typeof tokenService> {
  const state = { url: "", repository: DOWNSTREAM, requests: [] as string[], server: undefined as unknown as Server };
  state.server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    state.requests.push(url.searchParams.get("audience") ?? "");
    if (request.headers.authorization !== `Bearer ${REQUEST_TOKEN}`) {
      response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ message: "bad request token" }));
      return;
    }
    const audience = url.searchParams.get("audience") ?? "";
    oidc.mint({ repository: state.repository }, { audience }).then(
      (value) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ count: 1, value })),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

let dataDir: string;

beforeAll(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  tokenService = await startTokenService();
  github.install(1, [UPSTREAM]);
  github.install(11, ["acme/npu-backend"]);
  github.install(12, [DOWNSTREAM]);
  dataDir = tempDir("relay-action-");
  relay = await startRelayAgainst(github, ALLOWLIST, {
    DATA_DIR: dataDir,
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
    RELAY_HUD_FLUSH_MS: "50",
  });
});
beforeEach(() => {
  tokenService.requests.length = 0;
  tokenService.repository = DOWNSTREAM;
});
afterAll(async () => {
  await relay?.stop();
  await github.close();
  await oidc.close();
  tokenService.server.closeAllConnections();
  await new Promise((resolve) => tokenService.server.close(resolve));
});

async function settled(): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

let prNumber = 100;

/** Dispatches a new PR head and writes the repository_dispatch event the downstream received; returns its path. */
async function dispatchedEventFile(): Promise<{ eventPath: string; payload: { ticket: string; callback_url: string }; headSha: string; number: number }> {
  const pr: Payload = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  const number = ++prNumber;
  const headSha = randomBytes(20).toString("hex");
  pr.number = number;
  pr.pull_request.number = number;
  pr.pull_request.head.sha = headSha;
  pr.pull_request.author_association = "MEMBER";
  pr.pull_request.labels = [];
  expect((await deliver(relay, "pull_request", pr, `report-action-${number}`)).status).toBe(200);
  await settled();
  type Dispatch = { event_type: string; client_payload: { ticket: string; callback_url: string; head_sha: string } };
  const request = github.find("POST", `/repos/${DOWNSTREAM}/dispatches`).find((candidate) => (candidate.body as Dispatch).client_payload.head_sha === headSha);
  expect(request, "the relay dispatched to the downstream").toBeDefined();
  const dispatch = request!.body as Dispatch;
  // The relay builds callback_url from RELAY_PUBLIC_URL (http://localhost:3000 here, since the test relay's port is
  // picked when it starts); point it at the relay under test, as the public URL would in production.
  expect(dispatch.client_payload.callback_url).toMatch(/\/relay\/callback$/);
  dispatch.client_payload.callback_url = `${relay.url}/relay/callback`;
  const eventPath = path.join(tempDir("report-action-"), "event.json");
  await writeFile(
    eventPath,
    JSON.stringify({ action: dispatch.event_type, branch: "main", client_payload: dispatch.client_payload, repository: { full_name: DOWNSTREAM } }),
  );
  return { eventPath, payload: dispatch.client_payload, headSha, number };
}

/** An event file with a well-formed payload, for the tests in which the relay never sees the ticket. */
async function unsentEventFile(): Promise<string> {
  const eventPath = path.join(tempDir("report-action-"), "event.json");
  await writeFile(eventPath, JSON.stringify({ action: "pytorch-pr-trigger", client_payload: { ticket: "v1.unchecked.ticket", callback_url: `${relay.url}/relay/callback` } }));
  return eventPath;
}

/** The check run the relay created on `headSha` under `name`. */
function checkRun(headSha: string, name: string): Record<string, unknown> | undefined {
  return [...github.checkRuns.values()].find((check) => check.head_sha === headSha && check.name === name);
}

/** A GITHUB_OUTPUT file, and the outputs written to it. */
async function outputFile(): Promise<{ file: string; read: () => Promise<string> }> {
  const file = path.join(tempDir("report-action-"), "github-output");
  await writeFile(file, "");
  return { file, read: () => readFile(file, "utf8") };
}

/** The runner's environment for a step `uses: ./actions/report-ci-result` with the given inputs. */
function actionsEnv(eventPath: string, inputs: Record<string, string>, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: "repository_dispatch",
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_WORKFLOW: "pytorch-pr",
    GITHUB_RUN_ID: "555",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: DOWNSTREAM,
    GITHUB_JOB: "test",
    GITHUB_WORKSPACE: FIXTURES,
    ACTIONS_ID_TOKEN_REQUEST_URL: `${tokenService.url}/_apis/distributedtask/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    // What the runner passes for the action.yml defaults.
    "INPUT_STATUS": "completed",
    "INPUT_SCOPE": "job",
    "INPUT_JOB-STATUS": "success",
    "INPUT_AUDIENCE": "cross-repo-ci-relay",
    "INPUT_FAIL-ON-UNREACHABLE": "false",
    ...extra,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return env;
}

function inProcess(env: Record<string, string | undefined>, overrides: Partial<ActionDeps> = {}) {
  const lines: string[] = [];
  const sleeps: number[] = [];
  const deps: ActionDeps = {
    env,
    log: (line) => lines.push(line),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    retryDelaysMs: [10, 20, 40],
    ...overrides,
  };
  return { lines, sleeps, result: runReport(deps) };
}

describe("report-ci-result against a live relay", () => {
  it("reports in_progress with the bundle and completed with JUnit results in-process; the check run follows, and the answers link to it", async () => {
    const { eventPath, headSha, number } = await dispatchedEventFile();

    // The check run is only queued when the relay answers the first report: the answer points to the PR's checks page.
    const started = await outputFile();
    const child = await run(process.execPath, [BUNDLE], {
      env: {
        PATH: process.env.PATH,
        ...actionsEnv(eventPath, { status: "in_progress", "job-name": "test (npu, 1/2)" }, { "INPUT_JOB-STATUS": "", GITHUB_OUTPUT: started.file }),
      },
    });
    expect(child.stdout).toContain("::notice::relay accepted the in_progress report (HTTP 200)");
    expect(child.stdout).not.toContain("::error::");
    const checksPage = `${github.url}/${UPSTREAM}/pull/${number}/checks`;
    expect(await started.read()).toBe(`accepted=true\nduplicate=false\nstatus-code=200\ncheck-run-url=\nchecks-url=${checksPage}\n`);
    await settled();
    const name = "oot / tpu-backend / pytorch-pr / test (npu, 1/2)";
    expect(checkRun(headSha, name)).toMatchObject({ status: "in_progress" });

    // Once GitHub created it, the answer carries the check run's own page.
    const completed = await outputFile();
    const { lines, result } = inProcess(
      actionsEnv(
        eventPath,
        {
          "job-name": "test (npu, 1/2)",
          "job-status": "failure",
          junit: "py*.xml",
          "failure-kind": "test",
          environment: JSON.stringify({ sdk: "CANN 8.0", device: "Ascend 910B" }),
          "artifact-url": "https://example.org/artifacts/555",
        },
        { GITHUB_OUTPUT: completed.file },
      ),
    );
    const report = await result;
    const checkRunUrl = String(checkRun(headSha, name)!.html_url);
    expect(report).toMatchObject({ outcome: "accepted", httpStatus: 200, answer: { accepted: true, job: { status: "completed", conclusion: "failure" } } });
    expect(report.answer).toMatchObject({ check_run_url: checkRunUrl });
    expect(await completed.read()).toBe(`accepted=true\nduplicate=false\nstatus-code=200\ncheck-run-url=${checkRunUrl}\nchecks-url=\n`);
    expect(report.body).toMatchObject({
      conclusion: "failure",
      tests: { total: 9, passed: 4, failed: 2, skipped: 2, errors: 1 },
      failed_tests: ["test.test_ops.TestOpsNPU::test_add_float16", "test.test_ops.TestOpsNPU::test_mul[shape1-bfloat16]", "test.test_nn.TestConv::test_conv3d"],
      workflow: { name: "pytorch-pr", run_id: 555, run_attempt: 1, url: `https://github.com/${DOWNSTREAM}/actions/runs/555` },
    });
    expect(lines.some((line) => line.startsWith("::add-mask::"))).toBe(true);
    expect(tokenService.requests.every((audience) => audience === "cross-repo-ci-relay")).toBe(true);
    await settled();
    const check = checkRun(headSha, name)!;
    expect(check).toMatchObject({ status: "completed", conclusion: "failure" });
    expect((check.output as { summary: string }).summary).toContain("`test.test_nn.TestConv::test_conv3d`");

    // The relay recorded the job's state, and the HUD shows the completed attempt with its test counts.
    const store = openSqliteStore(dataDir);
    try {
      const [job] = await store.shaJobs(UPSTREAM, headSha);
      expect(job).toMatchObject({ downstreamRepo: DOWNSTREAM.toLowerCase(), status: "completed", conclusion: "failure", runId: 555, prNumber: number });
    } finally {
      await store.close();
    }
    const hudJobs = async () => {
      const view = (await (await fetch(`${relay.url}/api/hud/pr/${number}`)).json()) as PrView;
      return view.gating.flatMap((box) => box.jobs.map((cell) => [cell.jobName, cell.status, cell.tests?.failed]));
    };
    await expect.poll(hudJobs, { timeout: 10_000, interval: 50 }).toEqual([[name.split(" / ").at(-1), "completed", 2]]);
  });

  it("sends the run-level report (scope run) after the job reports, with the bundle; the relay accepts it", async () => {
    const { eventPath } = await dispatchedEventFile();
    const job = await inProcess(actionsEnv(eventPath, { "job-name": "test (npu, 1/2)", "job-status": "failure" })).result;
    expect(job).toMatchObject({ outcome: "accepted", httpStatus: 200 });
    expect(job.body).not.toHaveProperty("scope");

    // The final job of the reference workflow: `needs: [test]`, `if: always()`, one report step. A run has no check run of its own.
    const outputs = await outputFile();
    const needs = JSON.stringify({ test: { result: "failure", outputs: {} } });
    const child = await run(process.execPath, [BUNDLE], {
      env: { PATH: process.env.PATH, ...actionsEnv(eventPath, { scope: "run", needs, "run-jobs": "3" }, { GITHUB_JOB: "report-run", GITHUB_OUTPUT: outputs.file }) },
    });
    expect(child.stdout).toContain("::notice::relay accepted the run-level completed report (HTTP 200)");
    expect(child.stdout).not.toContain("::error::");
    expect(await outputs.read()).toBe("accepted=true\nduplicate=false\nstatus-code=200\ncheck-run-url=\nchecks-url=\n");

    // The same report in-process, to see the body and the relay's answer.
    const again = await inProcess(actionsEnv(eventPath, { scope: "run", needs, "run-jobs": "3" }, { GITHUB_JOB: "report-run" })).result;
    expect(again).toMatchObject({ outcome: "accepted", httpStatus: 200, answer: { accepted: true } });
    expect(again.body).toMatchObject({ scope: "run", run: { jobs: 3 }, status: "completed", conclusion: "failure", job: { name: "report-run" } });
  });

  it("fails the step without the id-token permission, naming it", async () => {
    const eventPath = await unsentEventFile();
    const { lines, result } = inProcess(actionsEnv(eventPath, {}, { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined }));
    expect(await result).toMatchObject({ outcome: "failed" });
    expect(lines.join("\n")).toMatch(/^::error::no OIDC token available.*permissions: id-token: write/m);

    const child = run(process.execPath, [BUNDLE], { env: { PATH: process.env.PATH, ...actionsEnv(eventPath, {}, { ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined }) } });
    await expect(child).rejects.toMatchObject({ code: 1, stdout: expect.stringContaining("permissions: id-token: write") });
  });

  it("fails the step with the relay's message on a 4xx (tampered ticket)", async () => {
    const { eventPath, payload } = await dispatchedEventFile();
    const tampered = `${payload.ticket.slice(0, -4)}AAAA`;
    await writeFile(eventPath, JSON.stringify({ action: "x", client_payload: { ...payload, ticket: tampered } }));
    const outputs = await outputFile();
    const { lines, result } = inProcess(actionsEnv(eventPath, {}, { GITHUB_OUTPUT: outputs.file }));
    const report = await result;
    expect(report).toMatchObject({ outcome: "failed", httpStatus: 401 });
    expect(report.message).toMatch(/^relay rejected the report \(HTTP 401\): ticket rejected/);
    expect(lines.find((line) => line.startsWith("::error::"))).toContain("ticket rejected");
    expect(await outputs.read()).toBe("accepted=false\nduplicate=false\nstatus-code=401\ncheck-run-url=\nchecks-url=\n");
  });

  it("warns on a 409 for an in_progress report after the job completed", async () => {
    const { eventPath } = await dispatchedEventFile();
    expect(await inProcess(actionsEnv(eventPath, {})).result).toMatchObject({ outcome: "accepted" });
    const late = inProcess(actionsEnv(eventPath, { status: "in_progress" }, { "INPUT_JOB-STATUS": "" }));
    expect(await late.result).toMatchObject({ outcome: "warning", httpStatus: 409 });
    expect(late.lines.some((line) => line.startsWith("::warning::relay answered 409"))).toBe(true);
  });

  it("passes with a warning when the relay is down, and fails with fail-on-unreachable", async () => {
    const { eventPath } = await dispatchedEventFile();
    const closed = `http://127.0.0.1:${await freePort()}/relay/callback`;
    const outputs = await outputFile();
    const down = inProcess(actionsEnv(eventPath, { "callback-url": closed }, { GITHUB_OUTPUT: outputs.file }));
    expect(await down.result).toMatchObject({ outcome: "warning" });
    expect(down.sleeps).toEqual([10, 20, 40]);
    expect(down.lines.find((line) => line.startsWith("::warning::"))).toMatch(/unreachable.*after 4 attempts.*the step passes/);
    expect(down.lines.some((line) => line.startsWith("::error::"))).toBe(false);
    expect(await outputs.read()).toBe("accepted=false\nduplicate=false\nstatus-code=\ncheck-run-url=\nchecks-url=\n");

    const strict = inProcess(actionsEnv(eventPath, { "callback-url": closed, "fail-on-unreachable": "true" }));
    expect(await strict.result).toMatchObject({ outcome: "failed" });
    expect(strict.lines.find((line) => line.startsWith("::error::"))).toContain("fail-on-unreachable is true");
  });

  it("the bundle passes the step on a warning (a relay that says retry in an hour: no waiting)", async () => {
    const eventPath = await unsentEventFile();
    // A Retry-After beyond MAX_RETRY_AFTER_MS counts as unreachable at once, so the real bundle takes that path without sleeping.
    const busy = createServer((_request, response) => {
      response.writeHead(429, { "content-type": "application/json", "retry-after": "3600" }).end(JSON.stringify({ error: "too many callbacks" }));
    });
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(busy.address() as AddressInfo).port}/relay/callback`;
      const outputs = await outputFile();
      const child = await run(process.execPath, [BUNDLE], { env: { PATH: process.env.PATH, ...actionsEnv(eventPath, { "callback-url": url }, { GITHUB_OUTPUT: outputs.file }) } });
      expect(child.stdout).toMatch(/^::warning::relay rate-limited the report \(HTTP 429, retry after 3600 s\).*the step passes/m);
      expect(await outputs.read()).toBe("accepted=false\nduplicate=false\nstatus-code=429\ncheck-run-url=\nchecks-url=\n");
    } finally {
      busy.closeAllConnections();
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("trims an oversize summary to the schema's cap with a note, and the relay accepts it", async () => {
    const { eventPath } = await dispatchedEventFile();
    const summaryFile = path.join(tempDir(), "summary.md");
    await writeFile(summaryFile, "x".repeat(MAX_SUMMARY_LENGTH + 5000));
    const { lines, result } = inProcess(actionsEnv(eventPath, { "summary-file": summaryFile }));
    const report = await result;
    expect(report.outcome).toBe("accepted");
    expect(report.body?.summary).toHaveLength(MAX_SUMMARY_LENGTH);
    expect(report.body?.summary?.endsWith(TRUNCATION_NOTE)).toBe(true);
    expect(TRUNCATION_NOTE).toContain("(truncated)");
    expect(lines.some((line) => line.startsWith("::warning::summary is 65000 characters"))).toBe(true);
  });

  it("fails clearly on a bad JUnit file, an unmatched glob and a body the schema refuses, before sending", async () => {
    const eventPath = await unsentEventFile();
    const bad = inProcess(actionsEnv(eventPath, { junit: "malformed.xml" }));
    expect((await bad.result).message).toMatch(/^\/.*\/test\/fixtures\/junit\/malformed\.xml is not well-formed XML \(line 1, column \d+\): Expected closing tag 'failure'/);
    expect(await bad.result).toMatchObject({ outcome: "failed" });
    expect(bad.lines.find((line) => line.startsWith("::error::"))).toMatch(/^::error::.*malformed\.xml is not well-formed XML/);

    expect((await inProcess(actionsEnv(eventPath, { junit: "reports/**/*.xml" })).result).message).toMatch(/^input junit: no file matches "reports\/\*\*\/\*\.xml"/);
    const invalid = await inProcess(actionsEnv(eventPath, { "failure-kind": "cosmic-rays", tests: '{"total": 1, "passed": 2, "failed": 0, "skipped": 0}' })).result;
    expect(invalid.outcome).toBe("failed");
    expect(invalid.message).toContain("does not match callback schema v1");
    expect(invalid.message).toContain("failure_kind: must be one of");
    expect(invalid.message).toContain("exceeds total");
    expect(tokenService.requests).toHaveLength(0);
  });

  it("sends a nightly self-report without a dispatch payload", async () => {
    tokenService.repository = "acme/npu-backend";
    const { lines, result } = inProcess(
      actionsEnv(
        "",
        { "upstream-sha": "b".repeat(40), "event-kind": "nightly", "callback-url": `${relay.url}/relay/callback`, junit: "googletest.xml" },
        { GITHUB_EVENT_PATH: undefined, GITHUB_EVENT_NAME: "schedule", GITHUB_REPOSITORY: "acme/npu-backend" },
      ),
    );
    const report = await result;
    expect(report).toMatchObject({ outcome: "accepted", answer: { accepted: true, upstream_verified: true } });
    // A self-report is never a check run.
    expect(report.answer).not.toHaveProperty("check_run_url");
    expect(report.answer).not.toHaveProperty("checks_url");
    expect(report.body).toMatchObject({ nightly: { upstream_sha: "b".repeat(40), event: "nightly" }, tests: { total: 8, failed: 2, skipped: 2 } });
    expect(report.body).not.toHaveProperty("ticket");
    expect(lines.some((line) => line.startsWith("::add-mask::"))).toBe(true);
  });
});

describe("report-ci-result retries (stub relay)", () => {
  const env = (eventPath: string) => actionsEnv(eventPath, { "callback-url": "http://relay.invalid/relay/callback" });

  it("retries 5xx with backoff, honours Retry-After once on 429, and mints a fresh token per attempt", async () => {
    const eventPath = await unsentEventFile();
    const answers = [
      new Response(JSON.stringify({ error: "internal error" }), { status: 500 }),
      new Response(JSON.stringify({ error: "too many callbacks" }), { status: 429, headers: { "retry-after": "7" } }),
      new Response(JSON.stringify({ accepted: true, duplicate: false }), { status: 200 }),
    ];
    const posts: string[] = [];
    const stub: typeof fetch = (input, init) => {
      const url = input instanceof URL ? input.href : typeof input === "string" ? input : input.url;
      if (init?.method === "POST") {
        posts.push(url);
        return Promise.resolve(answers.shift()!);
      }
      return fetch(input, init);
    };
    const { sleeps, result } = inProcess(env(eventPath), { fetch: stub });
    expect(await result).toMatchObject({ outcome: "accepted", httpStatus: 200 });
    expect(sleeps).toEqual([10, 7000]);
    expect(posts).toHaveLength(3);
    expect(tokenService.requests).toHaveLength(3);
  });

  it("treats a second 429 as unreachable", async () => {
    const eventPath = await unsentEventFile();
    const stub: typeof fetch = (input, init) =>
      init?.method === "POST" ? Promise.resolve(new Response(JSON.stringify({ error: "too many callbacks from x; retry in 1 s" }), { status: 429, headers: { "retry-after": "1" } })) : fetch(input, init);
    const { result } = inProcess(env(eventPath), { fetch: stub });
    expect(await result).toMatchObject({ outcome: "warning", httpStatus: 429 });
  });
});
