import { describe, expect, it } from "vitest";
import { desiredOncallComment, oncallCommentKey, type OncallCommentInput } from "../../src/checks/oncall-comment.js";
import { countAttempt, NO_JOBS, type JobSummary } from "../../src/domain/jobs.js";

const SHA = "c".repeat(40);

function job(name: string, conclusion: string): JobSummary {
  return { deliveryId: "d1", downstreamRepo: "acme/npu", runId: 7, runAttempt: 1, jobName: name, prNumber: 5, workflowName: "ci", status: "completed", conclusion, updatedAt: 1 };
}

function input(jobs: JobSummary[], fields: Partial<OncallCommentInput> = {}): OncallCommentInput {
  return {
    upstreamRepo: "Up/Stream",
    prNumber: 5,
    headSha: SHA,
    entry: { repo: "Acme/NPU", name: "npu", level: "L4", oncalls: ["alice", "org/npu-team"] },
    counts: jobs.reduce((counts, next) => countAttempt(counts, undefined, next), NO_JOBS),
    listed: jobs,
    shown: true,
    written: false,
    webBaseUrl: "https://github.com",
    publicUrl: "https://relay.example",
    ...fields,
  };
}

describe("desiredOncallComment", () => {
  it("comments only for failures of an L4 backend, or an L3 one shown with its label", () => {
    const failed = [job("a", "failure")];
    expect(desiredOncallComment(input(failed))?.route).toBe("POST /repos/{owner}/{repo}/issues/{issue_number}/comments");
    expect(desiredOncallComment(input(failed, { entry: { repo: "acme/npu", name: "npu", level: "L3", oncalls: [] } }))).toBeDefined();
    expect(desiredOncallComment(input(failed, { entry: { repo: "acme/npu", name: "npu", level: "L3", oncalls: [] }, shown: false }))).toBeUndefined();
    expect(desiredOncallComment(input(failed, { entry: { repo: "acme/npu", name: "npu", level: "L2", oncalls: [] } }))).toBeUndefined();
    expect(desiredOncallComment(input([job("a", "success"), job("b", "skipped")]))).toBeUndefined();
    // Once written, the comment follows the results (here: fixed).
    expect(desiredOncallComment(input([job("a", "success")], { written: true }))?.params.body).toContain("has no failed job on");
  });

  it("mentions every oncall once, lists at most 20 failed jobs and counts the rest", () => {
    const jobs = Array.from({ length: 25 }, (_, index) => job(`shard ${index}`, index % 2 === 0 ? "failure" : "timed_out"));
    const body = String(desiredOncallComment(input(jobs))?.params.body);
    expect(body).toContain("**`npu` (L4) has 25 failed jobs on [`ccccccc`](https://github.com/Up/Stream/commit/" + SHA + ")** cc @alice @org/npu-team");
    expect(body.match(/^\| \[/gm)).toHaveLength(20);
    expect(body).toContain("… and 5 more failed jobs.");
    expect(body.startsWith(`<!-- relay-oncall:acme/npu:${SHA} -->\n`)).toBe(true);
    expect(desiredOncallComment(input(jobs))?.params).toMatchObject({ owner: "Up", repo: "Stream", issue_number: 5 });
  });

  it("keys one comment per (repo, PR, head, backend), case-insensitively", () => {
    expect(oncallCommentKey("Up/Stream", 5, SHA, "Acme/NPU")).toBe(`comment:up/stream:5:${SHA}:acme/npu`);
  });
});
