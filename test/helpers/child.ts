// Runs a Node script as a child process and collects what it printed: the CLI, `probot` and the server
// entry are tested the way users run them. Asynchronous, so the test process keeps working meanwhile.
import { spawn } from "node:child_process";

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node <args>` in `cwd` with exactly `env` (nothing of this process's environment leaks in). */
export function runNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
