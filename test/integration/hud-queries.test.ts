// HUD queries on embedded ClickHouse (chDB) over the seeded history in test/helpers/hud-seed.ts, with
// the exact figures that history must produce over 7 days.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCursor } from "../../src/hud/grid.js";
import { HudService } from "../../src/hud/service.js";
import { PrViewSchema } from "../../src/hud/views.js";
import { allowlistFrom, openTestHud, type TestHud } from "../helpers/hud.js";
import { SEED_ALLOWLIST, SEED_NOW, seedDispatch, seedHud, seedJob, UPSTREAM } from "../helpers/hud-seed.js";

let hud: TestHud;
let service: HudService;
const allowlist = allowlistFrom(SEED_ALLOWLIST);

beforeAll(async () => {
  hud = openTestHud();
  await seedHud(hud.store);
  const flushed = await hud.writer.flush();
  expect(flushed).toMatchObject({ rejected: 0 });
  expect(flushed.error).toBeUndefined();
  service = new HudService({ connection: hud.connection, allowlist: () => allowlist, upstreamRepo: UPSTREAM, now: () => SEED_NOW });
});
afterAll(() => hud.close());

const iso = (daysAgo: number, plusMs = 0) => new Date(SEED_NOW - daysAgo * 86_400_000 + plusMs).toISOString();

describe("per-backend numbers over a window", () => {
  it("counts latest attempts only and keeps infrastructure and test failures apart", async () => {
    const view = await service.backend("ACME/npu", 7);
    expect(view!.health.stats).toEqual({
      downstreamRepo: "acme/npu",
      backendName: "npu",
      level: "L4",
      inAllowlist: true,
      collectsResults: true,
      // d1..d5 sent; d6 failed (404); d0 is outside the window.
      dispatches: 5,
      dispatchFailures: 1,
      // d1 and d2 (its infra failure was re-run and passed); d3 never reported, d4 timed out; d5 still runs.
      available: 2,
      unavailable: 2,
      infraAvailability: 0.5,
      // d1 build+test, d2 build+test (attempt 2), d4 test, d5 test, nightly test.
      jobs: 7,
      completed: 6,
      succeeded: 4,
      testFailures: 1,
      infraFailures: 1,
      timedOut: 1,
      testPassRate: 0.8,
      successRate: 4 / 6,
      timeoutRate: 1 / 6,
      // queue: 10, 30, 45, 60, 120 s (re-runs and self-reports have none); exact nearest rank ⌊q·n⌋.
      queueMs: { p50: 45_000, p90: 120_000, avg: 53_000, samples: 5 },
      // execution: 300, 600, 800, 900, 3600 s.
      executionMs: { p50: 800_000, p90: 3_600_000, avg: 1_240_000, samples: 5 },
      // From each PR dispatch to its last job's completion, where all its jobs completed: d1 1020 s
      // (test: +120 s, 900 s), d4 3645 s (+45 s, 3600 s), d2 4400 s (attempt 2: +1 h, 800 s); d3 has no
      // job, d5 still runs.
      prTimeMs: { p50: 3_645_000, p90: 4_400_000, avg: 3_021_667, samples: 3 },
      // This service reads no callback audit.
      callbacks: 0,
      invalidCallbacks: 0,
      signalValidity: null,
      prs: 4,
      lastRunAt: iso(0.5),
    });
  });

  it("judges the level's requirements: a failing pass rate fails the backend", async () => {
    const view = await service.backend("acme/npu", 7);
    expect(view!.health.checks).toEqual([
      { requirement: "min_infra_availability", threshold: 0.4, actual: 0.5, verdict: "meets" },
      { requirement: "min_test_pass_rate", threshold: 0.9, actual: 0.8, verdict: "fails" },
      { requirement: "max_queue_time_p50", threshold: 60, actual: 45, verdict: "meets" },
    ]);
    expect(view!.health.verdict).toBe("fails");
    expect(view!.oncalls).toEqual(["npu-oncall"]);
  });

  it("plots one point per day with that day's pass rate, jobs without an infra failure, queue and run p50", async () => {
    const view = await service.backend("acme/npu", 7);
    expect(view!.daily.map((point) => point.day)).toEqual([
      "2026-11-13", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20",
    ]);
    expect(view!.daily.filter((point) => point.jobs > 0)).toEqual([
      // Run p50 of [600 s, 900 s] is the upper one (quantileExact); 11-15 counts the re-run (800 s), not the
      // infra failure it replaced; 11-17's only job timed out (infra) after an hour; 11-18's still runs.
      { day: "2026-11-14", jobs: 2, testPassRate: 0.5, infraOkRate: 1, queueP50Ms: 120_000, runP50Ms: 900_000 },
      { day: "2026-11-15", jobs: 2, testPassRate: 1, infraOkRate: 1, queueP50Ms: 30_000, runP50Ms: 800_000 },
      { day: "2026-11-17", jobs: 1, testPassRate: null, infraOkRate: 0, queueP50Ms: 45_000, runP50Ms: 3_600_000 },
      { day: "2026-11-18", jobs: 1, testPassRate: null, infraOkRate: null, queueP50Ms: 10_000, runP50Ms: null },
      { day: "2026-11-20", jobs: 1, testPassRate: 1, infraOkRate: 1, queueP50Ms: null, runP50Ms: null },
    ]);
  });

  it("widening the window to 30 days takes in the older PR", async () => {
    const view = await service.backend("acme/npu", 30);
    expect(view!.health.stats).toMatchObject({ dispatches: 6, available: 3, jobs: 8, succeeded: 5, prs: 5 });
  });

  it("knows no backend that is neither listed nor seen", async () => {
    expect(await service.backend("nobody/here", 7)).toBeUndefined();
  });
});

