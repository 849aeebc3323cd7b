import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist, LevelRequirements } from "../../src/allowlist/types.js";
import { checkRequirements } from "../../src/hud/health.js";
import type { BackendStats, HealthTrendView, WeekHealth } from "../../src/hud/views.js";
import { planAudit, type AuditAction, type AuditIssue } from "../../src/levels/audit.js";
import { stats } from "./hud-fixtures.js";

function allowlistFrom(yaml: string): Allowlist {
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  return parsed.allowlist;
}

// L3 sets a window only: no requirement to miss.
const ALLOWLIST = allowlistFrom(`
L4:
  - acme/npu: "@npu-oncall, acme/npu-infra"
L3:
  - beta/tpu
L2:
  - gamma/xpu: "@xpu"
L1:
  - delta/hooks
requirements:
  L4:
    min_test_pass_rate: 90%
    max_queue_time_p50: 1m
    window_days: 7
  L3:
    window_days: 14
  L2:
    min_test_pass_rate: 80%
  L1:
    min_signal_validity: 99%
`);

const WINDOWS = [
  { days: 7, from: "2026-11-06T00:00:00.000Z", to: "2026-11-13T00:00:00.000Z" },
  { days: 7, from: "2026-11-13T00:00:00.000Z", to: "2026-11-20T00:00:00.000Z" },
];

/** A week judged by the real requirement checks against `level`'s requirements in ALLOWLIST (L4's for L3). */
function week(level: "L1" | "L2" | "L4", figures: Partial<BackendStats>): WeekHealth {
  const measured = stats(figures);
  const { checks, verdict } = checkRequirements(measured, ALLOWLIST.requirements[level] as LevelRequirements);
  return {
    verdict,
    next: null,
    checks,
    infraAvailability: measured.infraAvailability,
    testPassRate: measured.testPassRate,
    queueP90Ms: measured.queueMs.p90,
    prTimeP90Ms: measured.prTimeMs.p90,
    signalValidity: measured.signalValidity,
    jobs: measured.jobs,
    dispatches: measured.dispatches,
  };
}

const npuWeek = (testPassRate: number | null, queueP50Ms: number | null = 30_000) =>
  week("L4", { testPassRate, queueMs: { p50: queueP50Ms, p90: null, avg: null, samples: queueP50Ms === null ? 0 : 10 } });

function trend(weeksByRepo: Record<string, WeekHealth[]>): HealthTrendView {
  return {
    windows: WINDOWS,
    backends: Object.entries(weeksByRepo).map(([downstreamRepo, weeks]) => {
      const entry = ALLOWLIST.byRepo.get(downstreamRepo);
      return {
        downstreamRepo,
        backendName: entry?.name ?? downstreamRepo,
        level: entry?.level ?? "L2",
        inAllowlist: entry !== undefined,
        collectsResults: true,
        nextLevel: null,
        weeks,
      };
    }),
  };
}

const plan = (weeks: Record<string, WeekHealth[]>, issues: AuditIssue[] = [], windows = 2) => planAudit({ trend: trend(weeks), allowlist: ALLOWLIST, issues, windows });

/** The issue a create action would leave on GitHub, as number `number`. */
function opened(action: AuditAction | undefined, number: number): AuditIssue {
  if (action?.kind !== "create") throw new Error(`expected a create action, got ${JSON.stringify(action)}`);
  return { number, title: action.title, body: action.body };
}

const NPU_BODY = `<!-- relay-health:acme/npu -->
**npu** (\`acme/npu\`) missed the requirements of its level, **L4**, in each of the last 2 weeks.

**Proposed:** demote npu from L4 to L3, by a pull request to the allowlist. The upstream's maintainers decide; the relay changes nothing on its own.

**Oncalls:** @npu-oncall, @acme/npu-infra

### Evidence

Each week (UTC) judged on its own against L4's requirements; ✗ marks a missed requirement, n/a a figure with nothing to measure.

| week | verdict | test pass rate ≥ 90% | queue p50 ≤ 1m 00s |
|---|---|---|---|
| 2026-11-06 to 2026-11-12 | fails | 80% ✗ | 30s |
| 2026-11-13 to 2026-11-19 | fails | 85% ✗ | 1m 30s ✗ |

_Kept by the relay's health audit: opened after 2 failing weeks in a row, updated while npu misses L4, closed once the latest week meets it again. How each figure is measured: docs/levels.md in the relay's repository._`;

