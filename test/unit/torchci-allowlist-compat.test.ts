// The allowlist is shared with torchci (PyTorch's HUD, merge gate and oncall bot read the same file). In the
// pytorch profile every file the relay accepts must mean the same to torchci's parser (its rules ported in
// test/helpers/torchci-allowlist.ts), and the production relay's forms must load as that relay read them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { labelFor } from "../../src/allowlist/policy.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { loadConfig } from "../../src/config.js";
import { isCIFlowLabel, torchciEntries, type TorchciEntry } from "../helpers/torchci-allowlist.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/allowlist/${name}`, import.meta.url), "utf8");

function relayAllowlist(text: string): Allowlist {
  const parsed = parseAllowlist(text, { torchci: true });
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => `${issue.line}: ${issue.message}`).join("\n"));
  return parsed.allowlist;
}

/** What both readers must agree on: repo, level, device, oncalls (torchci keeps a leading "@"; the relay drops it). */
function meaning(entries: ReadonlyArray<Pick<TorchciEntry, "repo" | "level" | "oncalls"> & { device?: string }>) {
  return entries
    .map((entry) => ({ repo: entry.repo.toLowerCase(), level: entry.level, device: entry.device ?? "", oncalls: entry.oncalls.map((handle) => handle.replace(/^@/, "")) }))
    .sort((a, b) => a.repo.localeCompare(b.repo));
}

describe("the allowlist in the pytorch profile reads the same to torchci", () => {
  it.each(["production-canonical.yml", "production-multi-repo-device.yml", "pytorch-profile.yml"])("%s", (name) => {
    const text = fixture(name);
    expect(meaning(relayAllowlist(text).entries)).toEqual(meaning(torchciEntries(text)));
  });

  it("the production relay's documented forms load as that relay reads them: levels, devices, oncalls, one label per device", () => {
    const allowlist = relayAllowlist(fixture("production-canonical.yml"));
    expect(allowlist.entries.map((entry) => [entry.repo, entry.level, entry.device ?? "", entry.oncalls])).toEqual([
      ["org1/repo1", "L1", "", []],
      ["org2/repo2", "L1", "", []],
      ["org3/repo3", "L2", "", []],
      ["org41/device1-repo", "L3", "device1", ["oncall1", "oncall2"]],
      ["org42/device2-repo", "L3", "device2", ["oncall3"]],
      ["org5/repo5", "L4", "", ["oncall1", "oncall2"]],
    ]);
    const multi = relayAllowlist(fixture("production-multi-repo-device.yml"));
    expect(multi.entries.filter((entry) => entry.device === "device1").map((entry) => labelFor(entry, "ciflow/crcr/"))).toEqual([
      "ciflow/crcr/device1",
      "ciflow/crcr/device1",
    ]);
  });

  it("the relay's own options and requirements are invisible to torchci, and the relay reads them", () => {
    const text = fixture("pytorch-profile.yml");
    const tpu = relayAllowlist(text).byRepo.get("example-org/tpu-backend");
    expect([tpu?.name, tpu?.oncalls]).toEqual(["tpu", ["tpu-oncall", "tpu-lead"]]);
    expect(torchciEntries(text).find((entry) => entry.repo === "example-org/tpu-backend")?.oncalls).toEqual(["@tpu-oncall", "tpu-lead"]);
  });

  it("what the profile refuses is what torchci would throw on or misread", () => {
    // An options map: torchci reads no oncalls from it (its oncall bot would stay silent).
    const optionsMap = "L4:\n  - acme/tpu: {oncalls: alice, block_pr: false}\n";
    expect(torchciEntries(optionsMap)[0]?.oncalls).toEqual([]);
    expect(parseAllowlist(optionsMap, { torchci: true }).ok).toBe(false);
    expect(parseAllowlist(optionsMap).ok).toBe(true);
    // A comma string under L3: torchci reads no oncalls.
    const l3String = "L3:\n  npu:\n    acme/npu: alice, bob\n";
    expect(torchciEntries(l3String)[0]?.oncalls).toEqual([]);
    expect(parseAllowlist(l3String, { torchci: true }).ok).toBe(false);
    // Shapes torchci throws on.
    for (const text of ["L3: []\n", "L4:\n  npu:\n    acme/npu: [alice]\n", "# empty\n", "L3:\n  npu:\n    - acme/npu\n"]) {
      expect(() => torchciEntries(text), text).toThrow();
      expect(parseAllowlist(text, { torchci: true }).ok, text).toBe(false);
    }
  });
});

describe("labels in the pytorch profile", () => {
  it("no label the relay acts on is one torchci's ciflow trigger acts on (every backend's, and the trust label)", () => {
    const config = loadConfig({ RELAY_PROFILE: "pytorch" });
    const labels = [...relayAllowlist(fixture("pytorch-profile.yml")).entries, ...relayAllowlist(fixture("production-multi-repo-device.yml")).entries].map((entry) =>
      labelFor(entry, config.labels.prefix),
    );
    expect(labels).toContain("ciflow/crcr/npu");
    for (const label of [...labels, config.dispatch.trustLabel]) expect(isCIFlowLabel(label), label).toBe(false);
    // The default profile's labels would be: that is why the profile exists.
    expect(isCIFlowLabel(labelFor(relayAllowlist(fixture("pytorch-profile.yml")).entries[0]!, loadConfig({}).labels.prefix))).toBe(true);
  });
});