describe("health against the backend's level and the next", () => {
  const levels = allowlistFrom(`${SEED_ALLOWLIST.replace(/requirements:[\s\S]*$/, "")}
requirements:
  L3:
    min_infra_availability: 0.9
  L4:
    min_test_pass_rate: 0.9
    max_queue_time_p50: 1m
    max_pr_time_p90: 1h
    min_signal_validity: 95%
`);
  // The callback audit as the store keeps it: per repo, UTC day and outcome.
  const audit = [
    { repo: "beta/tpu", day: "2026-11-15", outcome: "accepted", count: 17 },
    { repo: "beta/tpu", day: "2026-11-16", outcome: "duplicate", count: 1 },
    { repo: "beta/tpu", day: "2026-11-16", outcome: "invalid_body", count: 1 },
    { repo: "beta/tpu", day: "2026-11-17", outcome: "rate_limited", count: 1 },
    // The relay's own failures and late reports are not the backend's fault.
    { repo: "beta/tpu", day: "2026-11-17", outcome: "unavailable", count: 3 },
    { repo: "beta/tpu", day: "2026-11-18", outcome: "conflict", count: 2 },
    { repo: "(unverified)", day: "2026-11-18", outcome: "bad_token", count: 50 },
  ];
  const asked: string[] = [];
  const withAudit = () =>
    new HudService({
      connection: hud.connection,
      allowlist: () => levels,
      upstreamRepo: UPSTREAM,
      now: () => SEED_NOW,
      callbackOutcomes: (fromDay) => {
        asked.push(fromDay);
        return Promise.resolve(audit.filter((row) => row.day >= fromDay));
      },
    });

  it("judges an L3 backend against L4 too: signal validity is what keeps it from promotion", async () => {
    const health = await withAudit().health(7);
    // The audit's days of the window: 7 days ending today (2026-11-20).
    expect(asked).toEqual(["2026-11-14"]);
    const tpu = health.backends.find((backend) => backend.stats.downstreamRepo === "beta/tpu")!;
    expect(tpu.stats).toMatchObject({ callbacks: 25, invalidCallbacks: 2, signalValidity: 18 / 20 });
    expect(tpu.checks).toEqual([{ requirement: "min_infra_availability", threshold: 0.9, actual: 1, verdict: "meets" }]);
    expect(tpu.verdict).toBe("meets");
    // tpu's queue: 20 s (PR 101) and 5 s (the push): p50 is the 2nd of 2 by the exact nearest rank.
    expect(tpu.next).toEqual({
      level: "L4",
      checks: [
        { requirement: "min_test_pass_rate", threshold: 0.9, actual: 1, verdict: "meets" },
        { requirement: "max_queue_time_p50", threshold: 60, actual: 20, verdict: "meets" },
        // PR 101: one job, queued 20 s and run 200 s.
        { requirement: "max_pr_time_p90", threshold: 3600, actual: 220, verdict: "meets" },
        { requirement: "min_signal_validity", threshold: 0.95, actual: 0.9, verdict: "fails" },
      ],
      verdict: "fails",
    });
  });

  it("reads the callback audit once for a week-by-week trend and counts each day in its own week", async () => {
    asked.length = 0;
    const trend = await withAudit().healthByWeek(2);
    // One read, from the first day of the older week (2026-11-07 … 13), the newer week being 2026-11-14 … 20.
    expect(asked).toEqual(["2026-11-07"]);
    const tpu = trend.backends.find((backend) => backend.downstreamRepo === "beta/tpu")!;
    expect(tpu.weeks.map((week) => week.signalValidity)).toEqual([null, 0.9]);
  });

  it("lists every backend, L4 first and worst first in a level; L4 and backends outside the allowlist have no next level", async () => {
    const health = await withAudit().health(7);
    expect(health.window).toEqual({ days: 7, from: iso(7), to: iso(0) });
    expect(health.backends.map((backend) => [backend.stats.downstreamRepo, backend.verdict, backend.next?.level ?? null, backend.next?.verdict ?? null])).toEqual([
      ["acme/npu", "fails", null, null],
      ["zeta/late", "no_data", null, null],
      ["beta/tpu", "meets", "L4", "fails"],
      ["delta/gone", "meets", null, null],
      ["eps/new", "no_data", "L3", "no_data"],
      ["gamma/hooks", "meets", "L2", "meets"],
    ]);
    // npu's slowest PR took 4400 s: over the hour.
    const npu = health.backends[0]!;
    expect(npu.checks.find((check) => check.requirement === "max_pr_time_p90")).toEqual({ requirement: "max_pr_time_p90", threshold: 3600, actual: 4400, verdict: "fails" });
  });
});

