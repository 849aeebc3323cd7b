import { readFileSync } from "node:fs";
import { describe, it, expect } from "vitest";
import { MAX_ALLOWLIST_BYTES, formatIssue, parseAllowlist } from "../../src/allowlist/parse.js";
import { LEVEL_PRESETS, findEntry, labelFor } from "../../src/allowlist/policy.js";
import type { Allowlist, AllowlistIssue } from "../../src/allowlist/types.js";

/** A YAML document from lines, so that line N of the file is argument N. */
function yaml(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

function parseOk(text: string): Allowlist {
  const parsed = parseAllowlist(text);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => formatIssue(issue, "allowlist.yml")).join("\n"));
  return parsed.allowlist;
}

function issuesOf(text: string): AllowlistIssue[] {
  const parsed = parseAllowlist(text);
  if (parsed.ok) throw new Error("expected the allowlist to be rejected");
  return parsed.issues;
}

/** The file has exactly one problem, at line:col, and its message contains every fragment. */
function expectOneIssue(text: string, line: number, col: number, ...fragments: string[]): AllowlistIssue {
  const issues = issuesOf(text);
  expect(issues.map(({ line, col }) => ({ line, col }))).toEqual([{ line, col }]);
  const [issue] = issues as [AllowlistIssue];
  for (const fragment of fragments) expect(issue.message).toContain(fragment);
  return issue;
}

const exampleFile = readFileSync(new URL("../../allowlist.yml", import.meta.url), "utf8");

describe("the RFC's list form", () => {
  const allowlist = parseOk(
    yaml(
      "version: 1",
      "L1:",
      "  - example-org/plain",
      "L4:",
      '  - org5/repo5: "@oncall1,oncall2"',
      '  - org6/Repo6: [oncall3, "@example-org/ci-team"]',
    ),
  );

  it("produces the entries in file order", () => {
    expect(allowlist.entries).toEqual([
      {
        repo: "example-org/plain",
        key: "example-org/plain",
        level: "L1",
        name: "plain",
        oncalls: [],
        overrides: {},
        policy: LEVEL_PRESETS.L1,
        position: { line: 3, col: 5 },
      },
      {
        repo: "org5/repo5",
        key: "org5/repo5",
        level: "L4",
        name: "repo5",
        oncalls: ["oncall1", "oncall2"],
        overrides: {},
        policy: LEVEL_PRESETS.L4,
        position: { line: 5, col: 5 },
      },
      {
        repo: "org6/Repo6",
        key: "org6/repo6",
        level: "L4",
        name: "repo6",
        oncalls: ["oncall3", "example-org/ci-team"],
        overrides: {},
        policy: LEVEL_PRESETS.L4,
        position: { line: 6, col: 5 },
      },
    ]);
  });

  it("keys byRepo by the lower-cased repo, so lookups ignore case", () => {
    expect([...allowlist.byRepo.keys()]).toEqual(["example-org/plain", "org5/repo5", "org6/repo6"]);
    expect(findEntry(allowlist, "ORG6/repo6")?.repo).toBe("org6/Repo6");
    expect(findEntry(allowlist, "Example-Org/Plain")?.level).toBe("L1");
    expect(findEntry(allowlist, "example-org/unlisted")).toBeUndefined();
  });
});

describe("the production relay's device-group form", () => {
  it("names each entry after its device group", () => {
    const allowlist = parseOk(
      yaml(
        "L3:",
        "  npu:",
        "    Example-NPU/torch-npu: [oncall1, oncall2]",
        "  gpu:",
        '    - example-gpu/gpu-plugin: "@g1"',
        "  cpu:",
        "    example-cpu/cpu-backend:",
      ),
    );
    expect(allowlist.entries).toEqual([
      {
        repo: "Example-NPU/torch-npu",
        key: "example-npu/torch-npu",
        level: "L3",
        name: "npu",
        device: "npu",
        oncalls: ["oncall1", "oncall2"],
        overrides: {},
        policy: LEVEL_PRESETS.L3,
        position: { line: 3, col: 5 },
      },
      {
        repo: "example-gpu/gpu-plugin",
        key: "example-gpu/gpu-plugin",
        level: "L3",
        name: "gpu",
        device: "gpu",
        oncalls: ["g1"],
        overrides: {},
        policy: LEVEL_PRESETS.L3,
        position: { line: 5, col: 7 },
      },
      {
        repo: "example-cpu/cpu-backend",
        key: "example-cpu/cpu-backend",
        level: "L3",
        name: "cpu",
        device: "cpu",
        oncalls: [],
        overrides: {},
        policy: LEVEL_PRESETS.L3,
        position: { line: 7, col: 5 },
      },
    ]);
  });

  it("accepts options under a repo in a device group", () => {
    const [entry] = parseOk(
      yaml("L4:", "  npu:", "    example-npu/torch-npu:", "      oncalls: npu-oncall", "      block_pr: false"),
    ).entries;
    expect(entry).toMatchObject({
      name: "npu",
      oncalls: ["npu-oncall"],
      overrides: { block_pr: false },
      policy: { ...LEVEL_PRESETS.L4, block_pr: false },
    });
  });
});

