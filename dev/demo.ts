// The offline end-to-end demo (`npm run demo`): the relay with its embedded stores under a fresh temp dir,
// GitHub played by the test stand-in, a local OIDC issuer in place of GitHub Actions' token service, and
// two simulated downstream backends. Two weeks of backdated history are written first (demo-history.ts);
// then a real pull_request "opened" webhook and a push to the default branch go in; dispatches, check runs
// and HUD rows come out, on every HUD page. Dev tooling only: nothing under src/ imports this or the stand-in.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllowlist } from "../src/allowlist/parse.js";
import type { DispatchPayload } from "../src/dispatch/payload.js";
import type { PrView, TrunkView } from "../src/hud/views.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import type { OutboxStats } from "../src/store/store.js";
import { seedHistory, type HistorySummary } from "./demo-history.js";
import { webhookExample } from "../test/helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../test/helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../test/helpers/oidc-issuer.js";
import { deliver, freePort, startRelay, tempDir, type RunningRelay } from "../test/helpers/server.js";

/** The repo of the @octokit/webhooks-examples payload replayed below. */
const UPSTREAM = "Codertocat/Hello-World";
const WORKFLOW = "pytorch-pr";
/** The downstream workflow's last job, which sends the run-level report (as in docs/downstream/workflow.yml). */
const RUN_REPORT_JOB = "report-run";
// An L4 backend (check runs on every PR) and an L3 one (check runs only with its label, added below).
// The device-group form names them "tpu" and "npu" (check runs "oot / tpu", "oot / npu"). Requirements
// give the summary and health pages verdicts to show.
const NPU_LABEL = "ciflow/oot/npu";
const ALLOWLIST = `
L3:
  npu:
    demo-npu/torch-npu: [npu-oncall]
L4:
  tpu:
    demo-tpu/tpu-backend: [tpu-oncall]
requirements:
  L3:
    min_infra_availability: 0.8
    min_test_pass_rate: 0.7
  L4:
    min_infra_availability: 0.9
    min_test_pass_rate: 0.9
    max_queue_time_p90: 5m
`;
/** Days of backdated history: two weeks, so the weekly health page compares two. */
const HISTORY_DAYS = 14;

/** The fields of the replayed push the demo reads. */
interface PushEvent {
  ref: string;
  after: string;
}

/** The fields of the replayed webhook the demo reads or changes. */
interface PullRequestEvent {
  number: number;
  pull_request: { author_association: string; head: { sha: string }; labels: Array<{ name: string } & Record<string, unknown>> };
}

interface SimulatedJob {
  name: string;
  /** The completed report's result fields (callback body v1). */
  result: Record<string, unknown>;
}

/** What each downstream's CI "runs" on the PR: one NPU job fails two tests, so the HUD has something to show. */
const DOWNSTREAMS: Record<string, SimulatedJob[]> = {
  "demo-tpu/tpu-backend": [
    { name: "test (tpu, 1/1)", result: { conclusion: "success", tests: { total: 1480, passed: 1423, failed: 0, skipped: 57 } } },
  ],
  "demo-npu/torch-npu": [
    { name: "test (npu, 1/2)", result: { conclusion: "success", tests: { total: 812, passed: 790, failed: 0, skipped: 22 } } },
    {
      name: "test (npu, 2/2)",
      result: {
        conclusion: "failure",
        failure_kind: "test",
        tests: { total: 798, passed: 771, failed: 2, skipped: 25 },
        failed_tests: ["test/test_ops.py::TestCommonNPU::test_matmul_bfloat16", "test/test_ops.py::TestCommonNPU::test_addmm_bfloat16"],
        summary: "Two bfloat16 matmul tests fail on the NPU since this change.",
      },
    },
  ],
};

/** The same jobs on the pushed commit, all passing: the PR's failure is new (the PR page says so). */
const ON_TRUNK: Record<string, SimulatedJob[]> = Object.fromEntries(
  Object.entries(DOWNSTREAMS).map(([repo, jobs]) => [
    repo,
    jobs.map(({ name, result }) => {
      const { total, skipped } = result.tests as { total: number; skipped: number };
      return { name, result: { conclusion: "success", tests: { total, passed: total - skipped, failed: 0, skipped } } };
    }),
  ]),
);
/** The allowlist's backends, L4 first (the history makes the L4 one the steadier). */
const BACKENDS = (() => {
  const parsed = parseAllowlist(ALLOWLIST);
  if (!parsed.ok) throw new Error(`the demo's allowlist is invalid: ${JSON.stringify(parsed.issues)}`);
  return [...parsed.allowlist.entries].sort((a, b) => b.level.localeCompare(a.level));
})();

