// The health audit end to end over a seeded HUD history (embedded ClickHouse, written the way production
// writes it: test/helpers/hud-seed.ts) with GitHub played by nock: an issue opened after two failing
// weeks, nothing written when nothing changed, the issue closed once the backend recovers. Time is
// injected, never waited for. Then a running relay, to see the audit wired in: its leader audits once
// the allowlist is loaded, with the App's installation token on the audit repo.
import { writeFileSync } from "node:fs";
import path from "node:path";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { HudService } from "../../src/hud/service.js";
import { runHealthAudit } from "../../src/levels/audit-job.js";
import { createMetrics } from "../../src/metrics.js";
import { allowlistFrom, openTestHud, type TestHud } from "../helpers/hud.js";
import { seedDispatch, seedJob, UPSTREAM } from "../helpers/hud-seed.js";
import { testLog } from "../helpers/probot.js";
import { startRelay, tempDir, type RunningRelay } from "../helpers/server.js";

const API = "https://api.github.com";
const ISSUES = "/repos/acme/relay-config/issues";
const LIST_QUERY = { labels: "relay-health", state: "open", per_page: 100 };
const DAY = 86_400_000;
/** The first runs' clock: a Friday noon; the weeks judged end at that day's midnight (UTC). */
const T0 = Date.parse("2026-11-20T12:00:00.000Z");

// L3 sets no requirements: tpu never gets an issue, however it does.
const ALLOWLIST = allowlistFrom(`
L4:
  - acme/npu: "@npu-oncall"
  - zeta/late: "@zeta"
L3:
  - beta/tpu: "@tpu-oncall"
requirements:
  L4:
    min_test_pass_rate: 90%
`);

const NPU = { repo: "acme/npu", name: "npu", level: "L4" };
const LATE = { repo: "zeta/late", name: "late", level: "L4" };
const TPU = { repo: "beta/tpu", name: "tpu", level: "L3" };

/** A PR dispatched to `backend` at `at` whose jobs passed or failed (tests) as `conclusions` say. */
async function seedPr(hud: TestHud, backend: typeof NPU, pr: number, at: number, conclusions: Array<"success" | "failure">): Promise<void> {
  const delivery = `d-${backend.name}-${pr}`;
  const sha = `sha${pr}`;
  await seedDispatch(hud.store, { ...backend, delivery, pr, sha, at, outcome: "sent" });
  for (const [index, conclusion] of conclusions.entries()) {
    await seedJob(hud.store, { ...backend, delivery, pr, sha, job: `job${index}`, at: at + 60_000, conclusion, ...(conclusion === "failure" && { failureKind: "test" as const }), queueMs: 60_000 });
  }
}

let hud: TestHud;
let service: HudService;
const metrics = createMetrics({ defaultMetrics: false });
const octokit = new ProbotOctokit({ auth: { token: "installation-token" }, retry: { enabled: false }, throttle: { enabled: false } });

