// Free text from upstream webhooks is stored and exported to ClickHouse: lone surrogates are repaired.
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
});
