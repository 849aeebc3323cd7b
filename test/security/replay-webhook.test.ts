// A signed webhook body replayed under a new delivery id dispatches nothing new; GitHub's own
// redeliveries (same id) and genuinely new payloads behave as before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { deliver, startRelayAgainst, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
let github: GitHubStandIn;
let relay: RunningRelay;
let pr: Payload;

beforeAll(async () => {
  github = await startGitHubStandIn();
  github.install(1, [UPSTREAM]);
  github.install(12, ["beta/tpu-backend"]);
  relay = await startRelayAgainst(github, "L4:\n  - beta/tpu-backend: \"@tpu-oncall\"\n", { UPSTREAM_REPO: UPSTREAM });
  pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
});
afterAll(async () => {
  await relay?.stop();
  await github.close();
});

const dispatches = () => github.find("POST", /\/dispatches$/).length;

async function settled(): Promise<void> {
  await expect.poll(async () => (await relay.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

describe("webhook replays", () => {
  it("answers a replay 200 with no effect, counts and logs it; redeliveries and new payloads behave as before", async () => {
    expect((await deliver(relay, "pull_request", pr, "original")).status).toBe(200);
    await settled();
    expect(dispatches()).toBe(1);

    expect((await deliver(relay, "pull_request", pr, "replayed-1")).status).toBe(200);
    expect((await deliver(relay, "pull_request", pr, "replayed-2")).status).toBe(200);
    expect((await deliver(relay, "pull_request", pr, "original")).status).toBe(200); // GitHub's redelivery
    await settled();
    expect(dispatches()).toBe(1);

    const next = structuredClone(pr);
    next.pull_request.updated_at = "2030-01-01T00:00:00Z";
    expect((await deliver(relay, "pull_request", next, "new-event")).status).toBe(200);
    await settled();
    expect(dispatches()).toBe(2);

    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toContain('relay_webhooks_total{event="pull_request",outcome="replayed"} 2');
    expect(metrics).toContain('relay_webhooks_total{event="pull_request",outcome="duplicate"} 1');
  });
});
