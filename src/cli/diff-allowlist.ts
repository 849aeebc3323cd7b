// `cross-repo-ci-relay diff-allowlist <old> <new>`: what a change to the allowlist does to levels, policies, names and oncalls.
import { z } from "zod";
import { diffAllowlists, formatDiffText } from "../allowlist/diff.js";
import { FileArgument, loadAllowlistFile, reportLoadFailures } from "./allowlist-file.js";
import { defineCommand, EXIT_OK, writeJson } from "./command.js";

export const diffAllowlist = defineCommand({
  name: "diff-allowlist",
  args: "<old> <new> [--json]",
  summary: "show level, policy, name and oncall changes between two allowlist files",
  details: [
    "Parses both files and lists added and removed backends, promotions, demotions, policy",
    "overrides, renames (which change the PR label and check-run names) and oncall changes.",
    "Exits 1, printing the problems, when either file is invalid.",
    "",
    "  --json  print the diff, or the problems, as JSON on stdout",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  schema: z
    .object({
      positionals: z.tuple([FileArgument, FileArgument], { error: "needs two files: <old> <new>" }),
      json: z.boolean().default(false),
    })
    .transform(({ positionals: [oldFile, newFile], json }) => ({ oldFile, newFile, json })),
  async run({ oldFile, newFile, json }) {
    const [before, after] = await Promise.all([loadAllowlistFile(oldFile), loadAllowlistFile(newFile)]);
    if (!before.ok || !after.ok) {
      return reportLoadFailures([before, after].flatMap((loaded) => (loaded.ok ? [] : [loaded.failure])), json);
    }
    const diff = diffAllowlists(before.allowlist, after.allowlist);
    if (json) writeJson({ ok: true, diff });
    else process.stdout.write(formatDiffText(diff));
    return EXIT_OK;
  },
});
