// A flood of nightly self-reports naming unknown shas, while GitHub hangs on the commits endpoint: every
// callback is answered within the lookup timeout, and GitHub sees no more lookups than the hourly budget.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { startRelayAgainst, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const LOOKUP_TIMEOUT_MS = 1000;
const LOOKUPS_PER_HOUR = 10;
// Time to verify, store and answer on a busy 2-core machine, on top of the lookup timeout.
const SLACK_MS = 4000;
const COMMITS = /^\/repos\/Codertocat\/Hello-World\/commits\//;

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay;

beforeAll(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  github.setDelay("GET", COMMITS, 3_600_000); // hangs
  relay = await startRelayAgainst(github, "L3:\n  npu:\n    acme/npu-backend: [npu-oncall]\n", {
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_CALLBACK_RATE_LIMIT: "1000",
    RELAY_COMMIT_LOOKUP_TIMEOUT_SECONDS: String(LOOKUP_TIMEOUT_MS / 1000),
    RELAY_COMMIT_LOOKUPS_PER_HOUR: String(LOOKUPS_PER_HOUR),
  });
});
afterAll(async () => {
  await relay?.stop();
  await github.close();
  await oidc.close();
});

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
    const token = await oidc.mint({ repository: "acme/npu-backend" });
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const started = Date.now();
        const response = await fetch(`${relay.url}/relay/callback`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(nightly(1000 + i)),
        });
        return { status: response.status, json: (await response.json()) as Record<string, unknown>, ms: Date.now() - started };
      }),
    );

    expect(answers.every((answer) => answer.status === 200 && answer.json.upstream_verified === false)).toBe(true);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(LOOKUP_TIMEOUT_MS + SLACK_MS);
    expect(github.find("GET", COMMITS).length).toBeLessThanOrEqual(LOOKUPS_PER_HOUR);
    expect(github.find("GET", COMMITS).length).toBeGreaterThan(0);
  }, 60_000);
});
