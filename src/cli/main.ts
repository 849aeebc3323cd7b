#!/usr/bin/env node
// The `cross-repo-ci-relay` command line: looks up the subcommand and runs it. Exit codes: 0 ok, 1 failure, 2 usage.
import { z } from "zod";
import { backup } from "./backup.js";
import { CLI_NAME, defineCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, usageLine, type Command } from "./command.js";
import { diffAllowlist } from "./diff-allowlist.js";
import { health } from "./health.js";
import { validateAllowlist } from "./validate-allowlist.js";

const CommandSchema = z.string().transform((name, ctx) => {
  const command = commands.find((candidate) => candidate.name === name);
  if (command) return command;
  ctx.addIssue({ code: "custom", message: `unknown command "${name}"` });
  return z.NEVER;
});

const help = defineCommand({
  name: "help",
  args: "[command]",
  summary: "show this help, or one command's help",
  details: "Without a command, lists the commands.",
  options: {},
  schema: z
    .object({ positionals: z.array(CommandSchema).max(1, "takes at most one command") })
    .transform(({ positionals }) => positionals[0]),
  async run(command) {
    if (command) return command.run(["--help"]);
    process.stdout.write(overview());
    return EXIT_OK;
  },
});

const commands: Command[] = [validateAllowlist, diffAllowlist, health, backup, help];

function overview(): string {
  const width = Math.max(...commands.map((command) => usageLine(command).length));
  const lines = commands.map((command) => `  ${usageLine(command).padEnd(width)}  ${command.summary}`);
  return `Usage: ${CLI_NAME} <command> [arguments]\n\nCommands:\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(`${CLI_NAME}: missing command\n\n${overview()}`);
    return EXIT_USAGE;
  }
  if (first === "--help" || first === "-h") return help.run(rest);
  const command = CommandSchema.safeParse(first);
  if (!command.success) {
    process.stderr.write(`${CLI_NAME}: ${command.error.issues.map((issue) => issue.message).join("; ")}\n\n${overview()}`);
    return EXIT_USAGE;
  }
  return command.data.run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // User errors are answered inside the commands; anything reaching here is a bug.
  process.stderr.write(`${CLI_NAME}: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = EXIT_FAILURE;
}
