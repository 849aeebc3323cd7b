// The `cross-repo-ci-relay` command as users run it: the built lib/cli/main.js (package.json's bin) in a child process, on temp files.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MAX_ALLOWLIST_BYTES } from "../../src/allowlist/parse.js";
import { healthView } from "../unit/hud-fixtures.js";
import { runNode, type Exit } from "../helpers/child.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "lib/cli/main.js");

const OLD = ["L1:", "  - org/tpu", "L3:", "  - org/npu", "L4:", '  - org/xpu: "@alice"', "  - org/gone: bob", ""].join("\n");
const NEW = ["L2:", "  - org/tpu", "  - org/new", "L3:", "  - org/xpu: alice", "L4:", "  - org/npu: carol", ""].join("\n");
const INVALID = ["L2:", "  - not-a-repo", "bogus: 1", ""].join("\n");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-cli-"));
  await writeFile(path.join(dir, "old.yml"), OLD);
  await writeFile(path.join(dir, "new.yml"), NEW);
  await writeFile(path.join(dir, "bad.yml"), INVALID);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function relay(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return runNode([CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env } });
}

const NO_STACK = /^\s+at /m;

describe("cross-repo-ci-relay validate-allowlist", () => {
  it("prints a level table and totals for a valid file", async () => {
    const result = await relay(["validate-allowlist", "old.yml"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^level\s+repo\s+name\s+display_on_pr\s+block_pr\s+oncalls$/);
    expect(lines.slice(1, 5).map((line) => line.split(/\s{2,}/))).toEqual([
      ["L4", "org/gone", "gone", "always", "true", "@bob"],
      ["L4", "org/xpu", "xpu", "always", "true", "@alice"],
      ["L3", "org/npu", "npu", "label_only", "false", "-"],
      ["L1", "org/tpu", "tpu", "never", "false", "-"],
    ]);
    expect(lines.at(-1)).toBe("old.yml: 4 repos (L4: 2, L3: 1, L2: 0, L1: 1)");
  });

  it("prints file:line:col: message for each problem and exits 1", async () => {
    const result = await relay(["validate-allowlist", "bad.yml"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.slice(0, -1)).toEqual([
      expect.stringMatching(/^bad\.yml:2:5: .*not-a-repo/),
      expect.stringMatching(/^bad\.yml:3:1: .*bogus/),
    ]);
    expect(lines.at(-1)).toBe("bad.yml: 2 problems");
  });

  it("--profile pytorch (or $RELAY_PROFILE) also refuses what torchci would misread; a bad profile is named", async () => {
    await writeFile(path.join(dir, "options.yml"), ["L4:", "  - org/xpu: {oncalls: alice, block_pr: false}", ""].join("\n"));
    expect((await relay(["validate-allowlist", "options.yml"])).code).toBe(0);
    for (const run of [relay(["validate-allowlist", "options.yml", "--profile", "pytorch"]), relay(["validate-allowlist", "options.yml"], { RELAY_PROFILE: "pytorch" })]) {
      const result = await run;
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("options.yml:2:14: torchci reads no oncalls from an options map");
    }
    const bad = await relay(["validate-allowlist", "options.yml", "--profile", "crcr"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--profile must be default or pytorch; got "crcr"');
  });

  it("says a missing file is missing, without a stack trace", async () => {
    const result = await relay(["validate-allowlist", "nope.yml"]);
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: "nope.yml: no such file\n" });
  });

  it("refuses a file over the size limit before parsing it", async () => {
    await writeFile(path.join(dir, "huge.yml"), "#".repeat(MAX_ALLOWLIST_BYTES + 1));
    const result = await relay(["validate-allowlist", "huge.yml"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`huge.yml: ${MAX_ALLOWLIST_BYTES + 1} bytes is over the allowlist size limit`);
    expect(result.stderr).not.toMatch(NO_STACK);
  });

  it("reads $ALLOWLIST_FILE, else ./allowlist.yml, when no file is given", async () => {
    const fromEnv = await relay(["validate-allowlist"], { ALLOWLIST_FILE: "new.yml" });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain("new.yml: 4 repos");

    const fallback = await relay(["validate-allowlist"]);
    expect(fallback).toMatchObject({ code: 1, stderr: "./allowlist.yml: no such file\n" });
    await writeFile(path.join(dir, "allowlist.yml"), OLD);
    const local = await relay(["validate-allowlist"]);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain("./allowlist.yml: 4 repos");
  });

  it("prints entries or problems as JSON with --json", async () => {
    const valid = await relay(["validate-allowlist", "new.yml", "--json"]);
    expect(valid.code).toBe(0);
    const output = JSON.parse(valid.stdout) as { ok: boolean; entries: Array<{ repo: string; level: string }> };
    expect(output.ok).toBe(true);
    expect(output.entries.map(({ repo, level }) => `${level} ${repo}`)).toEqual([
      "L2 org/tpu",
      "L2 org/new",
      "L3 org/xpu",
      "L4 org/npu",
    ]);

    const invalid = await relay(["validate-allowlist", "--json", "bad.yml"]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout)).toMatchObject({
      ok: false,
      failures: [{ file: "bad.yml", issues: [{ line: 2, col: 5 }, { line: 3, col: 1 }] }],
    });

    const missing = await relay(["validate-allowlist", "--json", "nope.yml"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ ok: false, failures: [{ file: "nope.yml", error: "nope.yml: no such file" }] });
  });
});

describe("cross-repo-ci-relay diff-allowlist", () => {
  it("prints promotions, demotions, additions and removals", async () => {
    const result = await relay(["diff-allowlist", "old.yml", "new.yml"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(
      [
        "Added (1)",
        "  org/new: L2; name new",
        "",
        "Removed (1)",
        "  org/gone: L4; name gone; oncalls @bob",
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
        "",
      ].join("\n"),
    );
  });

  it("prints the problems of an invalid file under that file's name", async () => {
    const result = await relay(["diff-allowlist", "old.yml", "bad.yml"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^bad\.yml:2:5: /);
    expect(result.stderr).not.toContain("old.yml");
  });

  it("prints the diff as JSON with --json", async () => {
    const result = await relay(["diff-allowlist", "--json", "old.yml", "new.yml"]);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { ok: boolean; diff: { promoted: Array<{ after: { repo: string } }> } };
    expect(output.ok).toBe(true);
    expect(output.diff.promoted.map((change) => change.after.repo)).toEqual(["org/npu", "org/tpu"]);
  });
});

describe("cross-repo-ci-relay usage", () => {
  it.each([[["help"]], [["--help"]], [["help", "diff-allowlist"]], [["validate-allowlist", "--help"]]])(
    "cross-repo-ci-relay %j prints usage and exits 0",
    async (args) => {
      const result = await relay(args);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(/^Usage: cross-repo-ci-relay /);
      // Every usage line names the command as it is installed, never the bare `relay` (another npm package).
      expect(result.stdout).not.toMatch(/^(Usage: | {2})relay /m);
    },
  );

  it("is package.json's bin, named after the package", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { name: string; bin: Record<string, string> };
    expect(pkg.bin).toEqual({ [pkg.name]: "./lib/cli/main.js" });
    expect(pkg.name).toBe("cross-repo-ci-relay");
    expect((await relay(["help"])).stdout).toContain("\n  cross-repo-ci-relay validate-allowlist [file] [--profile default|pytorch] [--json]  ");
  });

  it.each([
    [[], "cross-repo-ci-relay: missing command"],
    [["frobnicate"], 'cross-repo-ci-relay: unknown command "frobnicate"'],
    [["help", "frobnicate"], 'cross-repo-ci-relay help: unknown command "frobnicate"'],
    [["diff-allowlist", "old.yml"], "cross-repo-ci-relay diff-allowlist: needs two files: <old> <new>"],
    [["validate-allowlist", "a.yml", "b.yml"], "cross-repo-ci-relay validate-allowlist: takes at most one file"],
    [["validate-allowlist", "--verbose"], "cross-repo-ci-relay validate-allowlist: Unknown option '--verbose'"],
  ])("cross-repo-ci-relay %j exits 2 naming the problem", async (args, message) => {
    const result = await relay(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.startsWith(message)).toBe(true);
    expect(result.stderr).toContain("Usage: cross-repo-ci-relay ");
    expect(result.stderr).not.toMatch(NO_STACK);
  });
});

describe("cross-repo-ci-relay health", () => {
  let server: Server;
  let base: string;
  /** What the stand-in relay answers next, and the URLs it was asked for. */
  let answer: { status: number; body: string } = { status: 200, body: JSON.stringify(healthView()) };
  const asked: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(req.url ?? "");
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("prints a table: each backend's level, verdict, next level and what it misses", async () => {
    answer = { status: 200, body: JSON.stringify(healthView()) };
    const result = await relay(["health", "--url", `${base}/`, "--days", "30"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(asked.at(-1)).toBe("/api/hud/health?days=30");
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Backend health over 7 days (2026-11-22T12:00:00.000Z to 2026-11-29T12:00:00.000Z)");
    expect(lines[2]!.split(/\s{2,}/)).toEqual([
      "backend", "repo", "level", "verdict", "next", "infra availability", "test pass rate", "success rate", "timeout rate",
      "queue p90", "run p90", "PR time p90", "signal validity", "misses",
    ]);
    const rows = lines.slice(3).map((line) => line.split(/\s{2,}/));
    expect(rows.map((cells) => [cells[0], cells[2], cells[3], cells[4], cells.at(-1)])).toEqual([
      ["npu", "L4", "fails", "-", "test pass rate ≥ 95%"],
      ["xpu", "L4", "meets", "-", "-"],
      ["tt", "L3", "meets", "L4: fails", "for L4: test pass rate ≥ 95%"],
      ["mlu", "L3", "no data", "-", "-"],
      ["ipu", "L2", "no data", "L3: no data", "-"],
      ["rvv", "L1", "no data", "L2: no data", "-"],
    ]);
    // npu's figures, formatted as on the HUD.
    expect(rows[0]!.slice(5, 13)).toEqual(["97.1%", "91.2%", "90.5%", "0.5%", "10m 10s", "1h 03m", "1h 25m", "99.7%"]);
    expect(rows[3]![1]).toBe("old-org/mlu-ci (not in the allowlist)");
  });

  it("prints a markdown table with --markdown and the relay's answer with --json", async () => {
    answer = { status: 200, body: JSON.stringify(healthView()) };
    const markdown = await relay(["health", "--markdown"], { RELAY_PUBLIC_URL: base });
    expect(markdown.code).toBe(0);
    const lines = markdown.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^### Backend health over 7 days/);
    expect(lines[3]).toBe("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    expect(lines[6]).toMatch(/^\| tt \| tenstorrent\/tt-torch-ci \| L3 \| meets \| L4: fails \| .* \| for L4: test pass rate ≥ 95% \|$/);
    expect(asked.at(-1)).toBe("/api/hud/health?days=7");
    const json = await relay(["health", "--url", base, "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(healthView());
  });

  it("exits 1 with the relay's message, or says why the answer is not a health report", async () => {
    answer = { status: 503, body: JSON.stringify({ error: "the HUD database is unavailable right now" }) };
    const unavailable = await relay(["health", "--url", base]);
    expect(unavailable).toMatchObject({ code: 1, stdout: "" });
    expect(unavailable.stderr).toBe(`cross-repo-ci-relay health: ${base}/api/hud/health?days=7 answered 503: the HUD database is unavailable right now\n`);
    answer = { status: 200, body: "<html>a login page</html>" };
    expect((await relay(["health", "--url", base])).stderr).toMatch(/answered 200 with something other than JSON \(is --url the relay\?\)/);
    answer = { status: 200, body: JSON.stringify({ window: {}, rows: [] }) };
    expect((await relay(["health", "--url", base])).stderr).toMatch(/answered JSON that is not a health report/);
    // Nothing listens on the port a closed server had.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await relay(["health", "--url", `http://127.0.0.1:${port}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^cross-repo-ci-relay health: could not reach http:\/\/127\.0\.0\.1:\d+: /);
    expect(unreachable.stderr).not.toMatch(NO_STACK);
  });

  it.each([
    [["health"], "cross-repo-ci-relay health: needs the relay's URL: --url https://relay.example.org (or RELAY_PUBLIC_URL)"],
    [["health", "--url", "ftp://relay"], 'cross-repo-ci-relay health: --url must be an http(s) URL; got "ftp://relay"'],
    [["health", "--url", "http://x", "--days", "0"], "cross-repo-ci-relay health: --days must be a whole number of days from 1 to 90"],
    [["health", "--url", "http://x", "--days", "1.5"], "cross-repo-ci-relay health: --days must be a whole number of days from 1 to 90"],
    [["health", "--url", "http://x", "--json", "--markdown"], "cross-repo-ci-relay health: --json and --markdown cannot be used together"],
  ])("cross-repo-ci-relay %j exits 2 naming the problem", async (args, message) => {
    const result = await relay(args);
    expect(result.code).toBe(2);
    expect(result.stderr.startsWith(message)).toBe(true);
  });
});