describe("entry values and names", () => {
  it("takes policy overrides, oncalls and an explicit name from an options map", () => {
    const [entry] = parseOk(
      yaml(
        "L2:",
        "  - example-dsp/torch-dsp:",
        "      name: DSP",
        '      oncalls: "@dsp-ci, example-dsp/infra"',
        "      display_on_pr: label_only",
        "      display_on_hud: false",
      ),
    ).entries;
    expect(entry).toMatchObject({
      name: "DSP",
      oncalls: ["dsp-ci", "example-dsp/infra"],
      overrides: { display_on_pr: "label_only", display_on_hud: false },
      policy: { forward_event: true, display_on_hud: false, display_on_pr: "label_only", block_pr: false },
    });
  });

  it("normalizes oncall strings: trims, strips @, drops empty parts and repeats", () => {
    const [entry] = parseOk(yaml("L4:", '  - a/b: " @alice,, bob ,@example-org/team, alice "')).entries;
    expect(entry?.oncalls).toEqual(["alice", "bob", "example-org/team"]);
  });

  it("derives the name from the repo part: lower-cased, outer '-' trimmed", () => {
    const names = parseOk(yaml("L1:", "  - Example/Torch_NPU.Plugin", "  - example/-edge-")).entries.map(
      (entry) => entry.name,
    );
    expect(names).toEqual(["torch_npu.plugin", "edge"]);
  });

  it("follows YAML aliases, so an oncall list can be shared", () => {
    const entries = parseOk(
      yaml("L4:", "  - a/one: &rotation [alice, bob]", "  - a/two: *rotation"),
    ).entries;
    expect(entries.map((entry) => entry.oncalls)).toEqual([
      ["alice", "bob"],
      ["alice", "bob"],
    ]);
  });

  it.each([
    ["an empty document", ""],
    ["a comment-only document", "# nothing yet\n"],
    ["empty levels", yaml("L1:", "L2: []", "L3: {}", "L4:", "requirements:")],
  ])("accepts %s as an empty allowlist", (_what, text) => {
    expect(parseOk(text)).toEqual({ entries: [], byRepo: new Map(), requirements: {} });
  });
});

describe("the example allowlist.yml", () => {
  const allowlist = parseOk(exampleFile);
  const countBy = (level: string) => allowlist.entries.filter((entry) => entry.level === level).length;

  it("parses cleanly with the expected entries per level", () => {
    expect({ L1: countBy("L1"), L2: countBy("L2"), L3: countBy("L3"), L4: countBy("L4") }).toEqual({
      L1: 2,
      L2: 3,
      L3: 2,
      L4: 2,
    });
  });

  it("uses both forms, overrides and an explicit name", () => {
    expect(findEntry(allowlist, "example-npu/torch-npu")).toMatchObject({ device: "npu", name: "npu" });
    expect(findEntry(allowlist, "example-xpu/xpu-backend")).toMatchObject({ device: "xpu", oncalls: ["xpu-oncall1", "xpu-oncall2"] });
    expect(findEntry(allowlist, "example-dsp/torch-dsp")?.overrides).toEqual({ display_on_pr: "label_only" });
    expect(findEntry(allowlist, "example-riscv/pytorch-riscv-backend")?.name).toBe("riscv");
    expect(findEntry(allowlist, "example-mlu/torch-mlu")?.oncalls).toEqual(["mlu-oncall", "example-mlu/ci-team"]);
  });

  it("normalizes the requirements into fractions and seconds", () => {
    expect(allowlist.requirements.L3).toEqual({
      min_infra_availability: 0.95,
      min_test_pass_rate: 0.9,
      max_queue_time_p90: 7200,
      max_run_time_p90: 14400,
      window_days: 14,
    });
    expect(allowlist.requirements.L4).toMatchObject({ min_test_pass_rate: 0.98, max_run_time_p50: 5400 });
    expect(allowlist.requirements.L1).toBeUndefined();
  });
});

