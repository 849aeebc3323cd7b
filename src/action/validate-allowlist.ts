// The validate-allowlist action: `cross-repo-ci-relay validate-allowlist` in a workflow step. The same parser
// and the same messages as the command (src/cli), plus an annotation on each offending line, the level
// table (and, given the previous version, the level changes) in the job summary, and step outputs.
// Everything the outside world provides is passed in, so tests run it in-process; validate-main.ts wires it
// to the real process.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { formatDiffMarkdown, formatDiffText } from "../allowlist/diff.js";
import { diffAgainstBase } from "../allowlist/pr-check-output.js";
import type { Allowlist, AllowlistIssue } from "../allowlist/types.js";
import { formatLoadFailure, loadAllowlistFile, parseOptionsOf, type LoadFailure } from "../cli/allowlist-file.js";
import { formatLevelMarkdown, formatLevelTable, formatLevelTotals } from "../cli/validate-allowlist.js";
import { PROFILE_NAMES } from "../profile.js";
import { readFileAtRef } from "./git.js";
import { ActionInputError, escapeCommandData, escapeCommandProperty, getInput, type Env } from "./inputs.js";
import { errorMessage } from "./oidc-token.js";
import { appendSummary, setOutputs, type StepFiles } from "./outputs.js";

export interface ValidateDeps {
  env: Env;
  /** One line of the step's log (workflow commands included); stdout by default. */
  log?: (line: string) => void;
}

export type ValidateResult =
  /** The inputs were wrong: nothing was checked. */
  | { outcome: "error"; message: string }
  | { outcome: "invalid"; failure: LoadFailure }
  | { outcome: "valid"; allowlist: Allowlist };

/** Refs as a workflow writes them (a sha, a branch, `origin/main`, `HEAD^`); never an option. */
const GIT_REF = /^[A-Za-z0-9_][A-Za-z0-9_./~^@{}-]*$/;

const InputsSchema = z
  .object({
    path: z.string().default("allowlist.yml"),
    profile: z.enum(PROFILE_NAMES, { error: (issue) => `must be ${PROFILE_NAMES.join(" or ")}, got ${JSON.stringify(issue.input)}` }).default("default"),
    previous: z.string().optional(),
    "base-ref": z.string().regex(GIT_REF, "must be a commit sha or a ref name, e.g. ${{ github.event.pull_request.base.sha }}").optional(),
  })
  .refine((inputs) => inputs.previous === undefined || inputs["base-ref"] === undefined, {
    error: "give previous (a file) or base-ref (a commit), not both",
  });

type Inputs = z.infer<typeof InputsSchema>;

function readInputs(env: Env): Inputs {
  const names = ["path", "profile", "previous", "base-ref"] as const;
  const parsed = InputsSchema.safeParse(Object.fromEntries(names.map((name) => [name, getInput(env, name)])));
  if (parsed.success) return parsed.data;
  throw new ActionInputError(parsed.error.issues.map((issue) => (issue.path.length > 0 ? `input ${issue.path.join(".")}: ${issue.message}` : issue.message)).join("; "));
}

