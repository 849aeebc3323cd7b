// What changes between two versions of the allowlist, for reviewing allowlist PRs. Pure functions only.
import { LEVEL_PRESETS } from "./policy.js";
import { formatThreshold, REQUIREMENT_KINDS } from "./schema.js";
import { LEVELS, type Allowlist, type AllowlistEntry, type Level, type LevelRequirements, type Policy } from "./types.js";

export interface EntryChange {
  before: AllowlistEntry;
  after: AllowlistEntry;
}

export interface PolicyFieldChange {
  field: keyof Policy;
  before: Policy[keyof Policy];
  after: Policy[keyof Policy];
}

export interface PolicyChange extends EntryChange {
  fields: PolicyFieldChange[];
}

export interface OncallsChange extends EntryChange {
  added: string[];
  removed: string[];
}

/** A level's requirement set, changed or removed (undefined: not set). */
export interface RequirementChange {
  level: Level;
  requirement: keyof LevelRequirements;
  before: number | undefined;
  after: number | undefined;
}

export interface AllowlistDiff {
  added: AllowlistEntry[];
  removed: AllowlistEntry[];
  promoted: EntryChange[];
  demoted: EntryChange[];
  /** Policy fields whose change is not just the level preset's own change. */
  policyChanged: PolicyChange[];
  /** The name is part of the PR label and the check-run names, so a rename changes both. */
  renamed: EntryChange[];
  oncallsChanged: OncallsChange[];
  /** Thresholds backends are judged by (docs/levels.md), highest level first. */
  requirementsChanged: RequirementChange[];
}

const POLICY_FIELDS: readonly (keyof Policy)[] = ["forward_event", "display_on_hud", "display_on_pr", "block_pr"];

const levelRank = (entry: AllowlistEntry): number => LEVELS.indexOf(entry.level);

