// `npm test`: the type check and the lint run beside the test suite instead of before it, so the three
// share the machine's cores (the suite waits on child processes, sockets and timers a good part of the
// time). The suite's output streams as it runs; the type check's and the lint's follow it. Exits 1 when
// any of the three failed. Arguments go to vitest (`npm test -- test/unit`).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

/** Runs a command in the repository root; its output is kept (`capture`) or passed through. */
function run(command, args, capture) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit" });
    let output = "";
    if (capture) {
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
    }
    child.on("error", (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const checks = [
  { name: "typecheck (tsc -p tsconfig.json --noEmit)", done: run(bin("tsc"), ["-p", "tsconfig.json", "--noEmit"], true) },
  { name: "lint (eslint .)", done: run(bin("eslint"), ["."], true) },
];
const suite = await run(bin("vitest"), ["run", ...process.argv.slice(2)], false);
let failed = suite.code !== 0;
for (const check of checks) {
  const { code, output } = await check.done;
  process.stdout.write(`\n${check.name}: ${code === 0 ? "passed" : "FAILED"}\n`);
  if (output.trim()) process.stdout.write(`${output.trimEnd()}\n`);
  failed ||= code !== 0;
}
process.exitCode = failed ? 1 : 0;
