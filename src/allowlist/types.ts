// Types of the parsed allowlist. The YAML parser (parse.ts) is the only producer of these values.

export const LEVELS = ["L1", "L2", "L3", "L4"] as const;
export type Level = (typeof LEVELS)[number];

export const DISPLAY_ON_PR = ["always", "label_only", "never"] as const;
export type DisplayOnPr = (typeof DISPLAY_ON_PR)[number];

/** The RFC's four per-repo policy fields, named as in the RFC and in allowlist.yml. */
export interface Policy {
  forward_event: boolean;
  display_on_hud: boolean;
  display_on_pr: DisplayOnPr;
  block_pr: boolean;
}

export type PolicyOverrides = Partial<Policy>;

/** 1-based line and column in the allowlist file. */
export interface SourcePosition {
  line: number;
  col: number;
}

export interface AllowlistEntry {
  /** `owner/repo` as written in the file. */
  repo: string;
  /** Lower-cased `owner/repo`: GitHub names are case-insensitive, so every lookup uses this. */
  key: string;
  level: Level;
  /** Short backend name used in labels (`ciflow/oot/<name>`) and check-run names (`oot / <name>`). */
  name: string;
  /** Device group the entry was listed under (production form), if any. */
  device?: string;
  /** GitHub handles (users or org/team), without the leading `@`. */
  oncalls: string[];
  /** Policy fields set explicitly on this entry. */
  overrides: PolicyOverrides;
  /** The level preset with the overrides applied. */
  policy: Policy;
  /** The repo may report with the production relay's callback body (`legacy_callbacks: true`; docs/pytorch.md). */
  legacyCallbacks?: boolean;
  position: SourcePosition;
}

/**
 * Per-level health thresholds a later audit compares backends against. Every field is optional:
 * the RFC review asked for numbers that float and are calibrated over time.
 * Rates are fractions in [0, 1]; durations are seconds.
 */
export interface LevelRequirements {
  min_infra_availability?: number;
  min_test_pass_rate?: number;
  min_success_rate?: number;
  max_timeout_rate?: number;
  max_queue_time_p50?: number;
  max_queue_time_p90?: number;
  max_run_time_p50?: number;
  max_run_time_p90?: number;
  /** From a PR dispatch to the completion of its last job, 90th percentile (the RFC's "within 3 h per PR"). */
  max_pr_time_p90?: number;
  /** Share of the backend's callbacks the relay took as valid (docs/levels.md). */
  min_signal_validity?: number;
  window_days?: number;
}

export interface Allowlist {
  /** Entries in file order. */
  entries: readonly AllowlistEntry[];
  /** Entries keyed by lower-cased `owner/repo`. */
  byRepo: ReadonlyMap<string, AllowlistEntry>;
  requirements: Partial<Record<Level, LevelRequirements>>;
}

/** One problem found in an allowlist file, located for `path:line:col: message` output and annotations. */
export interface AllowlistIssue {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  message: string;
}

export type AllowlistParseResult =
  | { ok: true; allowlist: Allowlist }
  | { ok: false; issues: AllowlistIssue[] };