export interface DemoOptions {
  /** Receives the human-readable output, one line at a time; default: discarded. */
  print?: (line: string) => void;
  /** Leave everything running after a successful run (stop it with the result's `stop`). */
  keepRunning?: boolean;
}

export interface DemoDispatch {
  /** The downstream repo (owner/repo) the repository_dispatch went to. */
  repo: string;
  eventType: string;
  payload: DispatchPayload;
}

export interface ReportedJob {
  backend: string;
  downstreamRepo: string;
  name: string;
  conclusion: string;
}

export interface DemoCheckRun {
  name: string;
  status: string;
  conclusion: string | null;
  title: string;
}


export interface DemoResult {
  relayUrl: string;
  prNumber: number;
  history: HistorySummary;
  dispatches: DemoDispatch[];
  /** The dispatches of the push to the default branch. */
  pushDispatches: DemoDispatch[];
  reports: ReportedJob[];
  checkRuns: DemoCheckRun[];
  /** pages: every HUD page's URL and HTML, as the demo read them at the end. */
  hud: { pr: PrView; urls: string[]; pages: Array<{ url: string; html: string }> };
  /** Stops the relay and the stand-ins and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? (() => undefined);
  const dir = tempDir("relay-demo-");
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const stopOne of stops.reverse()) await stopOne();
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const github = await startGitHubStandIn();
    stops.push(() => github.close());
    const oidc = await startOidcIssuer();
    stops.push(() => oidc.close());
    const dataDir = path.join(dir, "data");
    const history = await writeHistory(dataDir);
    const relay = await startDemoRelay(github, oidc, dir);
    stops.push(() => relay.stop());
    print("Cross-repo CI relay: offline demo");
    print(`  relay              ${relay.url}  (DATA_DIR ${dataDir})`);
    print(`  GitHub stand-in    ${github.apiUrl}`);
    print(`  OIDC issuer        ${oidc.issuer}`);
    print(`  history            ${HISTORY_DAYS} days backdated: ${history.prs} PRs and ${history.pushes} pushes, ${history.jobs} jobs (written as the relay writes them)`);

    const pr = webhookExample("pull_request", (payload) => payload.action === "opened" && payload.installation !== undefined) as PullRequestEvent;
    pr.pull_request.author_association = "MEMBER"; // a trusted author: dispatched without approval
    pr.pull_request.labels.push({ id: 1, node_id: "LA_demo", url: "", name: NPU_LABEL, color: "ededed", default: false, description: null });
    const { number: prNumber, pull_request: { head, labels } } = pr;
    const response = await deliver(relay, "pull_request", pr, "demo-delivery");
    if (response.status !== 200) throw new Error(`the relay answered the webhook with ${response.status}: ${await response.text()}`);
    print("");
    print(`1. Webhook pull_request "opened" for ${UPSTREAM}#${prNumber} (labels: ${labels.map((label) => label.name).join(", ")}) → ${response.status}`);

    await settled(relay);
    const dispatches = recordedDispatches(github, "pull_request");
    print("");
    print("2. repository_dispatch sent by the relay (as recorded by the GitHub stand-in)");
    for (const { repo, eventType, payload } of dispatches) {
      print(`   ${repo}  event_type=${eventType}`);
      print(`     backend ${payload.backend.name} (${payload.backend.level}), check runs shown: ${payload.backend.shows_check_run}, blocks PR: ${payload.backend.blocks_pr}`);
      print(`     PR #${payload.pr_number} "${payload.upstream.title}" at ${payload.head_sha.slice(0, 12)}, labels [${payload.upstream.labels.join(", ")}]`);
      print(`     callback_url ${payload.callback_url}, ticket ${payload.ticket.slice(0, 16)}… (${payload.ticket.length} chars)`);
    }

    print("");
    print("3. Simulated downstream CI reports to the callback URL (OIDC token + ticket)");
    const reports = await reportAll(relay, oidc, dispatches, DOWNSTREAMS, 7000, print);

    const checkRuns = await finalCheckRuns(github, head.sha, dispatches.length + reports.length);
    print("");
    print(`4. Check runs on ${UPSTREAM}@${head.sha.slice(0, 12)} (as the relay left them on the stand-in)`);
    const width = Math.max(...checkRuns.map((run) => run.name.length));
    for (const run of checkRuns) print(`   ${run.name.padEnd(width)}  ${run.status} ${run.conclusion ?? ""}  "${run.title}"`);

    const push = webhookExample("push", (payload) => payload.ref === "refs/heads/master" && payload.installation !== undefined) as PushEvent;
    const pushed = await deliver(relay, "push", push, "demo-push");
    if (pushed.status !== 200) throw new Error(`the relay answered the push webhook with ${pushed.status}: ${await pushed.text()}`);
    await settled(relay);
    const pushDispatches = recordedDispatches(github, "push");
    print("");
    print(`5. Webhook push to ${push.ref} of ${UPSTREAM} (${push.after.slice(0, 12)}) → ${pushed.status}: dispatched to ${pushDispatches.map((dispatch) => dispatch.repo).join(", ")}, which report`);
    const trunkReports = await reportAll(relay, oidc, pushDispatches, ON_TRUNK, 7100, print);

    // The push's rows were queued after the PR's: once they show, so do the PR's, with the trunk to compare.
    await waitForTrunk(relay.url, push.after, trunkReports.length);
    const hudPr = await waitForHud(relay.url, prNumber, reports);
    const urls = hudUrls(relay.url, prNumber);
    const pages = await readPages(urls);
    print("");
    print(`6. HUD: GET /api/hud/pr/${prNumber} shows`);
    for (const box of [...hudPr.gating, ...hudPr.hudOnly]) {
      const jobs = box.jobs.map((job) => `${job.jobName} ${job.conclusion ?? job.status}${job.trunk ? ` (${job.trunk.kind === "new" ? "new: passes on trunk" : "also on trunk"})` : ""}`).join("; ");
      print(`   ${box.backendName} (${box.level}, ${box.downstreamRepo}): ${box.missing ? box.missing.detail : jobs}`);
    }
    for (const line of browserHint(urls, options.keepRunning === true)) print(line);

    if (!options.keepRunning) await stop();
    return { relayUrl: relay.url, prNumber, history, dispatches, pushDispatches, reports, checkRuns, hud: { pr: hudPr, urls, pages }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every HUD page, each backend's and the PR's included. */
function hudUrls(relayUrl: string, prNumber: number): string[] {
  const pages = ["/hud", "/hud/l4", "/hud/trunk", "/hud/health", ...BACKENDS.map((backend) => `/hud/${backend.repo}`).sort(), `/hud/pr/${prNumber}`];
  return pages.map((page) => `${relayUrl}${page}`);
}

/** Only a relay that keeps running can be opened (--serve): then the pages' URLs; otherwise how to get one. */
export function browserHint(urls: readonly string[], serving: boolean): string[] {
  return serving
    ? ["   Open in a browser:", ...urls.map((url) => `     ${url}`)]
    : ["   Run `npm run demo -- --serve` to keep the relay running and open these pages in a browser."];
}

/** The history, written into the relay's store before it starts (its HUD writer drains it into ClickHouse). */
async function writeHistory(dataDir: string): Promise<HistorySummary> {
  mkdirSync(dataDir, { recursive: true });
  const store = openSqliteStore(dataDir);
  try {
    const backends = BACKENDS.map(({ repo, name, level }) => ({ repo, name, level, jobs: (DOWNSTREAMS[repo] ?? []).map((job) => job.name) }));
    return await seedHistory(store, { upstream: UPSTREAM, workflow: WORKFLOW, backends, now: Date.now(), days: HISTORY_DAYS });
  } finally {
    await store.close();
  }
}

/** The relay against the stand-in, on a port chosen up front so callback_url and HUD links point at it. */
async function startDemoRelay(github: GitHubStandIn, oidc: OidcIssuer, dir: string): Promise<RunningRelay> {
  const allowlistFile = path.join(dir, "allowlist.yml");
  writeFileSync(allowlistFile, ALLOWLIST);
  github.install(1, [UPSTREAM]);
  Object.keys(DOWNSTREAMS).forEach((repo, index) => github.install(11 + index, [repo]));
  const port = await freePort();
  return startRelay(
    {
      UPSTREAM_REPO: UPSTREAM,
      ALLOWLIST_FILE: allowlistFile,
      DATA_DIR: path.join(dir, "data"),
      GHE_HOST: github.host,
      GHE_PROTOCOL: "http",
      GITHUB_OIDC_ISSUER: oidc.issuer,
      RELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Show every check-run state at once and flush HUD rows quickly: a demo has no bursts to coalesce.
      RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
      RELAY_HUD_FLUSH_MS: "100",
    },
    { baseUrl: github.apiUrl, port },
  );
}

/** Waits until the relay has sent everything it stored (dispatches, check runs). */
async function settled(relay: RunningRelay): Promise<void> {
  await waitFor(
    10_000,
    async () => {
      const outbox = (await relay.dispatch?.readiness())?.details.outbox as OutboxStats | undefined;
      if (outbox && outbox.dead > 0) throw new Error(`${outbox.dead} GitHub request(s) failed for good; rerun with TEST_LOG_LEVEL=info to see why`);
      return outbox?.pending === 0 || undefined;
    },
    () => "the relay still has GitHub requests pending after 10 s",
  );
}

/** What each downstream received for the upstream `event`, read back from the stand-in's recorded requests. */
function recordedDispatches(github: GitHubStandIn, event: "pull_request" | "push"): DemoDispatch[] {
  const dispatches = github
    .find("POST", /^\/repos\/[^/]+\/[^/]+\/dispatches$/)
    .map((request) => {
      const body = request.body as { event_type: string; client_payload: DispatchPayload };
      return { repo: request.path.split("/").slice(2, 4).join("/"), eventType: body.event_type, payload: body.client_payload };
    })
    .filter((dispatch) => dispatch.payload.event.name === event);
  const expected = Object.keys(DOWNSTREAMS);
  if (dispatches.length !== expected.length || !expected.every((repo) => dispatches.some((dispatch) => dispatch.repo === repo))) {
    throw new Error(`expected one dispatch to each of ${expected.join(", ")}; got ${dispatches.map((dispatch) => dispatch.repo).join(", ") || "none"}`);
  }
  return dispatches;
}

/**
 * Each downstream reports its jobs the way report-ci-result does: in_progress first, then completed; then
 * the run's last job (`report-run` in docs/downstream/workflow.yml) sends the run-level report (`scope: run`)
 * that says the run is over. A backend's aggregate check run concludes only once that report (or GitHub's
 * workflow_run event, which the stand-in never sends) has come.
 */
async function reportAll(
  relay: RunningRelay,
  oidc: OidcIssuer,
  dispatches: DemoDispatch[],
  downstreams: Record<string, SimulatedJob[]>,
  firstRunId: number,
  print: (line: string) => void,
): Promise<ReportedJob[]> {
  const reports: ReportedJob[] = [];
  const nameWidth = Math.max(RUN_REPORT_JOB.length, ...Object.values(downstreams).flatMap((jobs) => jobs.map((job) => job.name.length)));
  const workflowOf = (repo: string, index: number) => {
    const runId = firstRunId + index;
    return { name: WORKFLOW, run_id: runId, run_attempt: 1, url: `https://github.com/${repo}/actions/runs/${runId}` };
  };
  for (const status of ["in_progress", "completed"] as const) {
    for (const [index, { repo, payload }] of dispatches.entries()) {
      const workflow = workflowOf(repo, index);
      for (const job of downstreams[repo] ?? []) {
        const body = { schema_version: 1, ticket: payload.ticket, status, workflow, job: { name: job.name }, ...(status === "completed" && job.result) };
        const { status: answered, answer } = await postReport(oidc, repo, payload.callback_url, body, `${status} report for "${job.name}"`);
        const conclusion = String(job.result.conclusion);
        print(`   ${repo.padEnd(20)}  ${job.name.padEnd(nameWidth)}  ${(status === "completed" ? `completed ${conclusion}` : status).padEnd(17)} → ${answered} ${answer}`);
        if (status === "completed") reports.push({ backend: payload.backend.name, downstreamRepo: repo, name: job.name, conclusion });
      }
    }
    await settled(relay);
  }
  // The run-level report, as report-ci-result sends it with `scope: run`: the run's conclusion is the worst
  // of its jobs' (failure, then cancelled, then success), and run.jobs counts every job, report-run included.
  // A push has no check runs for it to conclude (the relay answers it as a duplicate), so the demo sends none.
  for (const [index, { repo, payload }] of dispatches.entries()) {
    if (payload.event.name === "push") continue;
    const jobs = downstreams[repo] ?? [];
    const results = jobs.map((job) => String(job.result.conclusion));
    const conclusion = results.includes("failure") ? "failure" : results.includes("cancelled") ? "cancelled" : "success";
    const body = {
      schema_version: 1,
      ticket: payload.ticket,
      scope: "run",
      status: "completed",
      conclusion,
      workflow: workflowOf(repo, index),
      job: { name: RUN_REPORT_JOB },
      run: { jobs: jobs.length + 1 },
    };
    const { status: answered, answer } = await postReport(oidc, repo, payload.callback_url, body, "run-level report");
    print(`   ${repo.padEnd(20)}  ${RUN_REPORT_JOB.padEnd(nameWidth)}  ${`run over, ${conclusion}`.padEnd(17)} → ${answered} ${answer}`);
  }
  await settled(relay);
  return reports;
}

/** Posts one callback body as `repo`'s workflow would (its OIDC token); anything but 200 stops the demo. */
async function postReport(oidc: OidcIssuer, repo: string, callbackUrl: string, body: Record<string, unknown>, what: string): Promise<{ status: number; answer: string }> {
  const response = await fetch(callbackUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository: repo })}` },
    body: JSON.stringify(body),
  });
  const answer = await response.text();
  if (response.status !== 200) throw new Error(`the relay refused ${repo}'s ${what}: ${response.status} ${answer}`);
  return { status: response.status, answer };
}

