// `cross-repo-ci-relay validate-allowlist [file]`: check an allowlist file and list its backends by level.
import { z } from "zod";
import { compareEntries } from "../allowlist/diff.js";
import { LEVELS, type Allowlist } from "../allowlist/types.js";
import { FileArgument, loadAllowlistFile, ProfileOption, reportLoadFailures } from "./allowlist-file.js";
import { defineCommand, EXIT_OK, writeJson } from "./command.js";

const DEFAULT_ALLOWLIST_FILE = "./allowlist.yml";

export const validateAllowlist = defineCommand({
  name: "validate-allowlist",
  args: "[file] [--profile default|pytorch] [--json]",
  summary: "check an allowlist file and list its backends by level",
  details: [
    `Checks the allowlist file (default: $ALLOWLIST_FILE, else ${DEFAULT_ALLOWLIST_FILE}).`,
    "Valid: prints a table of backends by level and exits 0.",
    "Invalid: prints each problem as file:line:col: message to stderr and exits 1.",
    "",
    "  --profile P  default, or pytorch: also refuse what torchci (which reads the same file) would",
    "               reject or misread (default: $RELAY_PROFILE, else default; docs/pytorch.md)",
    "  --json       print the entries, or the problems, as JSON on stdout",
  ].join("\n"),
  options: { json: { type: "boolean" }, profile: { type: "string" } },
  schema: z
    .object({
      positionals: z.array(FileArgument).max(1, "takes at most one file"),
      profile: ProfileOption,
      json: z.boolean().default(false),
    })
    .transform(({ positionals, profile, json }) => ({ file: positionals[0], parse: profile, json })),
  async run({ file: given, parse, json }) {
    const file = given ?? (process.env.ALLOWLIST_FILE || DEFAULT_ALLOWLIST_FILE);
    const loaded = await loadAllowlistFile(file, parse);
    if (!loaded.ok) return reportLoadFailures([loaded.failure], json);
    if (json) writeJson({ ok: true, file, entries: loaded.allowlist.entries });
    else process.stdout.write(formatLevelTable(file, loaded.allowlist));
    return EXIT_OK;
  },
});

const LEVEL_TABLE_HEADERS = ["level", "repo", "name", "display_on_pr", "block_pr", "oncalls"];

/** One row per backend, highest level first; `handle` renders an oncall handle. */
function levelRows(allowlist: Allowlist, handle: (name: string) => string): string[][] {
  return allowlist.entries.toSorted(compareEntries).map((entry) => [
    entry.level,
    entry.repo,
    entry.name,
    entry.policy.display_on_pr,
    String(entry.policy.block_pr),
    entry.oncalls.map(handle).join(", ") || "-",
  ]);
}

/** `allowlist.yml: 9 repos (L4: 2, L3: 2, L2: 3, L1: 2)` */
export function formatLevelTotals(file: string, allowlist: Allowlist): string {
  const { entries } = allowlist;
  const counts = LEVELS.toReversed().map((level) => `${level}: ${entries.filter((entry) => entry.level === level).length}`);
  return `${file}: ${entries.length} repo${entries.length === 1 ? "" : "s"} (${counts.join(", ")})`;
}

/** The command's output for a valid file: an aligned table of the backends, then the totals. */
export function formatLevelTable(file: string, allowlist: Allowlist): string {
  const rows = [LEVEL_TABLE_HEADERS, ...levelRows(allowlist, (name) => `@${name}`)];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) => `${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()}\n`);
  const total = `${formatLevelTotals(file, allowlist)}\n`;
  return allowlist.entries.length > 0 ? `${table.join("")}\n${total}` : total;
}

/** The same table in GitHub markdown; handles are code-formatted so it never @-mentions anyone. */
export function formatLevelMarkdown(allowlist: Allowlist): string {
  const rows = levelRows(allowlist, (name) => `\`@${name}\``);
  if (rows.length === 0) return "No backends.\n";
  const line = (cells: string[]) => `| ${cells.join(" | ")} |\n`;
  return [line(LEVEL_TABLE_HEADERS), line(LEVEL_TABLE_HEADERS.map(() => "---")), ...rows.map(line)].join("");
}