describe("requirements", () => {
  it("reads rates as fractions or percents and durations with units", () => {
    const { requirements } = parseOk(
      yaml(
        "requirements:",
        "  L2:",
        "    min_infra_availability: 0.9",
        '    min_test_pass_rate: "99.5%"',
        "    min_success_rate: 100%",
        "    max_timeout_rate: 0",
        "    max_queue_time_p50: 45s",
        "    max_queue_time_p90: 30m",
        "    max_run_time_p50: 1.5h",
        "    max_run_time_p90: 2d",
        "    window_days: 7",
      ),
    );
    expect(requirements).toEqual({
      L2: {
        min_infra_availability: 0.9,
        min_test_pass_rate: 0.995,
        min_success_rate: 1,
        max_timeout_rate: 0,
        max_queue_time_p50: 45,
        max_queue_time_p90: 1800,
        max_run_time_p50: 5400,
        max_run_time_p90: 172800,
        window_days: 7,
      },
    });
  });

  it.each([
    ["min_test_pass_rate: 90", 25, "min_test_pass_rate: 90 is more than 1; write 90% or 0.9"],
    ['min_success_rate: "150%"', 23, "between 0 and 1 (a fraction) or between 0% and 100%"],
    ["max_timeout_rate: -0.1", 23, "-0.1 must be between 0 and 1"],
    ["min_infra_availability: high", 29, '"high" is not a rate; write a fraction like 0.9 or a percent like "90%"'],
    ["max_queue_time_p50: 30", 25, "30 has no unit; give a unit, e.g. 30m"],
    ["max_run_time_p90: 30 minutes", 23, '"30 minutes" is not a duration; write a number and a unit'],
    ["max_run_time_p50: 0s", 23, '"0s" must be more than zero'],
    ["window_days: 1.5", 18, "window_days: must be a whole number of days, 1 or more; found 1.5"],
    ["window_days: 0", 18, "found 0"],
  ])("rejects %s", (line, col, message) => {
    expectOneIssue(yaml("requirements:", "  L3:", `    ${line}`), 3, col, message);
  });
});