/** The head's check runs once all of them (an aggregate per backend, one per job) have completed. */
async function finalCheckRuns(github: GitHubStandIn, headSha: string, expected: number): Promise<DemoCheckRun[]> {
  const runs = () =>
    [...github.checkRuns.values()]
      .filter((run) => run.head_sha === headSha)
      .map((run) => ({
        name: String(run.name),
        status: String(run.status),
        conclusion: typeof run.conclusion === "string" ? run.conclusion : null,
        title: String((run.output as { title?: string } | undefined)?.title ?? ""),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  return waitFor(
    10_000,
    () => {
      const current = runs();
      return current.length === expected && current.every((run) => run.status === "completed") ? current : undefined;
    },
    () => `expected ${expected} completed check runs within 10 s; the stand-in has ${JSON.stringify(runs())}`,
  );
}

/**
 * Polls the HUD's JSON for the PR until every reported job shows up there completed. Rows reach
 * ClickHouse through a batched writer (RELAY_HUD_FLUSH_MS), so they lag the callbacks a little.
 */
export async function waitForHud(relayUrl: string, prNumber: number, jobs: ReportedJob[], timeoutMs = 20_000): Promise<PrView> {
  const url = `${relayUrl}/api/hud/pr/${prNumber}`;
  let problem = "no answer yet";
  return waitFor(
    timeoutMs,
    async () => {
      const response = await fetch(url);
      if (!response.ok) {
        problem = `last answer: ${response.status} ${response.statusText} ${(await response.text()).slice(0, 200)}`.trim();
        return undefined;
      }
      const hud = (await response.json()) as PrView;
      const boxes = [...hud.gating, ...hud.hudOnly];
      const absent = jobs.filter(
        (job) => !boxes.some((box) => box.backendName === job.backend && box.jobs.some((cell) => cell.jobName === job.name && cell.status === "completed")),
      );
      if (absent.length === 0) return hud;
      problem = `not shown completed: ${absent.map((job) => `${job.backend} / ${job.name}`).join(", ")}`;
      return undefined;
    },
    () => `the HUD did not show every reported job as completed within ${timeoutMs / 1000} s at ${url} (${problem})`,
  );
}

/** Polls the trunk grid's JSON until the pushed commit's row shows `jobs` completed jobs. */
async function waitForTrunk(relayUrl: string, sha: string, jobs: number, timeoutMs = 20_000): Promise<void> {
  const url = `${relayUrl}/api/hud/trunk`;
  await waitFor(
    timeoutMs,
    async () => {
      const response = await fetch(url);
      if (!response.ok) return undefined;
      const row = ((await response.json()) as TrunkView).history.rows.find((candidate) => candidate.headSha === sha);
      return row && Object.values(row.cells).filter((cell) => cell.status === "completed").length === jobs ? true : undefined;
    },
    () => `the trunk grid did not show ${jobs} completed jobs on ${sha.slice(0, 12)} within ${timeoutMs / 1000} s at ${url}`,
  );
}

/** The HUD pages the demo points people at: each must answer (their HTML is the demo's result). */
async function readPages(urls: string[]): Promise<Array<{ url: string; html: string }>> {
  return Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      const html = await response.text();
      if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}, expected a HUD page`);
      return { url, html };
    }),
  );
}

/** Polls `check` every 50 ms until it returns a value; past the timeout, throws `describe()`'s message. */
async function waitFor<T>(timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
