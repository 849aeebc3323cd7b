import { describe, expect, it } from "vitest";
import { allowlistReloadSha, type PushFacts } from "../../src/allowlist/push-trigger.js";
import { webhookExample } from "../helpers/fixtures.js";

const target = { repo: "Codertocat/Hello-World", path: "allowlist.yml" };

function branchPush(files: { added?: string[]; modified?: string[]; removed?: string[] }): PushFacts {
  const push = webhookExample("push", (payload) => payload.ref === "refs/heads/master");
  push.commits[0] = { ...push.commits[0], added: [], modified: [], removed: [], ...files };
  return push as PushFacts;
}

describe("allowlistReloadSha", () => {
  it("reloads at the pushed sha when a commit modifies the allowlist on the default branch", () => {
    const push = branchPush({ modified: ["allowlist.yml"] });
    expect(allowlistReloadSha(push, target)).toBe(push.after);
  });

  it("treats added and removed files as changes too", () => {
    expect(allowlistReloadSha(branchPush({ added: ["allowlist.yml"] }), target)).toBeDefined();
    expect(allowlistReloadSha(branchPush({ removed: ["allowlist.yml"] }), target)).toBeDefined();
  });

  it("ignores pushes that touch other files", () => {
    expect(allowlistReloadSha(branchPush({ added: ["README.md"] }), target)).toBeUndefined();
  });

  it("compares the repo case-insensitively and ignores other repos", () => {
    const push = branchPush({ modified: ["allowlist.yml"] });
    expect(allowlistReloadSha(push, { ...target, repo: "codertocat/hello-world" })).toBe(push.after);
    expect(allowlistReloadSha(push, { ...target, repo: "other/repo" })).toBeUndefined();
  });

  it("only follows the configured ref (short or fully qualified), else the default branch", () => {
    const push = branchPush({ modified: ["allowlist.yml"] });
    expect(allowlistReloadSha(push, { ...target, ref: "release" })).toBeUndefined();
    expect(allowlistReloadSha(push, { ...target, ref: "master" })).toBe(push.after);
    expect(allowlistReloadSha(push, { ...target, ref: "refs/heads/master" })).toBe(push.after);
    const tagPush = webhookExample("push", (payload) => payload.ref === "refs/tags/simple-tag") as PushFacts;
    expect(allowlistReloadSha(tagPush, target)).toBeUndefined();
  });

  it("ignores branch deletions", () => {
    const push = { ...branchPush({ modified: ["allowlist.yml"] }), deleted: true };
    expect(allowlistReloadSha(push, target)).toBeUndefined();
  });

  it("reloads when the payload carries no file lists (as replayed inside GitHub Actions)", () => {
    const push = branchPush({});
    push.commits = [{ id: "abc" }] as unknown as PushFacts["commits"];
    expect(allowlistReloadSha(push, target)).toBe(push.after);
  });

  it("reloads when the commit list may have been cut at GitHub's 2,048-commit limit", () => {
    const push = branchPush({ modified: ["README.md"] });
    push.commits = Array.from({ length: 2048 }, () => push.commits[0]!);
    expect(allowlistReloadSha(push, target)).toBe(push.after);
  });
});
