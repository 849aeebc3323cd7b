// The validate-allowlist action in a simulated Actions environment: inputs from INPUT_* variables, the
// step's outputs and job summary in the files GITHUB_OUTPUT and GITHUB_STEP_SUMMARY name, base versions
// from real git repositories (a shallow clone included). In-process, and as the committed bundle in a
// child process: as the runner starts it, and as a file downloaded on its own and run with arguments.
import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runValidate, type ValidateResult } from "../../src/action/validate-allowlist.js";
import { tempDir } from "../helpers/server.js";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const BUNDLE = path.join(ROOT, "actions/validate-allowlist/dist/index.js");

const OLD = ["L1:", "  - org/tpu", "L3:", "  - org/npu", "L4:", '  - org/xpu: "@alice"', ""].join("\n");
const NEW = ["L2:", "  - org/tpu", "  - org/new", "L3:", "  - org/xpu: alice", "L4:", "  - org/npu: carol", ""].join("\n");
const INVALID = ["L2:", "  - not-a-repo", "bogus: 1", ""].join("\n");
/** Valid for the relay; the pytorch profile refuses it, as torchci would misread it. */
const OPTIONS_MAP = ["L4:", "  - org/xpu: {oncalls: alice, block_pr: false}", ""].join("\n");

/** A workspace holding `files`. */
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = tempDir("validate-action-");
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** The runner's environment for `uses: …/validate-allowlist` with these inputs (action.yml's defaults passed as the runner does). */
function actionsEnv(dir: string, inputs: Record<string, string> = {}): Record<string, string> {
  const runner = tempDir("validate-runner-");
  const env: Record<string, string> = {
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: path.join(runner, "output"),
    GITHUB_STEP_SUMMARY: path.join(runner, "summary"),
    INPUT_PATH: "allowlist.yml",
    INPUT_PROFILE: "default",
    "INPUT_BASE-REF": "",
    INPUT_PREVIOUS: "",
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return env;
}

interface Step {
  result: ValidateResult;
  lines: string[];
  outputs: Record<string, string>;
  summary: string;
}

const readOrEmpty = (file: string) => readFile(file, "utf8").catch(() => "");

function parseOutputs(text: string): Record<string, string> {
  return Object.fromEntries(text.split("\n").filter(Boolean).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

async function validate(dir: string, inputs: Record<string, string> = {}): Promise<Step> {
  const env = actionsEnv(dir, inputs);
  const lines: string[] = [];
  const result = await runValidate({ env, log: (line) => lines.push(line) });
  return { result, lines, outputs: parseOutputs(await readOrEmpty(env.GITHUB_OUTPUT!)), summary: await readOrEmpty(env.GITHUB_STEP_SUMMARY!) };
}

const annotations = (lines: string[]) => lines.filter((line) => line.startsWith("::error"));
/** The lines a reader sees: no workflow commands. */
const messages = (lines: string[]) => lines.filter((line) => !line.startsWith("::"));

describe("validate-allowlist in-process", () => {
  it("a valid file: the command's table in the log, the backends by level in the summary, the outputs", async () => {
    const dir = await workspace({ "allowlist.yml": NEW });
    const step = await validate(dir);
    expect(step.result.outcome).toBe("valid");
    expect(messages(step.lines)[0]).toMatch(/^level\s+repo\s+name\s+display_on_pr\s+block_pr\s+oncalls$/);
    expect(messages(step.lines).at(-1)).toBe("allowlist.yml: 4 repos (L4: 1, L3: 1, L2: 2, L1: 0)");
    expect(annotations(step.lines)).toEqual([]);
    expect(step.outputs).toEqual({ valid: "true", backends: "4", problems: "0" });
    expect(step.summary).toContain("## allowlist.yml is valid\n\nallowlist.yml: 4 repos (L4: 1, L3: 1, L2: 2, L1: 0)\n");
    expect(step.summary).toContain("| level | repo | name | display_on_pr | block_pr | oncalls |\n| --- | --- | --- | --- | --- | --- |\n");
    // Handles are code, so the summary never @-mentions anyone.
    expect(step.summary).toContain("| L4 | org/npu | npu | always | true | `@carol` |");
    expect(step.summary).not.toContain("Changes against");
  });

  it("an invalid file: the command's messages, an annotation on each offending line, a failed step", async () => {
    const dir = await workspace({ "config/allowlist.yml": INVALID });
    const step = await validate(dir, { path: "config/allowlist.yml" });
    expect(step.result.outcome).toBe("invalid");
    const shown = messages(step.lines);
    expect(shown).toEqual([
      expect.stringMatching(/^config\/allowlist\.yml:2:5: "not-a-repo" is not an owner\/repo name/),
      expect.stringMatching(/^config\/allowlist\.yml:3:1: unknown top-level key "bogus"/),
      "config/allowlist.yml: 2 problems",
    ]);
    expect(annotations(step.lines)).toEqual([
      expect.stringMatching(/^::error file=config\/allowlist\.yml,line=2,endLine=2,col=5,endColumn=15,title=Invalid allowlist::"not-a-repo" is not an owner\/repo name/),
      expect.stringMatching(/^::error file=config\/allowlist\.yml,line=3,endLine=3,col=1,endColumn=6,title=Invalid allowlist::unknown top-level key "bogus"/),
    ]);
    expect(step.outputs).toEqual({ valid: "false", backends: "", problems: "2" });
    expect(step.summary).toBe(`## config/allowlist.yml is not valid\n\n\`\`\`text\n${shown.join("\n")}\n\`\`\`\n`);
  });

  it("keeps what the file says from being read as workflow commands, in the log and in the summary", async () => {
    const dir = await workspace({ "allowlist.yml": ["L2:", '  - "a/b\\n::warning::injected\\n```\\n# heading"', ""].join("\n") });
    const step = await validate(dir);
    // The log as the runner reads it: line by line.
    const log = step.lines.join("\n").split("\n");
    const start = log.findIndex((line) => line.startsWith("::stop-commands::"));
    const token = log[start]!.slice("::stop-commands::".length);
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    const injected = log.indexOf("::warning::injected");
    expect(injected).toBeGreaterThan(start);
    expect(injected).toBeLessThan(log.indexOf(`::${token}::`));
    // The summary's fence is longer than the backticks the message quotes.
    expect(step.summary).toMatch(/^## allowlist\.yml is not valid\n\n````text\nallowlist\.yml:2:5: "a\/b\n::warning::injected\n```\n# heading" is not/);
  });

  it("names the file relative to the workspace in annotations, also when given as an absolute path", async () => {
    const dir = await workspace({ "allowlist.yml": INVALID });
    const step = await validate(dir, { path: path.join(dir, "allowlist.yml") });
    expect(messages(step.lines)[0]).toMatch(new RegExp(`^${path.join(dir, "allowlist.yml")}:2:5: `));
    expect(annotations(step.lines)[0]).toMatch(/^::error file=allowlist\.yml,line=2,/);
  });

  it("a file it cannot read: one problem, an error without a position", async () => {
    const step = await validate(await workspace({}));
    expect(step.result.outcome).toBe("invalid");
    expect(messages(step.lines)).toEqual(["allowlist.yml: no such file"]);
    expect(annotations(step.lines)).toEqual(["::error title=Invalid allowlist::allowlist.yml: no such file"]);
    expect(step.outputs).toEqual({ valid: "false", backends: "", problems: "1" });
  });

  it("profile pytorch also refuses what torchci would misread", async () => {
    const dir = await workspace({ "allowlist.yml": OPTIONS_MAP });
    expect((await validate(dir)).result.outcome).toBe("valid");
    const pytorch = await validate(dir, { profile: "pytorch" });
    expect(pytorch.result.outcome).toBe("invalid");
    expect(messages(pytorch.lines)[0]).toMatch(/^allowlist\.yml:2:14: torchci reads no oncalls from an options map/);
  });

  it("names wrong inputs and checks nothing", async () => {
    const dir = await workspace({ "allowlist.yml": NEW, "old.yml": OLD });
    const cases: [Record<string, string>, unknown][] = [
      [{ profile: "crcr" }, '::error::input profile: must be default or pytorch, got "crcr"'],
      [{ previous: "old.yml", "base-ref": "main" }, "::error::give previous (a file) or base-ref (a commit), not both"],
      [{ "base-ref": "--upload-pack=evil" }, "::error::input base-ref: must be a commit sha or a ref name, e.g. ${{ github.event.pull_request.base.sha }}"],
      [{ previous: "gone.yml" }, expect.stringMatching(/^::error::input previous: cannot read gone\.yml: ENOENT/)],
    ];
    for (const [inputs, error] of cases) {
      const step = await validate(dir, inputs);
      expect(step.result.outcome).toBe("error");
      expect(step.lines.at(-1)).toEqual(error);
      expect(step.outputs).toEqual({});
      expect(step.summary).toBe("");
    }
  });

  it("with previous: the changes in the log and the summary, as diff-allowlist lists them", async () => {
    const dir = await workspace({ "allowlist.yml": NEW, "old.yml": OLD, "broken.yml": INVALID });
    const step = await validate(dir, { previous: "old.yml" });
    expect(step.result.outcome).toBe("valid");
    const shown = messages(step.lines);
    const changes = shown.slice(shown.indexOf("Changes against old.yml:"));
    expect(changes).toEqual([
      "Changes against old.yml:",
      "Added (1)",
      "  org/new: L2; name new",
      "",
      "Promoted (2)",
      "  org/npu: L3 → L4",
      "  org/tpu: L1 → L2",
      "",
      "Demoted (1)",
      "  org/xpu: L4 → L3",
      "",
      "Oncalls changed (1)",
      "  org/npu: +@carol",
    ]);
    expect(step.summary).toContain("## Changes against old.yml\n\n### Added (1)\n\n- `org/new`: L2; name `new`\n");

    // An invalid previous version (the change fixes it) is compared as an empty allowlist, with a note.
    const fixing = await validate(dir, { previous: "broken.yml" });
    expect(fixing.result.outcome).toBe("valid");
    expect(fixing.lines).toContain("broken.yml (the previous version) is invalid; changes are listed against an empty allowlist.");
    expect(fixing.summary).toContain("> `broken.yml` (the previous version) is invalid; changes are listed against an empty allowlist.");
  });
});

describe("validate-allowlist with base-ref (git)", () => {
  const git = async (cwd: string, ...args: string[]) =>
    (await run("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", ...args], { cwd })).stdout.trim();

  /** An origin with three commits: no allowlist, OLD, NEW; returns the repository and the shas. */
  async function history(): Promise<{ origin: string; work: string; none: string; old: string; head: string }> {
    const base = tempDir("validate-git-");
    const origin = path.join(base, "origin.git");
    await git(base, "init", "--quiet", "--bare", origin);
    const work = path.join(base, "work");
    await git(base, "clone", "--quiet", origin, work);
    await writeFile(path.join(work, "README.md"), "config\n");
    await git(work, "add", "README.md");
    await git(work, "commit", "--quiet", "-m", "start");
    const none = await git(work, "rev-parse", "HEAD");
    await writeFile(path.join(work, "allowlist.yml"), OLD);
    await git(work, "add", "allowlist.yml");
    await git(work, "commit", "--quiet", "-m", "old");
    const old = await git(work, "rev-parse", "HEAD");
    await writeFile(path.join(work, "allowlist.yml"), NEW);
    await git(work, "commit", "--quiet", "-am", "new");
    const head = await git(work, "rev-parse", "HEAD");
    await git(work, "push", "--quiet", "origin", "HEAD:main");
    return { origin, work, none, old, head };
  }

  it("compares with the file at a commit of the checkout, or says it did not exist there", async () => {
    const { work, none, old } = await history();
    const step = await validate(work, { "base-ref": old });
    expect(step.result.outcome).toBe("valid");
    expect(step.lines).toContain(`Changes against ${old}:`);
    expect(step.lines).toContain("  org/npu: L3 → L4");
    expect(step.summary).toContain(`## Changes against ${old}\n\n### Added (1)`);

    const added = await validate(work, { "base-ref": none });
    expect(added.lines).toContain(`allowlist.yml does not exist at ${none}; every backend is new.`);
    expect(added.lines).toContain("Added (4)");
  });

  it("fetches the base commit into a shallow checkout, as actions/checkout leaves one", async () => {
    const { origin, old } = await history();
    const shallow = path.join(tempDir("validate-shallow-"), "repo");
    await git(path.dirname(shallow), "clone", "--quiet", "--depth=1", `file://${origin}`, shallow);
    await expect(git(shallow, "cat-file", "-e", old)).rejects.toThrow();
    const step = await validate(shallow, { "base-ref": old });
    expect(step.result.outcome).toBe("valid");
    expect(step.lines).toContain("  org/xpu: L4 → L3");

    const unknown = await validate(shallow, { "base-ref": "0".repeat(40) });
    expect(unknown.result.outcome).toBe("error");
    expect(unknown.lines.at(-1)).toMatch(/^::error::input base-ref: 0{40} is not in the checkout and could not be fetched from origin: /);
  });
});

describe("the committed bundle", () => {
  const node = (args: string[], options: { cwd: string; env?: Record<string, string> }) =>
    run(process.execPath, args, { cwd: options.cwd, env: { PATH: process.env.PATH ?? "", ...options.env } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it("runs as the action when the runner starts it: annotations, outputs, summary, the exit code", async () => {
    const dir = await workspace({ "allowlist.yml": INVALID, "good.yml": NEW });
    const env = actionsEnv(dir);
    const invalid = await node([BUNDLE], { cwd: dir, env });
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/^::stop-commands::([0-9a-f-]{36})\nallowlist\.yml:2:5: .*\n.*\nallowlist\.yml: 2 problems\n::\1::\n::error file=allowlist\.yml,line=2,endLine=2,col=5,endColumn=15,title=Invalid allowlist::/);
    expect(parseOutputs(await readFile(env.GITHUB_OUTPUT!, "utf8"))).toEqual({ valid: "false", backends: "", problems: "2" });

    const goodEnv = actionsEnv(dir, { path: "good.yml" });
    const valid = await node([BUNDLE], { cwd: dir, env: goodEnv });
    expect(valid).toMatchObject({ code: 0, stderr: "" });
    expect(messages(valid.stdout.trimEnd().split("\n")).at(-1)).toBe("good.yml: 4 repos (L4: 1, L3: 1, L2: 2, L1: 0)");
    expect(parseOutputs(await readFile(goodEnv.GITHUB_OUTPUT!, "utf8"))).toEqual({ valid: "true", backends: "4", problems: "0" });
    expect(await readFile(goodEnv.GITHUB_STEP_SUMMARY!, "utf8")).toMatch(/^## good\.yml is valid\n/);
  });

  it("prints the same messages as the command, and runs as the command when downloaded on its own", async () => {
    // Nothing but the one file, renamed .mjs (outside this repository "type": "module" does not apply).
    const dir = await workspace({ "allowlist.yml": INVALID, "good.yml": NEW, "options.yml": OPTIONS_MAP });
    await copyFile(BUNDLE, path.join(dir, "validate-allowlist.mjs"));

    const command = await node(["validate-allowlist.mjs", "allowlist.yml"], { cwd: dir });
    expect(command).toMatchObject({ code: 1, stdout: "" });
    const action = await validate(dir);
    expect(command.stderr.trimEnd().split("\n")).toEqual(messages(action.lines));

    const good = await node(["validate-allowlist.mjs", "good.yml"], { cwd: dir });
    expect(good).toMatchObject({ code: 0, stderr: "" });
    expect(good.stdout.trimEnd().split("\n")).toEqual(messages((await validate(dir, { path: "good.yml" })).lines));
    expect((await node(["validate-allowlist.mjs", "options.yml", "--profile", "pytorch"], { cwd: dir })).code).toBe(1);
    expect(JSON.parse((await node(["validate-allowlist.mjs", "good.yml", "--json"], { cwd: dir })).stdout)).toMatchObject({ ok: true, file: "good.yml" });
    expect((await node(["validate-allowlist.mjs", "--help"], { cwd: dir })).stdout).toMatch(/^Usage: cross-repo-ci-relay validate-allowlist /);
    // Outside Actions, no arguments: the command's default file.
    expect((await node(["validate-allowlist.mjs"], { cwd: dir })).stderr).toContain("./allowlist.yml:2:5: ");
  });
});
