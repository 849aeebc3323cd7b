// Levels are presets of the four policy fields; per-repo overrides win. Pure functions only.
import type { Allowlist, AllowlistEntry, DisplayOnPr, Level, Policy, PolicyOverrides } from "./types.js";

export const LEVEL_PRESETS: Readonly<Record<Level, Readonly<Policy>>> = {
  L1: { forward_event: true, display_on_hud: false, display_on_pr: "never", block_pr: false },
  L2: { forward_event: true, display_on_hud: true, display_on_pr: "never", block_pr: false },
  L3: { forward_event: true, display_on_hud: true, display_on_pr: "label_only", block_pr: false },
  L4: { forward_event: true, display_on_hud: true, display_on_pr: "always", block_pr: true },
};

/** Policy of a repo that is not in the allowlist: nothing is forwarded or shown. */
export const UNLISTED_POLICY: Readonly<Policy> = {
  forward_event: false,
  display_on_hud: false,
  display_on_pr: "never",
  block_pr: false,
};

export function resolvePolicy(level: Level, overrides: PolicyOverrides = {}): Policy {
  const preset = LEVEL_PRESETS[level];
  return {
    forward_event: overrides.forward_event ?? preset.forward_event,
    display_on_hud: overrides.display_on_hud ?? preset.display_on_hud,
    display_on_pr: overrides.display_on_pr ?? preset.display_on_pr,
    block_pr: overrides.block_pr ?? preset.block_pr,
  };
}

/**
 * Why a policy is inconsistent, or undefined when it is fine. The parser reports these with the
 * entry's line; they are combinations the relay could not honour.
 */
export function policyConflict(policy: Policy): string | undefined {
  if (policy.block_pr && policy.display_on_pr !== "always") {
    return `block_pr: true needs display_on_pr: always (a blocking check must exist on every PR), but display_on_pr is ${policy.display_on_pr}`;
  }
  if (!policy.forward_event && policy.display_on_pr !== "never") {
    return `display_on_pr: ${policy.display_on_pr} needs forward_event: true (nothing is dispatched, so no result could be shown)`;
  }
  return undefined;
}

/** Whether the relay collects this backend's results (HUD or PR): L1 (forward only) reports nothing back. */
export function collectsResults(policy: Policy): boolean {
  return policy.display_on_hud || policy.display_on_pr !== "never";
}

export function findEntry(allowlist: Allowlist, repo: string): AllowlistEntry | undefined {
  return allowlist.byRepo.get(repo.toLowerCase());
}

export function policyFor(allowlist: Allowlist, repo: string): Policy {
  return findEntry(allowlist, repo)?.policy ?? UNLISTED_POLICY;
}

/**
 * The PR label that shows a label-only backend: `<prefix><device>` for an entry of a device group (every
 * repo of the group shares it, as in the production relay's `ciflow/crcr/<device>`), else `<prefix><name>`.
 */
export function labelFor(entry: Pick<AllowlistEntry, "name" | "device">, labelPrefix: string): string {
  return `${labelPrefix}${entry.device ?? entry.name}`;
}

/**
 * Is this backend's check run shown on a PR carrying these labels? `always` shows it everywhere,
 * `label_only` only with its label (labelFor; compared case-insensitively, as GitHub compares labels).
 */
export function showsCheckRun(
  entry: Pick<AllowlistEntry, "name" | "device" | "policy">,
  prLabels: readonly string[],
  labelPrefix: string,
): boolean {
  const mode: DisplayOnPr = entry.policy.display_on_pr;
  if (!entry.policy.forward_event || mode === "never") return false;
  if (mode === "always") return true;
  const wanted = labelFor(entry, labelPrefix).toLowerCase();
  return prLabels.some((label) => label.toLowerCase() === wanted);
}
