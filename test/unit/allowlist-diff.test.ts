import { describe, expect, it } from "vitest";
import { diffAllowlists, formatDiffMarkdown, formatDiffText, isEmptyDiff } from "../../src/allowlist/diff.js";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { formatThreshold } from "../../src/allowlist/schema.js";
import type { Allowlist } from "../../src/allowlist/types.js";

function allowlist(yaml: string): Allowlist {
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  return parsed.allowlist;
}

const diff = (before: string, after: string) => diffAllowlists(allowlist(before), allowlist(after));
const repos = (entries: ReadonlyArray<{ repo: string }>) => entries.map((entry) => entry.repo);
const changedRepos = (changes: ReadonlyArray<{ after: { repo: string } }>) => changes.map((change) => change.after.repo);

describe("diffAllowlists", () => {
  it("lists added and removed repos, highest level first, then by repo", () => {
    const result = diff(
      "L1:\n  - org/gone\n  - org/kept\n",
      'L1:\n  - org/kept\n  - org/zeta\nL4:\n  - org/beta: alice\n  - org/alpha: "@bob"\nL2:\n  - org/mid\n',
    );
    expect(repos(result.added)).toEqual(["org/alpha", "org/beta", "org/mid", "org/zeta"]);
    expect(repos(result.removed)).toEqual(["org/gone"]);
    expect(isEmptyDiff(result)).toBe(false);
  });

  it("reports level changes as promotions and demotions, not as policy changes", () => {
    const result = diff("L1:\n  - org/up\nL4:\n  - org/down: alice\n", "L3:\n  - org/up\n  - org/down: alice\n");
    expect(result.promoted).toHaveLength(1);
    expect(result.promoted[0]).toMatchObject({ before: { level: "L1" }, after: { level: "L3", repo: "org/up" } });
    expect(result.demoted).toHaveLength(1);
    expect(result.demoted[0]).toMatchObject({ before: { level: "L4" }, after: { level: "L3", repo: "org/down" } });
    expect(result.policyChanged).toEqual([]);
  });

  it("reports override changes on a repo that keeps its level", () => {
    const result = diff("L2:\n  - org/a: {display_on_hud: false}\n", "L2:\n  - org/a\n");
    expect(result.policyChanged).toHaveLength(1);
    expect(result.policyChanged[0]!.fields).toEqual([{ field: "display_on_hud", before: false, after: true }]);
  });

  it("reports override changes beyond the preset change on a promoted repo", () => {
    const result = diff("L2:\n  - org/a: {display_on_hud: false}\n", "L3:\n  - org/a\n");
    expect(changedRepos(result.promoted)).toEqual(["org/a"]);
    // display_on_pr never → label_only is the preset's change; display_on_hud comes from the dropped override.
    expect(result.policyChanged[0]!.fields).toEqual([{ field: "display_on_hud", before: false, after: true }]);
  });

  it("shows an override that keeps a field at its old value through a promotion", () => {
    const result = diff("L3:\n  - org/a\n", "L4:\n  - org/a: {oncalls: alice, block_pr: false}\n");
    expect(result.policyChanged).toEqual([]);
    expect(formatDiffText(result)).toContain("org/a: L3 → L4 (block_pr: false)");
  });

  it("reports renames, which change the label and check-run names", () => {
    const result = diff("L3:\n  - org/a: {name: npu}\n", "L3:\n  npu2:\n    org/a: []\n");
    expect(result.renamed).toHaveLength(1);
    expect(result.renamed[0]).toMatchObject({ before: { name: "npu" }, after: { name: "npu2" } });
  });

  it("reports oncalls added and removed, ignoring order and case", () => {
    const result = diff('L4:\n  - org/a: "@alice, bob"\n  - org/b: carol, dave\n', 'L4:\n  - org/a: "Bob, erin"\n  - org/b: Dave, Carol\n');
    expect(result.oncallsChanged).toHaveLength(1);
    expect(result.oncallsChanged[0]).toMatchObject({ after: { repo: "org/a" }, added: ["erin"], removed: ["alice"] });
  });

  it("matches repos case-insensitively", () => {
    const result = diff("L2:\n  - Org/Repo\n", "L2:\n  - org/repo\n");
    expect(isEmptyDiff(result)).toBe(true);
  });

  it("says so when nothing changed", () => {
    const result = diff("L1:\n  - org/a\n", "L1:\n  - org/a\n");
    expect(isEmptyDiff(result)).toBe(true);
    expect(formatDiffText(result)).toBe("No level, policy or requirement changes.\n");
    expect(formatDiffMarkdown(result)).toBe("No level, policy or requirement changes.\n");
  });

  it("lists changed, added and removed requirement thresholds, highest level first, as the allowlist writes them", () => {
    const before = "L1:\n  - org/a\nrequirements:\n  L3:\n    max_queue_time_p90: 2h\n    window_days: 14\n  L4:\n    min_test_pass_rate: 95%\n";
    const after = "L1:\n  - org/a\nrequirements:\n  L3:\n    max_queue_time_p90: 90m\n  L4:\n    min_test_pass_rate: 0.98\n    max_pr_time_p90: 3h\n";
    const result = diff(before, after);
    expect(result.requirementsChanged).toEqual([
      { level: "L4", requirement: "min_test_pass_rate", before: 0.95, after: 0.98 },
      { level: "L4", requirement: "max_pr_time_p90", before: undefined, after: 10_800 },
      { level: "L3", requirement: "max_queue_time_p90", before: 7200, after: 5400 },
      { level: "L3", requirement: "window_days", before: 14, after: undefined },
    ]);
    expect(isEmptyDiff(result)).toBe(false);
    expect(formatDiffText(result)).toBe(
      [
        "Requirements changed (4)",
        "  L4 min_test_pass_rate: 95% → 98%",
        "  L4 max_pr_time_p90: (not set) → 3h",
        "  L3 max_queue_time_p90: 2h → 1.5h",
        "  L3 window_days: 14 → (not set)",
        "",
      ].join("\n"),
    );
    expect(formatDiffMarkdown(result)).toContain("- L4 `min_test_pass_rate`: 95% → 98%\n");
    // The same thresholds written another way are no change.
    expect(diff(before, before.replace("95%", "0.95").replace("2h", "120m")).requirementsChanged).toEqual([]);
  });
});