describe("health week by week", () => {
  it("judges each week on its own: npu met L4 the week before, and fails this week", async () => {
    const trend = await service.healthByWeek(2);
    expect(trend.windows).toEqual([
      { days: 7, from: iso(14), to: iso(7) },
      { days: 7, from: iso(7), to: iso(0) },
    ]);
    // Ordered as this week's health: L4 first, worst first.
    expect(trend.backends.map((backend) => backend.downstreamRepo)).toEqual(["acme/npu", "zeta/late", "beta/tpu", "delta/gone", "eps/new", "gamma/hooks"]);
    const npu = trend.backends[0]!;
    expect(npu).toMatchObject({ level: "L4", nextLevel: null, inAllowlist: true });
    // Ten days ago: PR 100's one job passed (queued 1 ms; done 1 h + 1 ms after its dispatch), its dispatch was
    // available; this week: the 7-day figures.
    const checks = (availability: number, passRate: number, queueP50: number) => [
      { requirement: "min_infra_availability", threshold: 0.4, actual: availability, verdict: "meets" },
      { requirement: "min_test_pass_rate", threshold: 0.9, actual: passRate, verdict: passRate >= 0.9 ? "meets" : "fails" },
      { requirement: "max_queue_time_p50", threshold: 60, actual: queueP50, verdict: "meets" },
    ];
    expect(npu.weeks).toEqual([
      { verdict: "meets", next: null, checks: checks(1, 1, 0.001), infraAvailability: 1, testPassRate: 1, queueP90Ms: 1, prTimeP90Ms: 3_600_001, signalValidity: null, jobs: 1, dispatches: 1 },
      { verdict: "fails", next: null, checks: checks(0.5, 0.8, 45), infraAvailability: 0.5, testPassRate: 0.8, queueP90Ms: 120_000, prTimeP90Ms: 4_400_000, signalValidity: null, jobs: 7, dispatches: 5 },
    ]);
    // A backend without data in a week shows no data there.
    const tpu = trend.backends[2]!;
    expect(tpu.weeks.map((week) => [week.verdict, week.jobs])).toEqual([["no_data", 0], ["meets", 2]]);
  });
});