describe("errors, each at its line and column", () => {
  it("unknown top-level key, with a hint for a mis-cased level", () => {
    expectOneIssue(yaml("l3:", "  - a/b"), 1, 1, 'unknown top-level key "l3" (did you mean L3?)', "allowed: version, L1, L2, L3, L4, requirements");
    expectOneIssue(yaml("L1:", "  - a/b", "devices:", "  - c/d"), 3, 1, 'unknown top-level key "devices"');
  });

  it("unknown option key", () => {
    expectOneIssue(
      yaml("L2:", "  - a/b:", "      blockpr: true"),
      3,
      7,
      'unknown option "blockpr" (did you mean block_pr?)',
      "allowed: oncalls, name, forward_event, display_on_hud, display_on_pr, block_pr",
    );
  });

  it("unknown requirements keys: a level that does not exist and a threshold that does not exist", () => {
    const issues = issuesOf(yaml("requirements:", "  L5: {}", "  L2:", "    min_pass_rate: 0.9"));
    expect(issues).toMatchObject([
      { line: 2, col: 3, message: expect.stringContaining('unknown requirements key "L5"; allowed: L1, L2, L3, L4') as string },
      { line: 4, col: 5, message: expect.stringContaining('unknown requirement "min_pass_rate"; allowed: min_infra_availability,') as string },
    ]);
  });

  it("duplicate repo, case-insensitively and across levels", () => {
    expectOneIssue(
      yaml("L1:", "  - example-org/backend", "L3:", "  npu:", "    Example-Org/Backend: [alice]"),
      5,
      5,
      "Example-Org/Backend is already listed at line 2 (L1); a repo has exactly one level",
    );
  });

  it("malformed owner/repo", () => {
    const issues = issuesOf(yaml("L1:", "  - not-a-repo", "  - a/b/c", "  - -bad-owner/x"));
    expect(issues.map(({ line, col }) => [line, col])).toEqual([
      [2, 5],
      [3, 5],
      [4, 5],
    ]);
    expect(issues[0]?.message).toBe(
      '"not-a-repo" is not an owner/repo name; write it as in the repo\'s URL, e.g. example-org/example-repo',
    );
  });

  it("empty device name", () => {
    expectOneIssue(yaml("L3:", '  "":', "    a/b: [alice]"), 2, 3, "empty device name");
    expectOneIssue(yaml("L3:", "  ~:", "    a/b: [alice]"), 2, 3, "empty device name");
  });

  it("invalid device name, and a repo where a device name belongs", () => {
    expectOneIssue(yaml("L3:", "  my npu:", "    a/b: [alice]"), 2, 3, 'device name: "my npu" is not a valid backend name');
    expectOneIssue(yaml("L2:", "  a/b: [alice]"), 2, 3, "a/b is a repo, but L2 is written as a map of device groups");
  });

  it.each([
    ['block_pr: "yes"', 17, 'block_pr: must be true or false; found "yes"'],
    ["forward_event: 1", 22, "forward_event: must be true or false; found 1"],
    ["display_on_pr: sometimes", 22, 'display_on_pr: must be always, label_only or never; found "sometimes"'],
    ["oncalls: 42", 16, "oncalls: must be a comma-separated string"],
    ["oncalls: [alice, 1234]", 24, 'oncalls: oncall handles are strings; found 1234 (quote it: "1234")'],
    ['oncalls: "alice, bad handle!"', 16, 'oncalls: "bad handle!" is not a GitHub handle'],
    ["name: has space", 13, 'name: "has space" is not a valid backend name'],
  ])("wrong type or value: %s", (line, col, message) => {
    expectOneIssue(yaml("L2:", "  - a/b:", `      ${line}`), 3, col, message);
  });

  it("an entry value that is neither oncalls nor options", () => {
    expectOneIssue(yaml("L1:", "  - a/b: true"), 2, 10, 'the value of a/b must be oncalls ("@alice, bob" or a list) or a map of options; found true');
  });

  it.each([
    ["L2 with block_pr", yaml("L2:", "  - a/b: {block_pr: true}"), "display_on_pr is never"],
    ["L4 with display_on_pr label_only", yaml("L4:", "  - a/b: {oncalls: x, display_on_pr: label_only}"), "display_on_pr is label_only"],
  ])("an override the relay could not honour: %s", (_what, text, detail) => {
    expectOneIssue(text, 2, 5, "a/b: block_pr: true needs display_on_pr: always", detail);
  });

  it("forward_event false with display_on_pr always", () => {
    expectOneIssue(
      yaml("L4:", "  - a/b: {oncalls: x, forward_event: false}"),
      2,
      5,
      "a/b: display_on_pr: always needs forward_event: true",
    );
  });

  it("duplicate names, case-insensitively, including a device group's name taken by another backend", () => {
    const issues = issuesOf(
      yaml(
        "L1:",
        "  - a/npu",
        "  - b/NPU",
        "  - c/x: {name: Npu}",
        "  - f/gpu",
        "L3:",
        "  gpu:",
        "    d/one: [alice]",
      ),
    );
    expect(issues).toMatchObject([
      { line: 3, col: 5, message: "name 'npu' is already used by a/npu (line 2); give one of them a distinct `name:`" },
      { line: 4, col: 17, message: expect.stringContaining("name 'Npu' is already used by a/npu (line 2)") as string },
      { line: 8, col: 5, message: expect.stringContaining("name 'gpu' is already used by f/gpu (line 5); the device key is the name of a group's only backend") as string },
    ]);
  });

  it("a device group of several repos (the production form): each backend named by its repo, all sharing the device's label", () => {
    const parsed = parseAllowlist(yaml("L3:", "  npu:", "    ascend/torch-npu: [alice]", "    other/npu-ext: [bob]", "    third/x: {name: npu-three}"));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.allowlist.entries.map((entry) => [entry.repo, entry.name, entry.device, entry.oncalls])).toEqual([
      ["ascend/torch-npu", "torch-npu", "npu", ["alice"]],
      ["other/npu-ext", "npu-ext", "npu", ["bob"]],
      ["third/x", "npu-three", "npu", []],
    ]);
    expect(parsed.allowlist.entries.map((entry) => labelFor(entry, "ciflow/crcr/"))).toEqual(["ciflow/crcr/npu", "ciflow/crcr/npu", "ciflow/crcr/npu"]);
  });

  it("options under the top-level relay: section apply to the listed repo; misuses are errors", () => {
    const parsed = parseAllowlist(yaml("relay:", "  Acme/TPU: {name: tpu, block_pr: false}", "L4:", "  - acme/tpu: \"@alice\""));
    expect(parsed.ok && parsed.allowlist.entries.map((entry) => [entry.name, entry.policy.block_pr, entry.oncalls])).toEqual([["tpu", false, ["alice"]]]);
    expect(issuesOf(yaml("relay:", "  acme/gone: {block_pr: false}", "L4:", "  - acme/tpu: \"@alice\""))).toMatchObject([
      { line: 2, col: 3, message: "relay: acme/gone is not listed at any level; list it under L1..L4, or remove its options" },
    ]);
    expect(issuesOf(yaml("relay:", "  acme/tpu: {block_pr: false}", "L4:", "  - acme/tpu: {oncalls: alice, name: x}"))).toMatchObject([
      { line: 4, message: "acme/tpu has options both here and under relay: (line 2); keep them in one place" },
    ]);
    expect(issuesOf(yaml("relay:", "  acme/tpu: {oncalls: [bob]}", "L4:", "  - acme/tpu: \"@alice\""))[0]?.message).toMatch(/^relay: oncalls of acme\/tpu belong in its level's list/);
    expect(issuesOf(yaml("relay:", "  acme/tpu: {colour: red}", "L1:", "  - acme/tpu"))[0]?.message).toContain('unknown option "colour"');
  });

  it("torchci mode (RELAY_PROFILE=pytorch) refuses what torchci's parser rejects or misreads", () => {
    const torchci = (...lines: string[]) => {
      const parsed = parseAllowlist(yaml(...lines), { torchci: true });
      return parsed.ok ? [] : parsed.issues.map((issue) => `${issue.line}: ${issue.message.replace(/ \(RELAY_PROFILE=pytorch: torchci reads this file too\)$/, "")}`);
    };
    expect(torchci("L4:", "  - acme/tpu: {oncalls: alice, block_pr: false}")).toEqual([
      `2: torchci reads no oncalls from an options map: write acme/tpu's oncalls here ("acme/tpu: "@alice, bob"" or a list) and its options under the top-level relay: section`,
    ]);
    expect(torchci("L3:", "  npu:", "    acme/npu: \"alice, bob\"")).toEqual(["3: torchci reads L3 oncalls from a list only: write acme/npu: [alice, bob]"]);
    expect(torchci("L3: []")).toEqual(['1: L3 is a map of device groups for torchci ("L3: {npu: {owner/repo: [oncall]}}"); it refuses a list there, even an empty one']);
    expect(torchci("L4:", "  npu:", "    acme/npu: [alice]")).toEqual(['2: L4 is a list for torchci ("- owner/repo: "@oncall""); device groups are read under L3 only']);
    expect(torchci("# nothing yet")).toEqual(['1: an empty allowlist: torchci refuses a file without a map at its root; write at least one level key, e.g. "L4:"']);
    // The forms both read alike pass, with the relay's own options and requirements beside them.
    expect(torchci("L1:", "  - a/one", "L3:", "  npu:", "    acme/npu: [alice]", "L4:", "  - acme/tpu: \"@bob, carol\"", "relay:", "  acme/tpu: {name: tpu}", "requirements:", "  L4: {min_success_rate: 0.9}")).toEqual([]);
  });

  it("an explicit name inside a device group of one repo", () => {
    expectOneIssue(
      yaml("L3:", "  npu:", "    a/b:", "      name: other"),
      4,
      13,
      'name is not allowed inside a device group of one repo: the device key "npu" is the backend\'s name',
    );
  });

  it("a name that cannot be derived from the repo", () => {
    expectOneIssue(yaml("L1:", "  - a/_underscore"), 2, 5, 'cannot derive a backend name from a/_underscore (got "_underscore")', "{name: my-backend}");
  });

  it("L4 without oncalls", () => {
    const issues = issuesOf(yaml("L4:", "  - a/b", "  - c/d: []", '  - e/f: " , "', "  - g/h: {block_pr: true}"));
    expect(issues.map(({ line, col }) => [line, col])).toEqual([
      [2, 5],
      [3, 5],
      [4, 5],
      [5, 5],
    ]);
    expect(issues[0]?.message).toBe('a/b is L4 but has no oncalls; L4 needs an oncall rotation, e.g. - a/b: "@alice,bob"');
  });

  it("the RFC's unquoted @ value", () => {
    const issue = expectOneIssue(
      yaml("L4:", "  - org5/repo5: @oncall1,oncall2"),
      2,
      17,
      'values starting with "@" must be quoted, e.g. org5/repo5: "@oncall1,oncall2"',
    );
    expect(issue).toMatchObject({ endLine: 2, endCol: 18 });
    expectOneIssue(yaml("L4:", "  - a/b: [@alice, bob]"), 2, 11, 'must be quoted, e.g. "@alice"');
  });

  it("a YAML duplicate key", () => {
    expectOneIssue(yaml("L1:", "  - a/b", "L1:", "  - c/d"), 3, 1, "duplicate key L1");
    expectOneIssue(yaml("L2:", "  - a/b: {oncalls: x, oncalls: y}"), 2, 23, "duplicate key oncalls");
  });

  it("other YAML syntax errors, with yaml's message", () => {
    const issues = issuesOf(yaml("L1:", "  - a/b", " - c/d"));
    expect(issues[0]).toMatchObject({ line: 3, col: 1, message: "invalid YAML: A block sequence may not be used as an implicit map key" });
  });

  it("a list item with more than one key", () => {
    expectOneIssue(
      yaml("L2:", "  - a/b:", "    block_pr: false"),
      3,
      5,
      "a list item names exactly one repo, but this one also has the key block_pr",
      '("- a/b: {block_pr: ...}")',
    );
  });

  it("wrong shapes: top level, level, device group, list item, version", () => {
    expectOneIssue(yaml("- a/b"), 1, 1, "the allowlist must be a map with the keys version, L1, L2, L3, L4, requirements, relay; found a list");
    expectOneIssue(yaml("L1: a/b"), 1, 5, 'L1 must be a list of repos ("- owner/repo") or a map of device groups');
    expectOneIssue(yaml("L3:", "  npu: a/b"), 2, 8, "device group npu must map repos to oncalls or options");
    expectOneIssue(yaml("L1:", "  - [a/b]"), 2, 5, 'each list item is "owner/repo" or "owner/repo: <oncalls or options>"; found a list');
    expectOneIssue(yaml("version: 2"), 1, 10, "version: must be 1 (the only allowlist format version); found 2");
    expectOneIssue(yaml("requirements: [L1]"), 1, 15, "requirements must be a map from level (L1..L4) to thresholds");
  });

  it("oversize input: one issue at 1:1 with the size and the cap", () => {
    const size = MAX_ALLOWLIST_BYTES + 1;
    expectOneIssue("#".repeat(size), 1, 1, `${size} bytes`, `the limit is ${MAX_ALLOWLIST_BYTES} bytes`);
  });
});