export async function runValidate(deps: ValidateDeps): Promise<ValidateResult> {
  const log = deps.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const files: StepFiles = { env: deps.env, log };
  // Relative paths are the workspace's, as for every action; annotations name files relative to it.
  const workspace = deps.env.GITHUB_WORKSPACE ?? process.cwd();
  try {
    const inputs = readInputs(deps.env);
    const loaded = await loadAllowlistFile(inputs.path, parseOptionsOf(inputs.profile), workspace);
    if (!loaded.ok) {
      await reportInvalid(files, loaded.failure, annotationPath(workspace, inputs.path));
      return { outcome: "invalid", failure: loaded.failure };
    }
    const { allowlist } = loaded;
    const lines = formatLevelTable(inputs.path, allowlist).trimEnd().split("\n");
    let summary = `## ${inputs.path} is valid\n\n${formatLevelTotals(inputs.path, allowlist)}\n\n${formatLevelMarkdown(allowlist)}`;
    const base = await readBase(inputs, workspace);
    if (base) {
      const { diff, baseNote } = diffAgainstBase(base.file, base.text, allowlist, base.where);
      lines.push("", `Changes against ${base.label}:`, ...(baseNote ? [baseNote.replaceAll("`", "")] : []), ...formatDiffText(diff).trimEnd().split("\n"));
      summary += `\n## Changes against ${base.label}\n\n${baseNote ? `> ${baseNote}\n\n` : ""}${formatDiffMarkdown(diff)}`;
    }
    logVerbatim(log, lines);
    await appendSummary(files, summary);
    await setOutputs(files, { valid: true, backends: allowlist.entries.length, problems: 0 });
    return { outcome: "valid", allowlist };
  } catch (error) {
    if (!(error instanceof ActionInputError)) throw error;
    log(`::error::${escapeCommandData(error.message)}`);
    return { outcome: "error", message: error.message };
  }
}

/** The command's lines, then one annotation per problem (GitHub shows them on the file's lines in the PR). */
async function reportInvalid(files: StepFiles, failure: LoadFailure, file: string): Promise<void> {
  const lines = formatLoadFailure(failure);
  logVerbatim(files.log, lines);
  if ("error" in failure) files.log(`::error title=Invalid allowlist::${escapeCommandData(failure.error)}`);
  else for (const issue of failure.issues) files.log(annotation(file, issue));
  const text = lines.join("\n");
  // A fence longer than any run of backticks in the messages, which quote the file.
  const fence = "`".repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((run) => run[0].length + 1)));
  await appendSummary(files, `## ${failure.file} is not valid\n\n${fence}text\n${text}\n${fence}\n`);
  await setOutputs(files, { valid: false, backends: "", problems: "error" in failure ? 1 : failure.issues.length });
}

/**
 * Messages quote the file, which a pull request's author wrote: a quoted value with a line break would start
 * a line of the log, where the runner reads `::command::`. Between stop-commands markers it reads none.
 */
function logVerbatim(log: (line: string) => void, lines: readonly string[]): void {
  const token = randomUUID();
  log(`::stop-commands::${token}`);
  for (const line of lines) log(line);
  log(`::${token}::`);
}

function annotation(file: string, issue: AllowlistIssue): string {
  const properties = [
    `file=${escapeCommandProperty(file)}`,
    `line=${issue.line}`,
    `endLine=${issue.endLine}`,
    // GitHub takes columns only when the annotation starts and ends on the same line.
    ...(issue.line === issue.endLine ? [`col=${issue.col}`, `endColumn=${Math.max(issue.col, issue.endCol)}`] : []),
    "title=Invalid allowlist",
  ];
  return `::error ${properties.join(",")}::${escapeCommandData(issue.message)}`;
}

/** The file as GitHub names it in annotations: relative to the workspace (the repository's root). */
function annotationPath(workspace: string, file: string): string {
  const relative = path.relative(workspace, path.resolve(workspace, file));
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative.split(path.sep).join("/");
}

interface Base {
  /** As the log and the summary name it. */
  label: string;
  /** For diffAgainstBase's note: the file, and where it is. */
  file: string;
  where: string;
  /** undefined: the file does not exist in that commit. */
  text: string | undefined;
}

/** The version to compare with: the file at base-ref, or the previous file. */
async function readBase(inputs: Inputs, workspace: string): Promise<Base | undefined> {
  const ref = inputs["base-ref"];
  if (ref !== undefined) return { label: ref, file: inputs.path, where: `at ${ref}`, text: await readFileAtRef(workspace, ref, inputs.path) };
  const previous = inputs.previous;
  if (previous === undefined) return undefined;
  try {
    const text = await readFile(path.resolve(workspace, previous), "utf8");
    return { label: previous, file: previous, where: "(the previous version)", text };
  } catch (error) {
    throw new ActionInputError(`input previous: cannot read ${previous}: ${errorMessage(error)}`);
  }
}
