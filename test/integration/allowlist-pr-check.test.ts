// The `allowlist / validate` check on config-repo pull requests, through the real app function and
// Probot, with GitHub played by nock (request bodies asserted).
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Probot } from "probot";
import { createApp } from "../../src/index.js";
import { webhookExample } from "../helpers/fixtures.js";
import { testProbot } from "../helpers/probot.js";
import { tempDir } from "../helpers/server.js";

const API = "https://api.github.com";
const REPO = "/repos/Codertocat/Hello-World";
const pr = webhookExample("pull_request", (payload) => payload.action === "opened" && payload.installation !== undefined);
const HEAD = pr.pull_request.head.sha as string;
const BASE = pr.pull_request.base.sha as string;

const BASE_ALLOWLIST = `L1:\n  - acme/npu-backend\nL2:\n  - beta/xpu-backend\n`;
const VALID_HEAD = `L1:\n  - gamma/tpu-backend\nL3:\n  - acme/npu-backend\n`;
const INVALID_HEAD = `L2:\n  - not-a-repo\n  - acme/npu-backend\nbogus: 1\n`;

type CheckRunBody = {
  name: string;
  head_sha: string;
  status: string;
  conclusion: string;
  output: { title: string; summary: string; annotations: Array<Record<string, unknown>> };
};

/** The app as deployed; the promotions' health review is off unless `env` turns it on (it reads the HUD). */
async function loadApp(serverMode: boolean, env: Record<string, string> = { RELAY_PROMOTION_HEALTH: "off" }): Promise<Probot> {
  const probot = testProbot();
  await probot.load(createApp({ env: { ALLOWLIST_REPO: "Codertocat/Hello-World", DATA_DIR: tempDir(), ...env } }), {
    cwd: process.cwd(),
    addHandler: serverMode
      ? () => undefined
      : () => {
          throw new Error("No server instance");
        },
  });
  return probot;
}

function githubWithFiles(files: Array<{ filename: string; status: string; previous_filename?: string }>) {
  return nock(API)
    .post("/app/installations/1/access_tokens")
    .reply(200, { token: "installation-token", permissions: { checks: "write" } })
    .get(`${REPO}/pulls/2/files`)
    .query({ per_page: 100 })
    .reply(200, files);
}

function contentAt(scope: nock.Scope, ref: string, text: string | null): nock.Scope {
  const interceptor = scope.get(`${REPO}/contents/allowlist.yml`).query({ ref });
  return text === null ? interceptor.reply(404, { message: "Not Found" }) : interceptor.reply(200, text, { etag: `"${ref}"` });
}

function captureCheckRun(scope: nock.Scope, bodies: CheckRunBody[]): nock.Scope {
  return scope.post(`${REPO}/check-runs`, (body: CheckRunBody) => {
    bodies.push(body);
    return true;
  }).reply(201, { id: 77 });
}