describe("history grid", () => {
  it("has a row per PR head or trunk commit, newest first, latest attempt per cell, and marks rows with nothing reported", async () => {
    const { history } = (await service.backend("acme/npu", 7))!;
    expect(history.columns).toEqual(["ci / build", "ci / test", "nightly / test"]);
    expect(history.rows.map((row) => [row.prNumber, row.headSha, row.missing])).toEqual([
      [null, "trunk1", null],
      [106, "sha106", { kind: "dispatch_failed", detail: "the relay could not deliver it (http_404)" }],
      [105, "sha105", null],
      [104, "sha104", null],
      [103, "sha103", { kind: "never_reported", detail: "dispatched, but no job started before the start timeout (an infrastructure failure)" }],
      [102, "sha102", null],
      [101, "sha101", null],
    ]);
    const pr102 = history.rows.find((row) => row.prNumber === 102)!;
    expect(pr102.cells["ci / test"]).toMatchObject({ runAttempt: 2, conclusion: "success", executionMs: 800_000 });
    const pr101 = history.rows.find((row) => row.prNumber === 101)!;
    expect(pr101).toMatchObject({ title: "Add <script>alert(1)</script> op", author: "octocat", at: iso(6), eventType: "pull_request" });
    expect(pr101.cells["ci / test"]).toMatchObject({
      conclusion: "failure",
      failureKind: "test",
      tests: { total: 100, passed: 98, failed: 2, skipped: 0 },
      failedTests: ["test/test_ops.py::TestOps::test_add", "test/test_nn.py::TestNN::test_conv"],
      summary: "2 tests failed",
      queueMs: 120_000,
      startedAt: iso(6, 120_000),
    });
    expect(history.rows.find((row) => row.prNumber === 105)!.cells["ci / test"]).toMatchObject({ status: "in_progress", conclusion: null });
  });
});

describe("a forward-only (L1) backend", () => {
  it("has rows for the events it received, saying it reports nothing rather than warning", async () => {
    const { history, health } = (await service.backend("gamma/hooks", 7))!;
    expect(history.rows.map((row) => [row.prNumber, row.missing])).toEqual([
      [101, { kind: "not_expected", detail: "a forward-only backend: it receives the event and reports no results" }],
    ]);
    expect(health.stats).toMatchObject({ collectsResults: false, dispatches: 1, available: 0, unavailable: 0, infraAvailability: null });
  });
});

describe("global summary", () => {
  it("lists every backend by level, L4 first, worst first, including listed backends without data and unlisted ones with data", async () => {
    const summary = await service.summary(7);
    expect(summary.window).toEqual({ days: 7, from: iso(7), to: iso(0) });
    expect(summary.levels.map((level) => [level.level, level.title, level.backends.map((b) => [b.stats.downstreamRepo, b.verdict])])).toEqual([
      ["L4", "merge-gating", [["acme/npu", "fails"], ["zeta/late", "no_data"]]],
      ["L3", "check runs on PR", [["beta/tpu", "meets"]]],
      ["L2", "callback-only", [["delta/gone", "meets"], ["eps/new", "no_data"]]],
      ["L1", "webhook-only", [["gamma/hooks", "meets"]]],
    ]);
    const tpu = summary.levels[1]!.backends[0]!.stats;
    // The PR 102 dispatch was skipped (App not installed): neither sent nor failed.
    expect(tpu).toMatchObject({ dispatches: 2, available: 2, unavailable: 0, infraAvailability: 1, jobs: 2, testPassRate: 1, prs: 1 });
    // An L1 backend is not asked to report: its silence is no failure, and availability is not measurable (not 0).
    expect(summary.levels[3]!.backends[0]!.stats).toMatchObject({ dispatches: 1, unavailable: 0, infraAvailability: null, jobs: 0 });
    expect(summary.levels[2]!.backends[0]!.stats).toMatchObject({ inAllowlist: false, level: "L2", backendName: "gone" });
    expect(summary.levels[0]!.requirements).toEqual({ min_test_pass_rate: 0.9, min_infra_availability: 0.4, max_queue_time_p50: 60 });
  });
});

describe("PR view", () => {
  it("shows the PR's newest head with each backend's own level, failed jobs first, and expected backends that are missing", async () => {
    const view = await service.pr(101);
    expect(view).toMatchObject({ upstreamRepo: UPSTREAM, prNumber: 101, headSha: "sha101", title: "Add <script>alert(1)</script> op", author: "octocat", shas: ["sha101"] });
    expect(view.gating.map((box) => [box.backendName, box.level, box.state, box.jobs.map((job) => `${job.jobName}:${job.conclusion}`), box.missing?.kind ?? null])).toEqual([
      ["npu", "L4", "failing", ["test:failure", "build:success"], null],
      ["late", "L4", "missing", [], "not_dispatched"],
      ["tpu", "L3", "passed", ["test:success"], null],
    ]);
    expect(view.hudOnly).toEqual([]);
  });

  it("says why a backend has nothing: never reported, dispatch failed, waiting, not dispatched", async () => {
    const kind = async (pr: number, backend: string) => (await service.pr(pr)).gating.find((box) => box.backendName === backend)?.missing?.kind;
    expect(await kind(103, "npu")).toBe("never_reported");
    expect(await kind(106, "npu")).toBe("dispatch_failed");
    expect(await kind(102, "tpu")).toBe("not_dispatched");
    expect((await service.pr(102)).gating.find((box) => box.backendName === "tpu")!.missing!.detail).toBe("skipped (not_installed)");
    expect((await service.pr(105)).gating.find((box) => box.backendName === "npu")).toMatchObject({ state: "running", missing: null });
  });

  it("puts L2 results in their own list and answers an unknown PR with no head", async () => {
    expect((await service.pr(107)).hudOnly.map((box) => [box.backendName, box.level])).toEqual([["gone", "L2"]]);
    expect(await service.pr(999)).toMatchObject({ headSha: null, shas: [], gating: [], hudOnly: [] });
  });
});

