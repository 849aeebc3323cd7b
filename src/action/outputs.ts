// Step outputs and the job summary as @actions/core writes them: appended to the files the runner names in
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. Outside a runner (the variable unset) nothing is written.
import { nodeFileSystem, type FileSystem } from "./files.js";
import { escapeCommandData, type Env } from "./inputs.js";
import { errorMessage } from "./oidc-token.js";

export interface StepFiles {
  env: Env;
  fs?: FileSystem;
  log: (line: string) => void;
}

/** `name=value` lines; every value the actions set is one line (numbers, flags, URLs normalized by `new URL`). */
export async function setOutputs({ env, fs, log }: StepFiles, outputs: Record<string, string | number | boolean>): Promise<void> {
  const lines = Object.entries(outputs).map(([name, value]) => `${name}=${value}\n`);
  await append({ env, fs, log }, "GITHUB_OUTPUT", "the step outputs", lines.join(""));
}

/** Markdown for the job's summary page. */
export async function appendSummary(files: StepFiles, markdown: string): Promise<void> {
  await append(files, "GITHUB_STEP_SUMMARY", "the job summary", markdown.endsWith("\n") ? markdown : `${markdown}\n`);
}

async function append({ env, fs = nodeFileSystem, log }: StepFiles, variable: string, what: string, text: string): Promise<void> {
  const file = env[variable];
  if (!file) return;
  try {
    await fs.appendFile(file, text);
  } catch (error) {
    // The step's work is done; a file the runner gave that cannot be written must not turn it into a failure.
    log(`::warning::${escapeCommandData(`cannot write ${what} to ${file}: ${errorMessage(error)}`)}`);
  }
}
