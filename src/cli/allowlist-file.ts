// Reading and parsing allowlist files for the CLI and the validate-allowlist action, and reporting the ones that fail.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { formatIssue, MAX_ALLOWLIST_BYTES, parseAllowlist, type ParseOptions } from "../allowlist/parse.js";
import { PROFILE_NAMES, PROFILES, type ProfileName } from "../profile.js";
import type { Allowlist, AllowlistIssue } from "../allowlist/types.js";
import { EXIT_FAILURE, writeJson } from "./command.js";

export const FileArgument = z.string().min(1, "a file name is empty");

/** --profile (default: $RELAY_PROFILE, else default): the pytorch profile reads the file as torchci also does. */
export const ProfileOption = z
  .string()
  .optional()
  .transform((given, ctx): ParseOptions => {
    const name = given ?? (process.env.RELAY_PROFILE || "default");
    if (!(PROFILE_NAMES as readonly string[]).includes(name)) {
      ctx.addIssue({ code: "custom", message: `--profile must be ${PROFILE_NAMES.join(" or ")}; got "${name}"` });
      return z.NEVER;
    }
    return parseOptionsOf(name as ProfileName);
  });

/** How a profile reads an allowlist: the pytorch profile as torchci also reads it. */
export function parseOptionsOf(profile: ProfileName): ParseOptions {
  return { torchci: PROFILES[profile].torchciAllowlist };
}

export type LoadFailure = { file: string; error: string } | { file: string; issues: AllowlistIssue[] };

export type LoadResult = { ok: true; allowlist: Allowlist } | { ok: false; failure: LoadFailure };

/** Reads `file` (relative to `cwd`) and parses it; failures name the file as given. */
export async function loadAllowlistFile(file: string, options: ParseOptions = {}, cwd = process.cwd()): Promise<LoadResult> {
  const read = await readAllowlistText(file, path.resolve(cwd, file));
  if ("error" in read) return { ok: false, failure: { file, error: read.error } };
  const parsed = parseAllowlist(read.text, options);
  return parsed.ok ? parsed : { ok: false, failure: { file, issues: parsed.issues } };
}

async function readAllowlistText(file: string, location: string): Promise<{ text: string } | { error: string }> {
  try {
    const info = await stat(location);
    if (info.isDirectory()) return { error: `${file}: is a directory, not an allowlist file` };
    if (info.size > MAX_ALLOWLIST_BYTES) {
      return { error: `${file}: ${info.size} bytes is over the allowlist size limit of ${MAX_ALLOWLIST_BYTES} bytes` };
    }
    return { text: await readFile(location, "utf8") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { error: `${file}: no such file` };
    if (code === "EACCES" || code === "EPERM") return { error: `${file}: permission denied` };
    return { error: `${file}: cannot read (${code ?? (err as Error).message})` };
  }
}

/** A failure as the command prints it: `file:line:col: message` per problem and a count, or the one error. */
export function formatLoadFailure(failure: LoadFailure): string[] {
  if ("error" in failure) return [failure.error];
  const { file, issues } = failure;
  return [...issues.map((issue) => formatIssue(issue, file)), `${file}: ${issues.length} problem${issues.length === 1 ? "" : "s"}`];
}

/** Prints every failure (as JSON, or as formatLoadFailure's lines on stderr) and returns the exit code. */
export function reportLoadFailures(failures: LoadFailure[], json: boolean): number {
  if (json) writeJson({ ok: false, failures });
  else for (const line of failures.flatMap(formatLoadFailure)) process.stderr.write(`${line}\n`);
  return EXIT_FAILURE;
}