describe("trunk view", () => {
  it("shows pushes and self-reports, all levels or one level", async () => {
    const all = await service.trunk(7);
    expect(all.history.columns).toEqual(["npu · nightly / test", "tpu · ci / test"]);
    expect(all.history.rows.map((row) => [row.headSha, row.title, Object.keys(row.cells)])).toEqual([
      ["trunk2", "Bump version", ["tpu · ci / test"]],
      ["trunk1", null, ["npu · nightly / test"]],
    ]);
    const l4 = await service.trunk(7, "L4");
    expect(l4.level).toBe("L4");
    expect(l4.history.rows.map((row) => row.headSha)).toEqual(["trunk1"]);
  });
});

describe("trunk baseline in the PR view", () => {
  // Pushes reported after SEED_NOW, so no figure above (all ending at SEED_NOW) sees them.
  const LATER = SEED_NOW + 20 * 86_400_000;
  const at = (daysAgo: number) => LATER - daysAgo * 86_400_000;
  const npu = { repo: "acme/npu", name: "npu", level: "L4", pr: null, job: "test" };
  const ADD = "test/test_ops.py::TestOps::test_add";
  const CONV = "test/test_nn.py::TestNN::test_conv";
  const serviceAt = (now: number) => new HudService({ connection: hud.connection, allowlist: () => allowlist, upstreamRepo: UPSTREAM, now: () => now });
  const npuBox = async (now: number) => (await serviceAt(now).pr(101)).gating.find((box) => box.backendName === "npu")!;

  beforeAll(async () => {
    // trunk-a failed one of PR 101's two tests; a re-run of it passed, reported after trunk-b's result.
    await seedJob(hud.store, { ...npu, delivery: "p-a", sha: "trunk-a", at: at(3), conclusion: "failure", failedTests: [ADD] });
    await seedJob(hud.store, { ...npu, delivery: "p-a", sha: "trunk-a", attempt: 2, at: at(0.5), conclusion: "success" });
    // trunk-b, the newer commit, fails both.
    await seedJob(hud.store, { ...npu, delivery: "p-b", sha: "trunk-b", at: at(1), conclusion: "failure", failedTests: [CONV, ADD] });
    // A nightly self-report is no push, newest as it is.
    await seedJob(hud.store, { ...npu, delivery: "self:nightly:901", sha: "trunk-n", at: at(0.2), conclusion: "success", eventType: "nightly", noStart: true });
    expect(await hud.writer.flush()).toMatchObject({ rejected: 0 });
  });

  it("marks a failed job with the latest trunk result of the same job: the newest commit's, not the latest report's", async () => {
    const box = await npuBox(LATER);
    expect(box.jobs.map((job) => [job.jobName, job.conclusion, job.trunk ?? null])).toEqual([
      [
        "test",
        "failure",
        { kind: "also_on_trunk", trunkSha: "trunk-b", trunkUrl: "https://github.com/acme/npu/actions/runs/1000/job/4", tests: [ADD, CONV], newTests: [] },
      ],
      ["build", "success", null],
    ]);
    expect(box.trunk).toEqual({ failing: 1, alsoOnTrunk: 1 });
    expect(PrViewSchema.parse(await serviceAt(LATER).pr(101)).gating[0]!.jobs[0]!.trunk!.kind).toBe("also_on_trunk");
  });

  it("reads only the window: with no trunk result in the last 14 days nothing is marked", async () => {
    // Two weeks on, trunk-b (a day before LATER) and the re-run of trunk-a (half a day before) are out.
    const box = await npuBox(LATER + 14 * 86_400_000 - 0.25 * 86_400_000);
    expect(box.jobs.map((job) => job.trunk ?? null)).toEqual([null, null]);
    expect(box.trunk).toBeUndefined();
  });
});

