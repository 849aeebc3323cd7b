// Vitest global setup: compiles src/ into lib/ once per run (incremental, quick when nothing changed).
// The CLI, `probot receive`/`probot run`, the server entry and the demo are tested as child processes
// running lib/, so lib/ must be the source under test, also when one file is run on its own.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

export default async function setup(): Promise<void> {
  const root = path.resolve(import.meta.dirname, "../..");
  await promisify(execFile)(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root });
}
