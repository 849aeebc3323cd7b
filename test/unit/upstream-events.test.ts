// Upstream webhooks reduced to facts: free text is stored and exported to ClickHouse, so lone surrogates
// are repaired; a PR's closed state comes from the action where it says so, else from the PR's state.
import { describe, expect, it } from "vitest";
import { pullRequestFacts, pushFacts } from "../../src/upstream/events.js";
import { webhookExample } from "../helpers/fixtures.js";

describe("upstream event facts", () => {
  it("makes a PR title well-formed (a lone surrogate becomes U+FFFD)", () => {
    const payload = webhookExample("pull_request", (p) => p.action === "opened");
    payload.pull_request.title = "Fix \ud800 the op";
    expect(pullRequestFacts("d-1", payload as never).title).toBe("Fix \ufffd the op");
  });

  it("makes a push headline well-formed and keeps only its first line", () => {
    const payload = webhookExample("push", (p) => p.head_commit !== null);
    payload.head_commit.message = "Revert \udc00 op\n\nbody";
    expect(pushFacts("d-2", payload as never).headline).toBe("Revert \ufffd op");
  });

  it("says a PR is closed on closed, keeps a closed PR closed through labeled/edited events, and open on reopened", () => {
    const closed = webhookExample("pull_request", (p) => p.action === "closed");
    expect(closed.pull_request.state).toBe("closed");
    expect(pullRequestFacts("d-3", closed as never).closed).toBe(true);
    // GitHub sends labeled for a closed PR too (bots label merged PRs): its head must stay closed.
    const labeled = { ...structuredClone(closed), action: "labeled", label: { name: "ciflow/oot/npu" } };
    expect(pullRequestFacts("d-4", labeled as never).closed).toBe(true);
    // reopened opens the head whatever the payload's state says.
    const reopened = { ...structuredClone(closed), action: "reopened" };
    expect(pullRequestFacts("d-5", reopened as never).closed).toBe(false);
    const opened = webhookExample("pull_request", (p) => p.action === "opened");
    expect(pullRequestFacts("d-6", opened as never).closed).toBe(false);
  });
});
