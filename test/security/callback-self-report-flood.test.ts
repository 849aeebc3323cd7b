// A flood of nightly self-reports naming unknown shas, while GitHub hangs on the commits endpoint: every
// callback is answered within the lookup timeout, and GitHub sees no more lookups than the hourly budget.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCallbackRig, type CallbackRig } from "./callback-rig.js";

const LOOKUP_TIMEOUT_MS = 1000;
const LOOKUPS_PER_HOUR = 10;
// Generous room to verify, store and answer 200 reports on a loaded 2-core machine: the point is that
// no answer waits for the hour GitHub hangs, not how fast the relay is (the benchmarks measure that).
const SLACK_MS = 20_000;
const COMMITS = /^\/repos\/Codertocat\/Hello-World\/commits\//;

let rig: CallbackRig;

beforeAll(async () => {
  rig = await startCallbackRig({
    allowlist: "L3:\n  npu:\n    acme/npu-backend: [npu-oncall]\n",
    prepare: (github) => github.setDelay("GET", COMMITS, 3_600_000), // hangs for an hour
    env: {
      RELAY_CALLBACK_RATE_LIMIT: "1000",
      RELAY_COMMIT_LOOKUP_TIMEOUT_SECONDS: String(LOOKUP_TIMEOUT_MS / 1000),
      RELAY_COMMIT_LOOKUPS_PER_HOUR: String(LOOKUPS_PER_HOUR),
    },
  });
});
afterAll(() => rig?.close());

function nightly(runId: number) {
  return {
    schema_version: 1,
    status: "completed",
    conclusion: "success",
    workflow: { name: "nightly", run_id: runId, run_attempt: 1, url: `https://ci.example.org/runs/${runId}` },
    job: { name: "full suite" },
    nightly: { upstream_sha: randomBytes(20).toString("hex"), event: "nightly" },
  };
}

describe("self-report flood against a hanging GitHub", () => {
  it("answers 200 reports within the lookup timeout, unverified, with at most the hourly budget of lookups", async () => {
    const token = await rig.oidc.mint({ repository: "acme/npu-backend" });
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const started = Date.now();
        const response = await fetch(`${rig.relay.url}/relay/callback`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(nightly(1000 + i)),
        });
        return { status: response.status, json: (await response.json()) as Record<string, unknown>, ms: Date.now() - started };
      }),
    );

    expect(answers.every((answer) => answer.status === 200 && answer.json.upstream_verified === false)).toBe(true);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(LOOKUP_TIMEOUT_MS + SLACK_MS);
    expect(rig.github.find("GET", COMMITS).length).toBeLessThanOrEqual(LOOKUPS_PER_HOUR);
    expect(rig.github.find("GET", COMMITS).length).toBeGreaterThan(0);
  }, 60_000);
});