describe("formatThreshold", () => {
  it("writes thresholds in the allowlist's own notation, which parses back to the same value", () => {
    const cases: Array<[Parameters<typeof formatThreshold>[0], number, string]> = [
      ["min_signal_validity", 0.995, "99.5%"],
      ["min_test_pass_rate", 1, "100%"],
      ["max_queue_time_p50", 45, "45s"],
      ["max_queue_time_p50", 90, "1.5m"],
      ["max_run_time_p90", 5400, "1.5h"],
      ["max_pr_time_p90", 172_800, "2d"],
      ["window_days", 30, "30"],
    ];
    for (const [key, value, written] of cases) {
      expect(formatThreshold(key, value)).toBe(written);
      const reparsed = allowlist(`L1:\n  - org/a\nrequirements:\n  L4:\n    ${key}: ${key === "window_days" ? written : `"${written}"`}\n`);
      expect(reparsed.requirements.L4?.[key]).toBe(value);
    }
  });
});

describe("formatting", () => {
  const representative = diff(
    [
      "L2:",
      "  - org/hud-off: {display_on_hud: false}",
      "  - org/old",
      "L3:",
      "  - org/npu: {name: npu, oncalls: alice}",
      "L4:",
      '  - org/xpu: "@bob"',
      "",
    ].join("\n"),
    [
      "L1:",
      "  - org/new",
      "L3:",
      "  - org/hud-off",
      "  - org/xpu: bob",
      "L4:",
      '  - org/npu: {name: npu-v2, oncalls: "alice, carol"}',
      "",
    ].join("\n"),
  );

  it("renders plain text", () => {
    expect(formatDiffText(representative)).toBe(
      [
        "Added (1)",
        "  org/new: L1; name new",
        "",
        "Removed (1)",
        "  org/old: L2; name old",
        "",
        "Promoted (2)",
        "  org/npu: L3 → L4",
        "  org/hud-off: L2 (display_on_hud: false) → L3",
        "",
        "Demoted (1)",
        "  org/xpu: L4 → L3",
        "",
        "Policy changed (1)",
        "  org/hud-off: display_on_hud false → true",
        "",
        "Renamed — new PR label and check-run names (1)",
        "  org/npu: npu → npu-v2",
        "",
        "Oncalls changed (1)",
        "  org/npu: +@carol",
        "",
      ].join("\n"),
    );
  });

  it("renders markdown for a check-run summary, with names and handles as code", () => {
    expect(formatDiffMarkdown(representative)).toBe(
      [
        "### Added (1)",
        "",
        "- `org/new`: L1; name `new`",
        "",
        "### Removed (1)",
        "",
        "- `org/old`: L2; name `old`",
        "",
        "### Promoted (2)",
        "",
        "- `org/npu`: L3 → L4",
        "- `org/hud-off`: L2 (display_on_hud: false) → L3",
        "",
        "### Demoted (1)",
        "",
        "- `org/xpu`: L4 → L3",
        "",
        "### Policy changed (1)",
        "",
        "- `org/hud-off`: display_on_hud false → true",
        "",
        "### Renamed — new PR label and check-run names (1)",
        "",
        "- `org/npu`: `npu` → `npu-v2`",
        "",
        "### Oncalls changed (1)",
        "",
        "- `org/npu`: +`@carol`",
        "",
      ].join("\n"),
    );
  });

  it("lists an entry's oncalls when it is added", () => {
    const result = diff("", 'L4:\n  - org/a: "@alice, org/team"\n');
    expect(formatDiffMarkdown(result)).toBe("### Added (1)\n\n- `org/a`: L4; name `a`; oncalls `@alice`, `@org/team`\n");
  });
});
