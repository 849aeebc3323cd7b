// Entry point of the report-ci-result action (bundled by scripts/build-action.mjs into
// actions/report-ci-result/dist/index.js): runs the report with the real process environment and sets the
// step's exit code.
import { escapeCommandData } from "./inputs.js";
import { runReport } from "./report.js";

runReport({ env: process.env, log: (line) => process.stdout.write(`${line}\n`) }).then(
  (result) => {
    if (result.outcome === "failed") process.exitCode = 1;
  },
  (error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stdout.write(`::error::report-ci-result crashed: ${escapeCommandData(message)}\n`);
    process.exitCode = 1;
  },
);