beforeEach(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

/** Two weeks of history in a fresh HUD: the service the audit reads from. */
async function seedWeeks(): Promise<void> {
  hud = openTestHud();
  // The week of 2026-11-06 … 12: npu and late pass half their tests; tpu none (its level asks nothing).
  await seedPr(hud, NPU, 1, Date.parse("2026-11-08T10:00:00.000Z"), ["success", "failure"]);
  await seedPr(hud, LATE, 1, Date.parse("2026-11-08T10:00:00.000Z"), ["success", "failure"]);
  await seedPr(hud, TPU, 1, Date.parse("2026-11-08T10:00:00.000Z"), ["failure"]);
  // The week of 2026-11-13 … 19: npu 3 of 4, late 1 of 2.
  await seedPr(hud, NPU, 2, Date.parse("2026-11-15T10:00:00.000Z"), ["success", "success", "success", "failure"]);
  await seedPr(hud, LATE, 2, Date.parse("2026-11-15T10:00:00.000Z"), ["success", "failure"]);
  await seedPr(hud, TPU, 2, Date.parse("2026-11-15T10:00:00.000Z"), ["failure"]);
  expect((await hud.writer.flush()).rejected).toBe(0);
  service = new HudService({ connection: hud.connection, allowlist: () => ALLOWLIST, upstreamRepo: UPSTREAM });
}

const audit = (now: number, maxWrites?: number) =>
  runHealthAudit({
    repo: "acme/relay-config",
    windows: 2,
    client: () => Promise.resolve(octokit),
    healthByWeek: (weeks, end) => service.healthByWeek(weeks, end),
    allowlist: () => ALLOWLIST,
    metrics,
    log: testLog,
    now: () => now,
    ...(maxWrites !== undefined && { maxWrites }),
  });

interface Issue {
  number: number;
  title: string;
  body: string;
}
/** GitHub's listing of the open issues with the audit's label (a pull request among them, as GitHub lists them). */
const listing = (issues: Issue[]) => [...issues.map((issue) => ({ ...issue, labels: [{ name: "relay-health" }] })), { number: 99, title: "A PR", body: "<!-- relay-health:acme/npu -->", pull_request: {} }];

const actions = async (action: string, outcome: string) => (await metrics.healthAuditActions.get()).values.find((value) => value.labels.action === action && value.labels.outcome === outcome)?.value ?? 0;

const NPU_BODY = `<!-- relay-health:acme/npu -->
**npu** (\`acme/npu\`) missed the requirements of its level, **L4**, in each of the last 2 weeks.

**Proposed:** demote npu from L4 to L3, by a pull request to the allowlist. The upstream's maintainers decide; the relay changes nothing on its own.

**Oncalls:** @npu-oncall

### Evidence

Each week (UTC) judged on its own against L4's requirements; ✗ marks a missed requirement, n/a a figure with nothing to measure.

| week | verdict | test pass rate ≥ 90% |
|---|---|---|
| 2026-11-06 to 2026-11-12 | fails | 50% ✗ |
| 2026-11-13 to 2026-11-19 | fails | 75% ✗ |

_Kept by the relay's health audit: opened after 2 failing weeks in a row, updated while npu misses L4, closed once the latest week meets it again. How each figure is measured: docs/levels.md in the relay's repository._`;

describe("the scheduled health audit", () => {
  const created: Issue[] = [];
  beforeAll(seedWeeks);
  // chDB binds one data directory per process: closed before the relay below opens its own.
  afterAll(() => hud.close());

  it("opens one issue per backend failing its level two weeks in a row, within the run's write bound", async () => {
    const posted: unknown[] = [];
    const scope = nock(API)
      .get(ISSUES)
      .query(LIST_QUERY)
      .reply(200, listing([]))
      .post(ISSUES, (body) => posted.push(body) > 0)
      .reply(201, { number: 12 });
    // One write allowed: npu's issue (allowlist order); late's waits for the next run.
    await audit(T0, 1);
    expect(scope.isDone()).toBe(true);
    expect(posted).toEqual([{ title: "Health audit: npu (acme/npu) misses L4's requirements", body: NPU_BODY, labels: ["relay-health"] }]);
    expect([await actions("create", "done"), await actions("create", "deferred")]).toEqual([1, 1]);
    created.push({ number: 12, title: "Health audit: npu (acme/npu) misses L4's requirements", body: NPU_BODY });

    // The next run, later the same day, lists npu's issue and opens late's.
    const next = nock(API)
      .get(ISSUES)
      .query(LIST_QUERY)
      .reply(200, listing(created))
      .post(ISSUES, (body) => posted.push(body) > 0)
      .reply(201, { number: 13 });
    await audit(T0 + 3 * 3_600_000);
    expect(next.isDone()).toBe(true);
    const late = posted[1] as Issue & { labels: string[] };
    expect(late.title).toBe("Health audit: late (zeta/late) misses L4's requirements");
    expect(late.labels).toEqual(["relay-health"]);
    expect(late.body).toContain("| 2026-11-06 to 2026-11-12 | fails | 50% ✗ |\n| 2026-11-13 to 2026-11-19 | fails | 50% ✗ |");
    expect(late.body).toContain("**Oncalls:** @zeta");
    created.push({ number: 13, title: late.title, body: late.body });
  });

  it("writes nothing when a run finds the same figures", async () => {
    const scope = nock(API).get(ISSUES).query(LIST_QUERY).reply(200, listing(created));
    // Any other request would find no interceptor (net connect is off) and fail the run.
    await audit(T0 + 6 * 3_600_000);
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("closes the issue of a backend that recovered, with a comment, and refreshes the evidence of one still open", async () => {
    // The week of 2026-11-20 … 26: every npu test passes; late reports nothing.
    await seedPr(hud, NPU, 3, Date.parse("2026-11-22T10:00:00.000Z"), ["success", "success"]);
    expect((await hud.writer.flush()).rejected).toBe(0);
    const requests: Array<[string, unknown]> = [];
    const record = (what: string) => (body: unknown) => requests.push([what, body]) > 0;
    const scope = nock(API)
      .get(ISSUES)
      .query(LIST_QUERY)
      .reply(200, listing(created))
      .post(`${ISSUES}/12/comments`, record("comment #12"))
      .reply(201, { id: 1 })
      .patch(`${ISSUES}/12`, record("patch #12"))
      .reply(200, { number: 12 })
      .patch(`${ISSUES}/13`, record("patch #13"))
      .reply(200, { number: 13 });
    await audit(T0 + 7 * DAY);
    expect(scope.isDone()).toBe(true);
    expect(requests.slice(0, 2)).toEqual([
      [
        "comment #12",
        { body: "npu meets L4's requirements in the latest week (2026-11-20 to 2026-11-26, UTC): closing. The health audit opens a new issue if it misses its level 2 weeks in a row again." },
      ],
      ["patch #12", { state: "closed", state_reason: "completed" }],
    ]);
    const [what, update] = requests[2] as [string, Issue];
    expect(what).toBe("patch #13");
    expect(update.title).toBe("Health audit: late (zeta/late) misses L4's requirements");
    expect(update.body).toContain("and the latest week has no results to judge: this issue stays open until a week meets them.");
    expect(update.body).toContain("| 2026-11-13 to 2026-11-19 | fails | 50% ✗ |\n| 2026-11-20 to 2026-11-26 | no data | n/a |");
    expect([await actions("close", "done"), await actions("update", "done")]).toEqual([1, 1]);
  });
});

describe("the health audit in a running relay", () => {
  let relay: RunningRelay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it("runs on the leader once the allowlist is loaded, with the App's installation on the audit repo", async () => {
    nock.enableNetConnect("127.0.0.1");
    const file = path.join(tempDir(), "allowlist.yml");
    writeFileSync(file, "L2:\n  - acme/npu\nrequirements:\n  L2:\n    min_test_pass_rate: 90%\n");
    const requests: Array<[string, unknown]> = [];
    const record = (what: string) => (body: unknown) => requests.push([what, body]) > 0;
    // A backend removed from the allowlist still has its issue open; npu has no results, so no issue.
    const scope = nock(API)
      .get("/repos/acme/relay-config/installation")
      .reply(200, { id: 7 })
      .post("/app/installations/7/access_tokens")
      .reply(200, { token: "audit-token" })
      .get(ISSUES)
      .query(LIST_QUERY)
      .matchHeader("authorization", "token audit-token")
      .reply(200, listing([{ number: 5, title: "Health audit: gone (zeta/gone) misses L2's requirements", body: "<!-- relay-health:zeta/gone -->" }]))
      .post(`${ISSUES}/5/comments`, record("comment #5"))
      .reply(201, { id: 1 })
      .patch(`${ISSUES}/5`, record("patch #5"))
      .reply(200, { number: 5 });
    relay = await startRelay({ ALLOWLIST_FILE: file, RELAY_AUDIT_REPO: "acme/relay-config" });
    await vi.waitFor(() => expect(scope.isDone()).toBe(true), { timeout: 5000 });
    expect(requests).toEqual([
      ["comment #5", { body: "`zeta/gone` is no longer in the allowlist: nothing to audit, closing." }],
      ["patch #5", { state: "closed", state_reason: "not_planned" }],
    ]);
    const metricsText = async () => (await fetch(`${relay!.url}/metrics`)).text();
    await vi.waitFor(async () => expect(await metricsText()).toContain('relay_health_audit_actions_total{action="close",outcome="done"} 1'));
    expect(await metricsText()).toMatch(/relay_background_job_runs_total\{job="health audit",outcome="done"\} [1-9]/);
    expect(await metricsText()).not.toContain('relay_background_job_runs_total{job="health audit",outcome="failed"}');
  });
});