describe("history grid pages", () => {
  // 125 rows of one backend, after everything above (its own window): 110 PRs half an hour apart, then 12
  // PRs dispatched in the same millisecond and 3 pushes reported in it too (ties broken by PR number, then sha).
  const LATER = SEED_NOW + 60 * 86_400_000;
  const many = { repo: "omega/many", name: "many", level: "L2" };
  const sha = (n: number) => n.toString(16).padStart(40, "0");
  const TIE = LATER - 100 * 3_600_000;
  const service = () => new HudService({ connection: hud.connection, allowlist: () => allowlist, upstreamRepo: UPSTREAM, now: () => LATER });
  const keyOf = (row: { at: string; prNumber: number | null; headSha: string }) => `${row.at} ${row.prNumber ?? 0} ${row.headSha}`;

  beforeAll(async () => {
    for (let index = 0; index < 110; index += 1) {
      const pr = 1000 + index;
      const at = LATER - (index + 1) * 1_800_000;
      await seedDispatch(hud.store, { ...many, delivery: `m${pr}`, pr, sha: sha(pr), at, outcome: "sent" });
      await seedJob(hud.store, { ...many, delivery: `m${pr}`, pr, sha: sha(pr), job: "test", at: at + 60_000, conclusion: "success" });
    }
    for (let pr = 2000; pr < 2012; pr += 1) await seedDispatch(hud.store, { ...many, delivery: `t${pr}`, pr, sha: sha(pr), at: TIE, outcome: "sent" });
    for (const push of [3, 1, 2]) {
      await seedJob(hud.store, { ...many, delivery: `p${push}`, pr: null, sha: sha(push), job: "nightly", at: TIE, conclusion: "success", noStart: true, eventType: "nightly" });
    }
    expect(await hud.writer.flush()).toMatchObject({ rejected: 0 });
  });

  it("pages 50 rows at a time, newest first: the pages are disjoint and together every row of the window, in a stable order", async () => {
    const pages = [(await service().backend("omega/many", 7))!.history];
    while (pages.at(-1)!.page.older !== null) {
      pages.push((await service().backend("omega/many", 7, { before: parseCursor(pages.at(-1)!.page.older!)! }))!.history);
    }
    expect(pages.map((page) => page.rows.length)).toEqual([50, 50, 25]);
    expect(pages.map((page) => page.page.newer === null)).toEqual([true, false, false]);
    const rows = pages.flatMap((page) => page.rows);
    expect(new Set(rows.map(keyOf)).size).toBe(125);
    // Newest first; ties in time by PR number (pushes, 0, last), then sha, all descending.
    const expected = [
      ...Array.from({ length: 110 }, (_, index) => [new Date(LATER - (index + 1) * 1_800_000).toISOString(), 1000 + index, sha(1000 + index)] as const),
      ...Array.from({ length: 12 }, (_, index) => [new Date(TIE).toISOString(), 2011 - index, sha(2011 - index)] as const),
      ...[3, 2, 1].map((push) => [new Date(TIE).toISOString(), null, sha(push)] as const),
    ].sort((a, b) => b[0].localeCompare(a[0]));
    expect(rows.map((row) => [row.at, row.prNumber, row.headSha])).toEqual(expected);
    // Each row has its own cells, and dispatches with nothing reported are marked.
    expect(rows.filter((row) => row.missing?.kind === "waiting").map((row) => row.prNumber)).toEqual(Array.from({ length: 12 }, (_, index) => 2011 - index));
    expect(pages[0]!.rows[0]!.cells["ci / test"]).toMatchObject({ conclusion: "success" });
  });

  it("goes back with the newer cursor to exactly the page before, the newest page included", async () => {
    const first = (await service().backend("omega/many", 7))!.history;
    const second = (await service().backend("omega/many", 7, { before: parseCursor(first.page.older!)! }))!.history;
    const third = (await service().backend("omega/many", 7, { before: parseCursor(second.page.older!)! }))!.history;
    expect((await service().backend("omega/many", 7, { after: parseCursor(third.page.newer!)! }))!.history).toEqual(second);
    expect((await service().backend("omega/many", 7, { after: parseCursor(second.page.newer!)! }))!.history).toEqual(first);
  });

  it("pages the trunk grid the same way", async () => {
    const trunk = await service().trunk(7);
    expect(trunk.history.rows.map((row) => row.headSha)).toEqual([3, 2, 1].map(sha));
    expect(trunk.history.page).toEqual({ newer: null, older: null });
  });
});
