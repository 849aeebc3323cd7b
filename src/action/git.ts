// Reading a file as it is at another commit of the workflow's checkout (validate-allowlist's base-ref),
// with the git the runner has. A shallow checkout (actions/checkout's default) lacks the base commit, so
// it is fetched from `origin`, with the credentials actions/checkout left for it.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ActionInputError } from "./inputs.js";

const run = promisify(execFile);
/** Far above the allowlist's own limit, which the parser reports; only a runaway read stops here. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** `file`'s text at `ref` of the repository at `cwd`; undefined when `file` does not exist in that commit. */
export async function readFileAtRef(cwd: string, ref: string, file: string): Promise<string | undefined> {
  const git = (...args: string[]) => run("git", args, { cwd, encoding: "utf8", maxBuffer: MAX_FILE_BYTES });
  const commit = async (rev: string) =>
    git("rev-parse", "--verify", "--quiet", `${rev}^{commit}`).then(
      ({ stdout }) => stdout.trim(),
      () => undefined,
    );
  let sha = await commit(ref);
  if (sha === undefined) {
    try {
      await git("fetch", "--no-tags", "--depth=1", "origin", ref);
    } catch (error) {
      throw new ActionInputError(`input base-ref: ${ref} is not in the checkout and could not be fetched from origin: ${gitError(error)}`);
    }
    sha = await commit("FETCH_HEAD");
    if (sha === undefined) throw new ActionInputError(`input base-ref: ${ref} is not a commit`);
  }
  // `<commit>:./<path>` names the path relative to `cwd`, wherever that is in the repository.
  const object = `${sha}:./${path.relative(cwd, path.resolve(cwd, file)).split(path.sep).join("/")}`;
  const exists = await git("cat-file", "-e", object).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  try {
    return (await git("cat-file", "blob", object)).stdout;
  } catch (error) {
    throw new ActionInputError(`input base-ref: cannot read ${file} at ${ref}: ${gitError(error)}`);
  }
}

/** git's own message (its last stderr line), else the process error. */
function gitError(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const last = typeof stderr === "string" ? stderr.trim().split("\n").at(-1) : undefined;
  return last || (error instanceof Error ? error.message : String(error));
}