describe("allowlist / validate", () => {
  beforeEach(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("fails an invalid allowlist with annotations on the offending lines", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
    contentAt(scope, HEAD, INVALID_HEAD);
    captureCheckRun(scope, bodies);

    const probot = await loadApp(true);
    await probot.receive({ id: "1", name: "pull_request", payload: pr } as never);

    expect(scope.isDone()).toBe(true);
    const [body] = bodies;
    expect(body).toMatchObject({ name: "allowlist / validate", head_sha: HEAD, status: "completed", conclusion: "failure" });
    expect(body!.output.title).toBe("allowlist.yml: 2 problems");
    const lines = body!.output.annotations.map((annotation) => annotation.start_line);
    expect(lines).toEqual([2, 4]);
    expect(body!.output.annotations[0]).toMatchObject({
      path: "allowlist.yml",
      annotation_level: "failure",
      start_line: 2,
      end_line: 2,
      start_column: 5,
    });
    expect(String(body!.output.annotations[0]!.message)).toContain("not-a-repo");
    expect(String(body!.output.annotations[1]!.message)).toContain("bogus");
    expect(body!.output.summary).toContain("allowlist.yml:2:5:");
  });

  it("passes a valid change with the level changes in the summary", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
    contentAt(scope, HEAD, VALID_HEAD);
    contentAt(scope, BASE, BASE_ALLOWLIST);
    captureCheckRun(scope, bodies);

    const probot = await loadApp(true);
    await probot.receive({ id: "2", name: "pull_request", payload: pr } as never);

    expect(scope.isDone()).toBe(true);
    const [body] = bodies;
    expect(body).toMatchObject({ conclusion: "success", output: { annotations: [] } });
    expect(body!.output.title).toBe("allowlist.yml is valid (2 backends)");
    expect(body!.output.summary).toContain("L1: 1, L2: 0, L3: 1, L4: 0");
    expect(body!.output.summary).toMatch(/acme\/npu-backend[^\n]*L1[^\n]*L3/);
    expect(body!.output.summary).toContain("gamma/tpu-backend");
    expect(body!.output.summary).toContain("beta/xpu-backend");
  });

  it("in server mode reviews a promotion's measured health by default: no results yet makes the check neutral", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
    contentAt(scope, HEAD, VALID_HEAD);
    contentAt(scope, BASE, BASE_ALLOWLIST);
    captureCheckRun(scope, bodies);

    const probot = await loadApp(true, {});
    await probot.receive({ id: "2b", name: "pull_request", payload: pr } as never);

    expect(scope.isDone()).toBe(true);
    const [body] = bodies;
    expect(body).toMatchObject({ conclusion: "neutral" });
    expect(body!.output.title).toBe("allowlist.yml is valid (2 backends); a promoted backend misses its new level's requirements");
    // acme/npu-backend, L1 → L3 on line 4 of the new file: the relay has no results from it.
    expect(body!.output.annotations).toEqual([
      {
        path: "allowlist.yml",
        start_line: 4,
        end_line: 4,
        annotation_level: "warning",
        title: "No results to judge acme/npu-backend at L3",
        message: "The relay has no results from acme/npu-backend over the last 14 days to compare with L3's requirements.",
      },
    ]);
    expect(body!.output.summary).toContain("| `acme/npu-backend` | L1 → L3 | 14 days | no results to judge |");
  });

  describe("with L4 approvers (RELAY_L4_APPROVERS)", () => {
    // acme/npu-backend goes L1 → L4 on line 4.
    const TO_L4 = `L1:\n  - gamma/tpu-backend\nL4:\n  - acme/npu-backend: "@npu-oncall"\n`;
    const env = { RELAY_PROMOTION_HEALTH: "off", RELAY_L4_APPROVERS: "@alice, Bob" };
    const reviews = (scope: nock.Scope, list: Array<{ login: string; state: string }>) =>
      scope
        .get(`${REPO}/pulls/2/reviews`)
        .query({ per_page: 100 })
        .reply(200, list.map(({ login, state }, id) => ({ id, user: { login }, state })));

    it("fails a promotion to L4 until an approver approves, on the entry's line", async () => {
      const bodies: CheckRunBody[] = [];
      const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
      contentAt(scope, HEAD, TO_L4);
      contentAt(scope, BASE, BASE_ALLOWLIST);
      // A non-approver's approval and an approver's comment do not count; a later request for changes undoes alice's approval.
      reviews(scope, [
        { login: "mallory", state: "APPROVED" },
        { login: "alice", state: "APPROVED" },
        { login: "bob", state: "COMMENTED" },
        { login: "alice", state: "CHANGES_REQUESTED" },
      ]);
      captureCheckRun(scope, bodies);

      const probot = await loadApp(true, env);
      await probot.receive({ id: "l4-1", name: "pull_request", payload: pr } as never);

      expect(scope.isDone()).toBe(true);
      const [body] = bodies;
      expect(body).toMatchObject({ conclusion: "failure" });
      expect(body!.output.title).toBe("allowlist.yml is valid (2 backends); needs an L4 approver's approval");
      expect(body!.output.annotations).toEqual([
        {
          path: "allowlist.yml",
          start_line: 4,
          end_line: 4,
          annotation_level: "failure",
          title: "acme/npu-backend to L4 needs an L4 approver's approval",
          message: "A backend at L4 can block merging upstream: one of @alice, @Bob must approve this pull request. The check runs again on each review.",
        },
      ]);
      // Code spans: the summary never @-mentions the approvers.
      expect(body!.output.summary).toContain("which needs the approval of one of `@alice`, `@Bob`.");
    });

    it("passes once an approver approved, and runs again on a review", async () => {
      const bodies: CheckRunBody[] = [];
      const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
      contentAt(scope, HEAD, TO_L4);
      contentAt(scope, BASE, BASE_ALLOWLIST);
      reviews(scope, [
        { login: "alice", state: "COMMENTED" },
        { login: "bob", state: "APPROVED" },
        { login: "bob", state: "COMMENTED" },
      ]);
      captureCheckRun(scope, bodies);

      const probot = await loadApp(true, env);
      // A review submitted on the config-repo PR (GitHub's own example payload).
      const review = webhookExample("pull_request_review", (payload) => payload.action === "submitted" && payload.installation !== undefined);
      await probot.receive({ id: "l4-2", name: "pull_request_review", payload: review } as never);

      expect(scope.isDone()).toBe(true);
      const [body] = bodies;
      expect(body).toMatchObject({ conclusion: "success", head_sha: HEAD, output: { annotations: [] } });
      expect(body!.output.title).toBe("allowlist.yml is valid (2 backends)");
      expect(body!.output.summary).toContain("Approved by `@Bob` (L4 approvers: `@alice`, `@Bob`).");
    });

    it("asks GitHub for no reviews when nothing reaches L4", async () => {
      const bodies: CheckRunBody[] = [];
      const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
      contentAt(scope, HEAD, VALID_HEAD);
      contentAt(scope, BASE, BASE_ALLOWLIST);
      captureCheckRun(scope, bodies);

      const probot = await loadApp(true, env);
      await probot.receive({ id: "l4-3", name: "pull_request", payload: pr } as never);

      expect(scope.isDone()).toBe(true);
      expect(bodies[0]).toMatchObject({ conclusion: "success" });
    });
  });

  it("treats a file missing on the base branch as all-new", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "added" }]);
    contentAt(scope, HEAD, VALID_HEAD);
    contentAt(scope, BASE, null);
    captureCheckRun(scope, bodies);

    await (await loadApp(true)).receive({ id: "3", name: "pull_request", payload: pr } as never);

    expect(bodies[0]!.conclusion).toBe("success");
    expect(bodies[0]!.output.summary).toContain("does not exist on the base branch");
  });

  it("passes a pull request that does not touch the allowlist, so the check can be required", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "README.md", status: "modified" }]);
    captureCheckRun(scope, bodies);

    await (await loadApp(true)).receive({ id: "4", name: "pull_request", payload: pr } as never);

    expect(scope.isDone()).toBe(true);
    expect(bodies[0]).toMatchObject({ conclusion: "success", output: { title: "allowlist.yml not changed" } });
  });

  it("fails a pull request that deletes or renames away the allowlist", async () => {
    const bodies: CheckRunBody[] = [];
    const scope = githubWithFiles([{ filename: "backends.yml", previous_filename: "allowlist.yml", status: "renamed" }]);
    captureCheckRun(scope, bodies);

    await (await loadApp(true)).receive({ id: "5", name: "pull_request", payload: pr } as never);

    expect(bodies[0]).toMatchObject({ conclusion: "failure", output: { title: "allowlist.yml is deleted" } });
  });

  it("sends annotations beyond GitHub's 50 per request in follow-up updates", async () => {
    const bodies: CheckRunBody[] = [];
    const updates: CheckRunBody[] = [];
    const manyBad = "L1:\n" + Array.from({ length: 120 }, (_, i) => `  - bad_owner_${i}\n`).join("");
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
    contentAt(scope, HEAD, manyBad);
    captureCheckRun(scope, bodies);
    scope
      .patch(`${REPO}/check-runs/77`, (body: CheckRunBody) => {
        updates.push(body);
        return true;
      })
      .times(2)
      .reply(200, { id: 77 });

    await (await loadApp(true)).receive({ id: "6", name: "pull_request", payload: pr } as never);

    expect(scope.isDone()).toBe(true);
    expect(bodies[0]!.output.annotations).toHaveLength(50);
    expect(updates.map((update) => update.output.annotations.length)).toEqual([50, 20]);
    expect(updates[1]!.output.annotations.at(-1)).toMatchObject({ start_line: 121 });
  });

  it("under `probot receive` an invalid allowlist also fails the handler, so a workflow step fails", async () => {
    const scope = githubWithFiles([{ filename: "allowlist.yml", status: "modified" }]);
    contentAt(scope, HEAD, INVALID_HEAD);
    captureCheckRun(scope, []);

    const probot = await loadApp(false);
    await expect(probot.receive({ id: "7", name: "pull_request", payload: pr } as never)).rejects.toThrow(
      /allowlist check failed/,
    );
    expect(scope.isDone()).toBe(true);
  });

  it("ignores pull requests in other repositories", async () => {
    const other = structuredClone(pr);
    other.repository.full_name = "someone/else";
    const probot = await loadApp(true);
    // nock has no interceptors and net connect is disabled: any GitHub call would fail the handler.
    await expect(probot.receive({ id: "8", name: "pull_request", payload: other } as never)).resolves.toBeUndefined();
  });
});
