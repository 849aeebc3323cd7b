// Entry point of actions/validate-allowlist/dist/index.js (bundled by scripts/build-action.mjs). The runner
// starts an action with no arguments and GITHUB_ACTIONS=true: then it is the action, reading its inputs.
// Otherwise it is the `cross-repo-ci-relay validate-allowlist` command, with the same arguments, so the one
// file also checks an allowlist locally, downloaded on its own (docs/allowlist.md).
import { validateAllowlist } from "../cli/validate-allowlist.js";
import { escapeCommandData } from "./inputs.js";
import { runValidate } from "./validate-allowlist.js";

const argv = process.argv.slice(2);
try {
  if (argv.length === 0 && process.env.GITHUB_ACTIONS === "true") {
    process.exitCode = (await runValidate({ env: process.env })).outcome === "valid" ? 0 : 1;
  } else {
    process.exitCode = await validateAllowlist.run(argv);
  }
} catch (error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stdout.write(`::error::validate-allowlist crashed: ${escapeCommandData(message)}\n`);
  process.exitCode = 1;
}