describe("reporting", () => {
  it("reports every problem at once, sorted by line then column", () => {
    const issues = issuesOf(
      yaml(
        "L1:",
        "  - bad",
        "  - a/b: {block_pr: maybe, colour: red}",
        "L1:",
        "  - c/d",
        "L4:",
        "  - e/f",
        "extra: 1",
      ),
    );
    expect(issues.map(({ line, col, message }) => `${line}:${col} ${message.split(/[;:]/)[0]}`)).toEqual([
      '2:5 "bad" is not an owner/repo name',
      "3:21 block_pr",
      '3:28 unknown option "colour"',
      "4:1 duplicate key L1",
      "7:5 e/f is L4 but has no oncalls",
      '8:1 unknown top-level key "extra"',
    ]);
  });

  it("locates each issue from its start to the end of the node", () => {
    const [issue] = issuesOf(yaml("L1:", "  - not-a-repo"));
    expect(issue).toEqual({
      line: 2,
      col: 5,
      endLine: 2,
      endCol: 15,
      message: expect.any(String) as string,
    });
  });

  it("formatIssue prints file:line:col: message", () => {
    const issue = { line: 7, col: 5, endLine: 7, endCol: 8, message: "e/f is L4 but has no oncalls" };
    expect(formatIssue(issue, "config/allowlist.yml")).toBe("config/allowlist.yml:7:5: e/f is L4 but has no oncalls");
  });

  it("never throws, whatever the input", () => {
    const pieces = ["L1:", "L3:", "  ", "- ", "a/b", ": ", "@x", "{", "}", "[", "]", "&a ", "*a", "\n", "~", "'", '"', "#", "\t", "?", ",", "!!int "];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 500; round++) {
      const text = Array.from({ length: 30 }, () => pieces[next() % pieces.length]).join("");
      const parsed = parseAllowlist(text);
      expect(typeof parsed.ok).toBe("boolean");
    }
  });
});