describe("health audit (pure)", () => {
  it("does nothing while fewer than N consecutive weeks fail, or when an earlier week failed and the latest passed", () => {
    expect(plan({ "acme/npu": [npuWeek(0.95), npuWeek(0.8)] })).toEqual([]);
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.95)] })).toEqual([]);
    // With N = 3 and two weeks of history, two failing weeks are not enough either.
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.8)] }, [], 3)).toEqual([]);
  });

  it("opens an issue after N consecutive failing weeks: the evidence week by week, the proposal and the oncalls", () => {
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85, 90_000)] })).toEqual([
      { kind: "create", repo: "acme/npu", title: "Health audit: npu (acme/npu) misses L4's requirements", body: NPU_BODY, labels: ["relay-health"] },
    ]);
  });

  it("proposes the level below, or removal at L1, and says when no oncall is listed", () => {
    const actions = plan({
      "gamma/xpu": [week("L2", { testPassRate: 0.7 }), week("L2", { testPassRate: 0.75 })],
      "delta/hooks": [week("L1", { signalValidity: 0.9 }), week("L1", { signalValidity: 0.95 })],
    });
    expect(actions.map((action) => action.kind === "create" && action.title)).toEqual([
      "Health audit: xpu (gamma/xpu) misses L2's requirements",
      "Health audit: hooks (delta/hooks) misses L1's requirements",
    ]);
    const [xpu, hooks] = actions.map((action) => (action.kind === "create" ? action.body : ""));
    expect(xpu).toContain("\n**Proposed:** demote xpu from L2 to L1, by a pull request to the allowlist.");
    expect(xpu).toContain("\n**Oncalls:** @xpu\n");
    expect(xpu).toContain("| 2026-11-13 to 2026-11-19 | fails | 75% ✗ |");
    expect(hooks).toContain("\n**Proposed:** consider removing hooks from the allowlist (L1 is the lowest level).");
    expect(hooks).toContain("\n**Oncalls:** none listed in the allowlist\n");
    expect(hooks).toContain("| week | verdict | signal validity ≥ 99% |");
  });

  it("updates an open issue whose figures changed, and leaves one alone when nothing did", () => {
    const issue = opened(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85, 90_000)] })[0], 7);
    // Same figures: nothing, even when the body came back with CRLFs and a final newline.
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85, 90_000)] }, [issue])).toEqual([]);
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85, 90_000)] }, [{ ...issue, body: `${issue.body.replace(/\n/g, "\r\n")}\r\n` }])).toEqual([]);
    // A week later: the older week slid out, this week is worse.
    const [update] = plan({ "acme/npu": [npuWeek(0.85, 90_000), npuWeek(0.7)] }, [issue]);
    expect(update).toEqual({ kind: "update", repo: "acme/npu", number: 7, title: issue.title, body: expect.any(String) });
    const body = (update as { body: string }).body;
    expect(body).toContain("| 2026-11-06 to 2026-11-12 | fails | 85% ✗ | 1m 30s ✗ |\n| 2026-11-13 to 2026-11-19 | fails | 70% ✗ | 30s |\n");
    expect(body.split("\n")[0]).toBe("<!-- relay-health:acme/npu -->");
  });

  it("keeps an open issue open when the latest week has no results, saying so", () => {
    const issue = opened(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85)] })[0], 7);
    const [update] = plan({ "acme/npu": [npuWeek(0.85), npuWeek(null, null)] }, [issue]);
    expect(update).toMatchObject({ kind: "update", number: 7 });
    const body = (update as { body: string }).body;
    expect(body).toContain("missed the requirements of its level, **L4**, and the latest week has no results to judge: this issue stays open until a week meets them.");
    expect(body).toContain("| 2026-11-13 to 2026-11-19 | no data | n/a | n/a |");
  });

  it("closes the issue of a backend whose latest week meets its level again", () => {
    const issue = opened(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85)] })[0], 7);
    expect(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.95)] }, [issue])).toEqual([
      {
        kind: "close",
        repo: "acme/npu",
        number: 7,
        cause: "recovered",
        comment: "npu meets L4's requirements in the latest week (2026-11-13 to 2026-11-19, UTC): closing. The health audit opens a new issue if it misses its level 2 weeks in a row again.",
        stateReason: "completed",
      },
    ]);
  });

  it("closes the issue of a backend no longer in the allowlist, whatever its figures", () => {
    const issue = { number: 9, title: "Health audit: gone (zeta/gone) misses L4's requirements", body: "<!-- relay-health:Zeta/Gone -->\nold evidence" };
    expect(plan({ "zeta/gone": [npuWeek(0.5), npuWeek(0.5)] }, [issue])).toEqual([
      { kind: "close", repo: "zeta/gone", number: 9, cause: "removed", comment: "`zeta/gone` is no longer in the allowlist: nothing to audit, closing.", stateReason: "not_planned" },
    ]);
  });

  it("never opens an issue for a backend whose level sets no requirements, and closes one left open", () => {
    // tpu's weeks judged against stricter requirements than its level's (say, before they were removed).
    const failing = { "beta/tpu": [npuWeek(0.5), npuWeek(0.5)] };
    expect(plan(failing)).toEqual([]);
    const issue = { number: 4, title: "Health audit: tpu (beta/tpu) misses L3's requirements", body: "<!-- relay-health:beta/tpu -->" };
    expect(plan(failing, [issue])).toEqual([
      { kind: "close", repo: "beta/tpu", number: 4, cause: "no_requirements", comment: "tpu's level, L3, sets no requirements now: nothing to audit, closing.", stateReason: "not_planned" },
    ]);
  });

  it("keeps the oldest of two issues for one backend, ignores issues without a marker, and orders creates, closes, updates", () => {
    const npu = opened(plan({ "acme/npu": [npuWeek(0.8), npuWeek(0.85)] })[0], 3);
    const copy = { ...npu, number: 8 };
    const stranger = { number: 5, title: "Someone else's issue with the label", body: "No marker here." };
    const actions = plan(
      { "acme/npu": [npuWeek(0.8), npuWeek(0.6)], "gamma/xpu": [week("L2", { testPassRate: 0.7 }), week("L2", { testPassRate: 0.7 })] },
      [copy, stranger, npu],
    );
    expect(actions.map((action) => [action.kind, action.repo, "number" in action ? action.number : null])).toEqual([
      ["create", "gamma/xpu", null],
      ["close", "acme/npu", 8],
      ["update", "acme/npu", 3],
    ]);
    expect(actions[1]).toMatchObject({ cause: "duplicate", comment: "The relay's health audit keeps #3 for `acme/npu`: closing this duplicate.", stateReason: "not_planned" });
  });
});
