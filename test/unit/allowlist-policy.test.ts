import { describe, it, expect } from "vitest";
import {
  LEVEL_PRESETS,
  UNLISTED_POLICY,
  labelFor,
  policyConflict,
  policyFor,
  resolvePolicy,
  showsCheckRun,
} from "../../src/allowlist/policy.js";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist, Policy } from "../../src/allowlist/types.js";

const PREFIX = "ciflow/oot/";

function backend(name: string, policy: Partial<Policy> = {}) {
  return { name, policy: { ...LEVEL_PRESETS.L3, ...policy } };
}

function allowlistOf(yaml: string): Allowlist {
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  return parsed.allowlist;
}

describe("level presets", () => {
  it.each([
    ["L1", { forward_event: true, display_on_hud: false, display_on_pr: "never", block_pr: false }],
    ["L2", { forward_event: true, display_on_hud: true, display_on_pr: "never", block_pr: false }],
    ["L3", { forward_event: true, display_on_hud: true, display_on_pr: "label_only", block_pr: false }],
    ["L4", { forward_event: true, display_on_hud: true, display_on_pr: "always", block_pr: true }],
  ] as const)("%s resolves to the design's policy row", (level, expected) => {
    expect(LEVEL_PRESETS[level]).toEqual(expected);
    expect(resolvePolicy(level)).toEqual(expected);
  });

  it("a repo that is not listed gets nothing", () => {
    expect(UNLISTED_POLICY).toEqual({
      forward_event: false,
      display_on_hud: false,
      display_on_pr: "never",
      block_pr: false,
    });
    const allowlist = allowlistOf("L2:\n  - example-org/listed\n");
    expect(policyFor(allowlist, "example-org/other")).toEqual(UNLISTED_POLICY);
    expect(policyFor(allowlist, "Example-Org/LISTED")).toEqual(LEVEL_PRESETS.L2);
  });

  it("overrides win over the preset, field by field", () => {
    expect(resolvePolicy("L2", { display_on_pr: "label_only" })).toEqual({
      ...LEVEL_PRESETS.L2,
      display_on_pr: "label_only",
    });
    expect(resolvePolicy("L4", { block_pr: false, display_on_hud: false })).toEqual({
      forward_event: true,
      display_on_hud: false,
      display_on_pr: "always",
      block_pr: false,
    });
  });
});

describe("policyConflict", () => {
  it("accepts every preset", () => {
    for (const policy of Object.values(LEVEL_PRESETS)) expect(policyConflict(policy)).toBeUndefined();
    expect(policyConflict(UNLISTED_POLICY)).toBeUndefined();
  });

  it.each(["never", "label_only"] as const)("rejects block_pr with display_on_pr %s", (mode) => {
    expect(policyConflict(resolvePolicy("L4", { display_on_pr: mode }))).toContain(
      "block_pr: true needs display_on_pr: always",
    );
  });

  it.each(["always", "label_only"] as const)("rejects display_on_pr %s without forward_event", (mode) => {
    const policy = resolvePolicy("L2", { forward_event: false, display_on_pr: mode });
    expect(policyConflict(policy)).toContain(`display_on_pr: ${mode} needs forward_event: true`);
  });

  it("accepts forward_event false when nothing is shown", () => {
    expect(policyConflict(resolvePolicy("L2", { forward_event: false }))).toBeUndefined();
  });
});

describe("showsCheckRun", () => {
  const npu = backend("npu");

  it("always: on every PR, labels or not", () => {
    expect(showsCheckRun(backend("tpu", LEVEL_PRESETS.L4), [], PREFIX)).toBe(true);
  });

  it("label_only: only with the backend's own label, compared case-insensitively", () => {
    expect(showsCheckRun(npu, ["ciflow/oot/npu"], PREFIX)).toBe(true);
    expect(showsCheckRun(npu, ["bug", "CIFlow/OOT/NPU"], PREFIX)).toBe(true);
    expect(showsCheckRun(npu, [], PREFIX)).toBe(false);
    expect(showsCheckRun(npu, ["ciflow/oot/xpu"], PREFIX)).toBe(false);
    expect(showsCheckRun(npu, ["ciflow/oot/npu-extra", "ciflow/oot/"], PREFIX)).toBe(false);
  });

  it("never: not even with the label", () => {
    expect(showsCheckRun(backend("npu", { display_on_pr: "never" }), ["ciflow/oot/npu"], PREFIX)).toBe(false);
  });

  it("forward_event false: nothing is dispatched, so nothing is shown", () => {
    expect(showsCheckRun(backend("tpu", { ...LEVEL_PRESETS.L4, forward_event: false }), [], PREFIX)).toBe(false);
  });

  it("uses the configured label prefix", () => {
    expect(showsCheckRun(npu, ["ciflow/crcr/npu"], "ciflow/crcr/")).toBe(true);
    expect(showsCheckRun(npu, ["ciflow/oot/npu"], "ciflow/crcr/")).toBe(false);
  });
});

describe("labelFor", () => {
  it("joins the prefix and the backend name", () => {
    expect(labelFor({ name: "npu" }, PREFIX)).toBe("ciflow/oot/npu");
    expect(labelFor({ name: "npu" }, "ciflow/crcr/")).toBe("ciflow/crcr/npu");
  });
});
