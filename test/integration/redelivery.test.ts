// Missed-delivery recovery against the GitHub stand-in: the relay lists the App's recent deliveries and
// asks for the failed ones it handles and never accepted.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deliveriesToRedeliver, type DeliverySummary } from "../../src/upstream/redelivery.js";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { deliver, startRelay, tempDir, type RunningRelay } from "../helpers/server.js";

const HOUR = 3_600_000;
const now = Date.now();
const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR).toISOString();

function delivery(id: number, guid: string, status_code: number, hoursAgo: number, event = "pull_request"): DeliverySummary & Record<string, unknown> {
  return { id, guid, event, status_code, delivered_at: at(hoursAgo), redelivery: false };
}

describe("deliveriesToRedeliver", () => {
  const options = { events: new Set(["pull_request", "push"]), accepted: (guid: string) => guid === "accepted", maxPerPass: 10 };

  it("picks the newest attempt of each failed guid, oldest guid first", () => {
    const picked = deliveriesToRedeliver(
      [delivery(1, "a", 502, 5), delivery(2, "a", 0, 4), delivery(3, "b", 500, 6)],
      options,
    );
    expect(picked.map((d) => d.id)).toEqual([3, 2]);
  });

  it("skips guids that succeeded once, were accepted, are other events, or failed three times", () => {
    const picked = deliveriesToRedeliver(
      [
        delivery(1, "ok-later", 502, 5),
        delivery(2, "ok-later", 200, 4),
        delivery(3, "accepted", 504, 3),
        delivery(4, "issues", 500, 3, "issues"),
        delivery(5, "poison", 500, 3),
        delivery(6, "poison", 500, 2),
        delivery(7, "poison", 500, 1),
      ],
      options,
    );
    expect(picked).toEqual([]);
  });

  it("asks for at most maxPerPass per pass", () => {
    const many = Array.from({ length: 30 }, (_, i) => delivery(i, `g${i}`, 502, 1));
    expect(deliveriesToRedeliver(many, { ...options, maxPerPass: 20 })).toHaveLength(20);
  });

  it("puts the events listed last after every other pick, so a busy repo's run events never crowd out a missed PR event", () => {
    // 30 failed run deliveries, all older than the failed PR delivery.
    const runs = Array.from({ length: 30 }, (_, i) => delivery(100 + i, `run-${i}`, 502, 2 + i, "workflow_run"));
    const pr = delivery(1, "pr", 502, 1);
    const picked = deliveriesToRedeliver([...runs, pr], { ...options, events: new Set(["pull_request", "workflow_run"]), last: new Set(["workflow_run"]), maxPerPass: 5 });
    expect(picked.map((d) => d.guid)).toEqual(["pr", "run-29", "run-28", "run-27", "run-26"]);
  });
});

describe("missed-delivery recovery in the running relay", () => {
  let github: GitHubStandIn | undefined;
  let relay: RunningRelay | undefined;
  afterEach(async () => {
    await relay?.stop();
    await github?.close();
  });

  it("redelivers failed deliveries within the last 3 days that the relay never accepted", async () => {
    github = await startGitHubStandIn();
    github.install(1, ["Codertocat/Hello-World"]);
    github.install(11, ["acme/npu-backend"]);
    const file = path.join(tempDir(), "allowlist.yml");
    await writeFile(file, "L1:\n  - acme/npu-backend\n");
    const env = {
      UPSTREAM_REPO: "Codertocat/Hello-World",
      ALLOWLIST_FILE: file,
      GHE_HOST: github.host,
      GHE_PROTOCOL: "http",
      DATA_DIR: tempDir(),
    };

    // First run: the relay accepts one delivery, so it must never be asked for again.
    relay = await startRelay(env, { baseUrl: github.apiUrl });
    const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
    await deliver(relay, "pull_request", pr, "seen-guid");
    await relay.stop();

    github.setDeliveries([
      delivery(101, "missed-guid", 502, 2),
      delivery(102, "seen-guid", 0, 2),
      delivery(103, "too-old", 502, 80),
      delivery(104, "recovered", 502, 3),
      delivery(105, "recovered", 200, 2),
      delivery(106, "issues-guid", 500, 1, "issues"),
    ]);
    relay = await startRelay({ ...env, RELAY_REDELIVERY_MINUTES: "60" }, { baseUrl: github.apiUrl });

    await expect.poll(() => github!.find("POST", /\/app\/hook\/deliveries\/\d+\/attempts$/).map((r) => r.path), { timeout: 5000 }).toEqual([
      "/app/hook/deliveries/101/attempts",
    ]);
    const listing = github.find("GET", "/app/hook/deliveries")[0]!;
    expect(listing.asApp).toBe(true);
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toContain('relay_redeliveries_total{outcome="requested"} 1');
  });
});