/** Highest level first, then by repo: the order of every allowlist listing. */
export function compareEntries(a: AllowlistEntry, b: AllowlistEntry): number {
  return levelRank(b) - levelRank(a) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export function diffAllowlists(before: Allowlist, after: Allowlist): AllowlistDiff {
  const diff: AllowlistDiff = {
    added: after.entries.filter((entry) => !before.byRepo.has(entry.key)),
    removed: before.entries.filter((entry) => !after.byRepo.has(entry.key)),
    promoted: [],
    demoted: [],
    policyChanged: [],
    renamed: [],
    oncallsChanged: [],
    requirementsChanged: requirementChanges(before, after),
  };
  for (const old of before.entries) {
    const now = after.byRepo.get(old.key);
    if (!now) continue;
    const change = { before: old, after: now };
    const rise = levelRank(now) - levelRank(old);
    if (rise > 0) diff.promoted.push(change);
    if (rise < 0) diff.demoted.push(change);
    const fields = policyFieldChanges(old, now);
    if (fields.length > 0) diff.policyChanged.push({ ...change, fields });
    if (old.name !== now.name) diff.renamed.push(change);
    const added = missingHandles(now.oncalls, old.oncalls);
    const removed = missingHandles(old.oncalls, now.oncalls);
    if (added.length > 0 || removed.length > 0) diff.oncallsChanged.push({ ...change, added, removed });
  }
  diff.added.sort(compareEntries);
  diff.removed.sort(compareEntries);
  for (const changes of [diff.promoted, diff.demoted, diff.policyChanged, diff.renamed, diff.oncallsChanged]) {
    changes.sort((a, b) => compareEntries(a.after, b.after));
  }
  return diff;
}

export function isEmptyDiff(diff: AllowlistDiff): boolean {
  return Object.values(diff).every((changes: unknown[]) => changes.length === 0);
}

function requirementChanges(before: Allowlist, after: Allowlist): RequirementChange[] {
  const changes: RequirementChange[] = [];
  for (const level of [...LEVELS].reverse()) {
    for (const requirement of Object.keys(REQUIREMENT_KINDS) as Array<keyof LevelRequirements>) {
      const old = before.requirements[level]?.[requirement];
      const now = after.requirements[level]?.[requirement];
      if (old !== now) changes.push({ level, requirement, before: old, after: now });
    }
  }
  return changes;
}

// A field that moves from one preset value to the other is explained by the level change alone.
function policyFieldChanges(before: AllowlistEntry, after: AllowlistEntry): PolicyFieldChange[] {
  return POLICY_FIELDS.filter(
    (field) =>
      before.policy[field] !== after.policy[field] &&
      !(before.policy[field] === LEVEL_PRESETS[before.level][field] &&
        after.policy[field] === LEVEL_PRESETS[after.level][field]),
  ).map((field) => ({ field, before: before.policy[field], after: after.policy[field] }));
}

// GitHub handles are case-insensitive; order in the file carries no meaning.
function missingHandles(handles: readonly string[], from: readonly string[]): string[] {
  const present = new Set(from.map((handle) => handle.toLowerCase()));
  return handles.filter((handle) => !present.has(handle.toLowerCase()));
}

interface DiffSection {
  title: string;
  lines: string[];
}

/** The one description of a diff that both renderers lay out; `code` marks repo names, names and handles. */
function diffSections(diff: AllowlistDiff, code: (text: string) => string): DiffSection[] {
  const repo = (entry: AllowlistEntry) => code(entry.repo);
  const levelChange = ({ before, after }: EntryChange) =>
    `${repo(after)}: ${levelText(before)} → ${levelText(after)}`;
  const describe = (entry: AllowlistEntry) =>
    [
      `${repo(entry)}: ${levelText(entry)}`,
      `name ${code(entry.name)}`,
      ...(entry.oncalls.length > 0 ? [`oncalls ${entry.oncalls.map((h) => code(`@${h}`)).join(", ")}`] : []),
    ].join("; ");
  const handles = (sign: string, list: string[]) => list.map((h) => `${sign}${code(`@${h}`)}`);
  const sections: DiffSection[] = [
    { title: "Added", lines: diff.added.map(describe) },
    { title: "Removed", lines: diff.removed.map(describe) },
    { title: "Promoted", lines: diff.promoted.map(levelChange) },
    { title: "Demoted", lines: diff.demoted.map(levelChange) },
    {
      title: "Policy changed",
      lines: diff.policyChanged.map(
        ({ after, fields }) =>
          `${repo(after)}: ${fields.map((f) => `${f.field} ${String(f.before)} → ${String(f.after)}`).join("; ")}`,
      ),
    },
    {
      title: "Renamed — new PR label and check-run names",
      lines: diff.renamed.map(({ before, after }) => `${repo(after)}: ${code(before.name)} → ${code(after.name)}`),
    },
    {
      title: "Requirements changed",
      lines: diff.requirementsChanged.map(({ level, requirement, before, after }) => {
        const value = (threshold: number | undefined) => (threshold === undefined ? "(not set)" : formatThreshold(requirement, threshold));
        return `${level} ${code(requirement)}: ${value(before)} → ${value(after)}`;
      }),
    },
    {
      title: "Oncalls changed",
      lines: diff.oncallsChanged.map(
        ({ after, added, removed }) => `${repo(after)}: ${[...handles("+", added), ...handles("-", removed)].join(", ")}`,
      ),
    },
  ];
  return sections
    .filter((section) => section.lines.length > 0)
    .map((section) => ({ ...section, title: `${section.title} (${section.lines.length})` }));
}

// The level, plus the policy fields where the entry departs from that level's preset.
function levelText(entry: AllowlistEntry): string {
  const preset = LEVEL_PRESETS[entry.level];
  const departures = POLICY_FIELDS.filter((field) => entry.policy[field] !== preset[field]).map(
    (field) => `${field}: ${String(entry.policy[field])}`,
  );
  return departures.length > 0 ? `${entry.level} (${departures.join(", ")})` : entry.level;
}

const NO_CHANGES = "No level, policy or requirement changes.";

export function formatDiffText(diff: AllowlistDiff): string {
  const sections = diffSections(diff, (text) => text);
  if (sections.length === 0) return `${NO_CHANGES}\n`;
  return sections.map(({ title, lines }) => `${title}\n${lines.map((line) => `  ${line}\n`).join("")}`).join("\n");
}

/** For a check-run summary. Handles are code-formatted so the summary never @-mentions anyone. */
export function formatDiffMarkdown(diff: AllowlistDiff): string {
  const sections = diffSections(diff, (text) => `\`${text}\``);
  if (sections.length === 0) return `${NO_CHANGES}\n`;
  return sections
    .map(({ title, lines }) => `### ${title}\n\n${lines.map((line) => `- ${line}\n`).join("")}`)
    .join("\n");
}
