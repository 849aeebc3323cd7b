// The shape of a `cross-repo-ci-relay` subcommand: parseArgs for syntax, a zod schema for meaning, then the work.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { z } from "zod";

/** The command's name: package.json's `bin`, the package's own name (`relay` alone is another npm package). */
export const CLI_NAME = "cross-repo-ci-relay";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface Command {
  name: string;
  /** Arguments as shown in usage lines, e.g. `<old> <new> [--json]`. */
  args: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export interface CommandSpec<A> extends Omit<Command, "run"> {
  /** Shown by `cross-repo-ci-relay help <command>` below the usage line. */
  details: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Validates `{ positionals, ...options }` as parseArgs returns them; messages name the problem. */
  schema: z.ZodType<A>;
  run(args: A): Promise<number>;
}

export function usageLine(command: Pick<Command, "name" | "args">): string {
  return `${CLI_NAME} ${command.name} ${command.args}`.trimEnd();
}

export function defineCommand<A>(spec: CommandSpec<A>): Command {
  const help = `Usage: ${usageLine(spec)}\n\n${spec.details}\n`;
  return {
    name: spec.name,
    args: spec.args,
    summary: spec.summary,
    async run(argv) {
      let parsed;
      try {
        parsed = parseArgs({
          args: argv,
          options: { ...spec.options, help: { type: "boolean", short: "h" } },
          allowPositionals: true,
          strict: true,
        });
      } catch (err) {
        // parseArgs throws TypeErrors whose messages name the offending option.
        return usageError(spec, (err as Error).message);
      }
      if (parsed.values.help === true) {
        process.stdout.write(help);
        return EXIT_OK;
      }
      const result = spec.schema.safeParse({ positionals: parsed.positionals, ...parsed.values });
      if (!result.success) return usageError(spec, result.error.issues.map((issue) => issue.message).join("; "));
      return spec.run(result.data);
    },
  };
}

function usageError(command: Pick<Command, "name" | "args">, message: string): number {
  process.stderr.write(`${CLI_NAME} ${command.name}: ${message}\nUsage: ${usageLine(command)}\n`);
  return EXIT_USAGE;
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
