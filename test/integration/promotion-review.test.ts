// An allowlist pull request that promotes backends, judged by their measured health: the seeded HUD
// history on embedded ClickHouse (test/helpers/hud-seed.ts), the real check (checkAllowlistPullRequest)
// with the promotion reviewer, and GitHub played by nock (the check run's body asserted).
import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkAllowlistPullRequest } from "../../src/allowlist/pr-check.js";
import { HudService } from "../../src/hud/service.js";
import { promotionReviewer, type PromotionHealthPolicy } from "../../src/levels/promotion-review.js";
import { allowlistFrom, openTestHud, type TestHud } from "../helpers/hud.js";
import { SEED_ALLOWLIST, SEED_NOW, seedHud, UPSTREAM } from "../helpers/hud-seed.js";
import { testLog } from "../helpers/probot.js";

const API = "https://api.github.com";
const CONFIG = "/repos/acme/relay-config";
const PR = { owner: "acme", repo: "relay-config", number: 7, headSha: "h".repeat(40), baseSha: "b".repeat(40) };

// The seed's allowlist with beta/tpu promoted L3 → L4 and eps/new L2 → L3, under stricter requirements.
const HEAD = `
L4:
  - acme/npu: "@npu-oncall"
  - zeta/late: "@zeta"
  - beta/tpu: "@tpu-oncall"
L3:
  - eps/new: "@eps"
L1:
  - gamma/hooks: "@gamma"
requirements:
  L3:
    min_infra_availability: 0.9
  L4:
    min_test_pass_rate: 0.9
    max_queue_time_p50: 10s
    max_pr_time_p90: 1h
    window_days: 7
`;

type CheckRunBody = { conclusion: string; output: { title: string; summary: string; annotations: Array<Record<string, unknown>> } };

let hud: TestHud;
let service: HudService;
const windows: number[] = [];

beforeAll(async () => {
  hud = openTestHud();
  await seedHud(hud.store);
  expect((await hud.writer.flush()).rejected).toBe(0);
  const allowlist = allowlistFrom(SEED_ALLOWLIST);
  service = new HudService({ connection: hud.connection, allowlist: () => allowlist, upstreamRepo: UPSTREAM, now: () => SEED_NOW });
});
afterAll(() => hud.close());
beforeEach(() => {
  nock.disableNetConnect();
  windows.length = 0;
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

/** GitHub for one check of allowlist.yml changed from the seed's to `head`; the check run's body lands in `bodies`. */
function github(head: string, bodies: CheckRunBody[]): nock.Scope {
  return nock(API)
    .get(`${CONFIG}/pulls/7/files`)
    .query({ per_page: 100 })
    .reply(200, [{ filename: "allowlist.yml", status: "modified" }])
    .get(`${CONFIG}/contents/allowlist.yml`)
    .query({ ref: PR.headSha })
    .reply(200, head)
    .get(`${CONFIG}/contents/allowlist.yml`)
    .query({ ref: PR.baseSha })
    .reply(200, SEED_ALLOWLIST)
    .post(`${CONFIG}/check-runs`, (body: CheckRunBody) => {
      bodies.push(body);
      return true;
    })
    .reply(201, { id: 5 });
}

async function check(head: string, policy: PromotionHealthPolicy): Promise<CheckRunBody> {
  const bodies: CheckRunBody[] = [];
  const scope = github(head, bodies);
  const octokit = new ProbotOctokit({ auth: { token: "installation-token" }, retry: { enabled: false }, throttle: { enabled: false } });
  const review = promotionReviewer({
    health: (days) => {
      windows.push(days);
      return service.health(days);
    },
    policy,
  });
  await checkAllowlistPullRequest(octokit, PR, "allowlist.yml", testLog, { review });
  expect(scope.isDone()).toBe(true);
  return bodies[0]!;
}

describe("an allowlist PR that promotes backends", () => {
  it("annotates a promotion that misses its new level with the figures, and one without results; neutral by default", async () => {
    const body = await check(HEAD, "neutral");
    expect(body.conclusion).toBe("neutral");
    expect(body.output.title).toBe("allowlist.yml is valid (5 backends); a promoted backend misses its new level's requirements");
    // One read of the health view per window: L4 sets 7 days, L3 none (14).
    expect(windows.sort()).toEqual([14, 7]);
    expect(body.output.annotations).toEqual([
      {
        path: "allowlist.yml",
        start_line: 5,
        end_line: 5,
        annotation_level: "warning",
        title: "beta/tpu misses L4's requirements",
        // tpu: every job passed; queue p50 20 s (PR 101's 20 s, the push's 5 s); PR 101 took 220 s.
        message: "Measured over the last 7 days: queue p50 20s (L4 requires ≤ 10s).",
      },
      {
        path: "allowlist.yml",
        start_line: 7,
        end_line: 7,
        annotation_level: "warning",
        title: "No results to judge eps/new at L3",
        message: "The relay has no results from eps/new over the last 14 days to compare with L3's requirements.",
      },
    ]);
    expect(body.output.summary).toContain("### Health of promoted backends");
    expect(body.output.summary).toContain("| `beta/tpu` | L3 → L4 | 7 days | misses: queue p50 20s (L4 requires ≤ 10s) |");
    expect(body.output.summary).toContain("| `eps/new` | L2 → L3 | 14 days | no results to judge |");
    expect(body.output.summary).toContain("needs approval by the upstream's core maintainers");
    // The diff lists the thresholds the PR changed, next to the promotions.
    expect(body.output.summary).toContain("- L4 `max_queue_time_p50`: 1m → 10s");
    expect(body.output.summary).toContain("- L4 `max_pr_time_p90`: (not set) → 1h");
  });

  it("fails the check under the failure policy, with a failure annotation", async () => {
    const body = await check(HEAD, "failure");
    expect(body.conclusion).toBe("failure");
    expect(body.output.annotations[0]).toMatchObject({ annotation_level: "failure", title: "beta/tpu misses L4's requirements" });
  });

  it("passes a promotion that meets its new level, saying what was measured", async () => {
    const body = await check(HEAD.replace("max_queue_time_p50: 10s", "max_queue_time_p50: 1m").replace(/\nL3:\n {2}- eps\/new: "@eps"/, "\nL2:\n  - eps/new: \"@eps\""), "failure");
    expect(body.conclusion).toBe("success");
    expect(body.output.title).toBe("allowlist.yml is valid (5 backends)");
    expect(body.output.annotations).toEqual([
      {
        path: "allowlist.yml",
        start_line: 5,
        end_line: 5,
        annotation_level: "notice",
        title: "beta/tpu meets L4's requirements",
        message: "Measured over the last 7 days: test pass rate ≥ 90% (100%); queue p50 ≤ 1m 00s (20s); PR time p90 ≤ 1h 00m (3m 40s).",
      },
    ]);
    expect(body.output.summary).toContain("| `beta/tpu` | L3 → L4 | 7 days | meets every requirement set |");
  });
});
