// torchci's reading of the allowlist (pytorch/test-infra torchci/lib/crcrAllowlist.ts, CrcrAllowlist.fromYaml),
// re-implemented here from its rules, on the YAML library torchci uses (js-yaml 4), so a test can check that
// the files the relay accepts in the pytorch profile mean the same to PyTorch's HUD, merge gate and oncall
// bot. Its rules, as that source states them:
// - the root must be a mapping (an empty file throws); only L1..L4 are read, other top-level keys ignored;
// - L1, L2, L4: a list (anything else throws); an item is a string (the repo, trimmed) or a mapping of
//   exactly one key (the repo) whose value gives the oncalls: a string split on "," or a list; any other
//   value gives none; an item of another type is skipped;
// - L3: a mapping of device → mapping of repo → oncalls (a list; any other value gives none); a list, an
//   empty device name, a device value that is not a mapping, or a repo without "/" throws;
// - a repo listed twice (case-insensitively) throws.
import yaml from "js-yaml";

export interface TorchciEntry {
  repo: string;
  level: "L1" | "L2" | "L3" | "L4";
  /** "" outside L3. */
  device: string;
  oncalls: string[];
}

export function torchciEntries(text: string): TorchciEntry[] {
  const root = yaml.load(text);
  if (!root || typeof root !== "object") throw new Error("root must be a mapping");
  const levels = root as Record<string, unknown>;
  const entries: TorchciEntry[] = [];
  const seen = new Set<string>();
  const add = (entry: TorchciEntry) => {
    if (seen.has(entry.repo.toLowerCase())) throw new Error(`duplicate repo ${entry.repo}`);
    seen.add(entry.repo.toLowerCase());
    entries.push(entry);
  };
  for (const level of ["L1", "L2", "L3", "L4"] as const) {
    const value = levels[level];
    if (value === undefined || value === null) continue;
    if (level === "L3") {
      if (typeof value !== "object" || Array.isArray(value)) throw new Error("L3 must be a device mapping");
      for (const [deviceKey, repos] of Object.entries(value as Record<string, unknown>)) {
        const device = deviceKey.trim();
        if (!device) throw new Error("L3 device name must not be empty");
        if (!repos || typeof repos !== "object" || Array.isArray(repos)) throw new Error(`L3.${device} must be a repo mapping`);
        for (const [repoKey, oncalls] of Object.entries(repos as Record<string, unknown>)) {
          const repo = repoKey.trim().replace(/^\/|\/$/g, "");
          if (!repo.includes("/")) throw new Error(`L3.${device}.${repoKey} must be in owner/repo format`);
          add({ repo, level, device, oncalls: Array.isArray(oncalls) ? trimmed(oncalls) : [] });
        }
      }
      continue;
    }
    if (!Array.isArray(value)) throw new Error(`${level} must be a list`);
    for (const item of value as unknown[]) {
      if (typeof item === "string") {
        add({ repo: item.trim(), level, device: "", oncalls: [] });
      } else if (typeof item === "object" && item !== null) {
        const keys = Object.keys(item);
        if (keys.length !== 1) throw new Error(`${level} entry must be a string or single-key mapping`);
        const oncalls = (item as Record<string, unknown>)[keys[0]!];
        add({
          repo: keys[0]!.trim(),
          level,
          device: "",
          oncalls: typeof oncalls === "string" ? trimmed(oncalls.split(",")) : Array.isArray(oncalls) ? trimmed(oncalls) : [],
        });
      }
    }
  }
  return entries;
}

function trimmed(values: readonly unknown[]): string[] {
  return values.map((value) => String(value).trim()).filter(Boolean);
}

// torchci's reading of check-run names and its merge gate (pytorch/test-infra torchci/lib/bot/crcrOncallBot.ts
// downstreamRepoFromCheckRunName; lib/bot/pytorchBotHandler.ts getCrcrBlockingFailures), from their rules:
// - a CRCR check run's name starts with "crcr/" and has at least four "/"-separated parts after it, the
//   first two (owner, repo) non-empty: they name the downstream repo;
// - the merge gate looks at the latest check run of each name on the head; one of an L4 repo (by the
//   allowlist, case-insensitively) blocks when its conclusion is "failure" or it is not completed.

export function downstreamRepoFromCheckRunName(name: string): string | null {
  if (!name.startsWith("crcr/")) return null;
  const parts = name.slice("crcr/".length).split("/");
  if (parts.length < 4 || !parts[0] || !parts[1]) return null;
  return `${parts[0]}/${parts[1]}`;
}

export function crcrBlockingRepos(checkRuns: ReadonlyArray<{ name: string; status: string; conclusion: string | null }>, entries: readonly TorchciEntry[]): string[] {
  const l4 = new Set(entries.filter((entry) => entry.level === "L4").map((entry) => entry.repo.toLowerCase()));
  const blocking = new Set<string>();
  for (const run of checkRuns) {
    const repo = downstreamRepoFromCheckRunName(run.name);
    if (repo === null || !l4.has(repo.toLowerCase())) continue;
    if (run.conclusion === "failure" || run.status !== "completed") blocking.add(repo);
  }
  return [...blocking];
}

/** torchci's ciflow trigger acts on a label when this holds (lib/bot/ciflowPushTrigger.ts isCIFlowLabel). */
export function isCIFlowLabel(label: string): boolean {
  return label.startsWith("ciflow/") && !label.startsWith("ciflow/crcr/");
}
