import { describe, expect, it } from "vitest";
import { diffAllowlists } from "../../src/allowlist/diff.js";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { judgePromotions, promotionFindings } from "../../src/levels/promotion-review.js";
import type { BackendStats } from "../../src/hud/views.js";
import { stats } from "./hud-fixtures.js";

function allowlist(yaml: string): Allowlist {
  const parsed = parseAllowlist(yaml);
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  return parsed.allowlist;
}

const BEFORE = allowlist("L3:\n  - acme-ai/torch-npu-ci\n");
const after = (requirements: string) => allowlist(`L4:\n  - acme-ai/torch-npu-ci: "@npu"\nrequirements:\n  L4:\n${requirements}`);
/** The measured stats by repo, the same for every window; records the windows asked for. */
const measured = (found: BackendStats | undefined, asked: number[] = []) => (days: number) => {
  asked.push(days);
  return Promise.resolve(new Map(found ? [[found.downstreamRepo, found]] : []));
};

describe("promotion review (pure)", () => {
  it("judges the promoted backend over the level's window, and the policy decides what a miss does", async () => {
    const head = after("    min_test_pass_rate: 95%\n    window_days: 30\n");
    const asked: number[] = [];
    const verdicts = await judgePromotions(head, diffAllowlists(BEFORE, head), measured(stats(), asked));
    expect(asked).toEqual([30]);
    expect(verdicts.map((verdict) => [verdict.entry.repo, verdict.from, verdict.days, verdict.verdict])).toEqual([["acme-ai/torch-npu-ci", "L3", 30, "fails"]]);
    expect(promotionFindings("allowlist.yml", verdicts, "neutral")).toMatchObject({ conclusion: "neutral", annotations: [{ annotation_level: "warning", start_line: 2 }] });
    const strict = promotionFindings("allowlist.yml", verdicts, "failure");
    expect(strict).toMatchObject({ conclusion: "failure", headline: "a promoted backend misses its new level's requirements" });
    expect(strict!.annotations[0]!.message).toBe("Measured over the last 30 days: test pass rate 91.2% (L4 requires ≥ 95%).");
  });

  it("tells a backend with results but none of the level's figures from one without results", async () => {
    const head = after("    max_queue_time_p90: 1h\n");
    const unmeasured = stats({ queueMs: { p50: null, p90: null, avg: null, samples: 0 } });
    const [withResults] = await judgePromotions(head, diffAllowlists(BEFORE, head), measured(unmeasured));
    const [silent] = await judgePromotions(head, diffAllowlists(BEFORE, head), measured(undefined));
    expect([withResults!.verdict, withResults!.days, silent!.verdict]).toEqual(["no_data", 14, "no_data"]);
    // Without results to judge, the check is neutral even under the failure policy.
    const findings = promotionFindings("allowlist.yml", [withResults!, silent!], "failure");
    expect(findings!.conclusion).toBe("neutral");
    expect(findings!.annotations.map((annotation) => annotation.message)).toEqual([
      "None of the figures L4's requirements name could be measured from acme-ai/torch-npu-ci's results over the last 14 days.",
      "The relay has no results from acme-ai/torch-npu-ci over the last 14 days to compare with L4's requirements.",
    ]);
  });

  it("caps the window at 90 days and says when the new level sets no requirements", async () => {
    const asked: number[] = [];
    const head = after("    window_days: 365\n");
    const verdicts = await judgePromotions(head, diffAllowlists(BEFORE, head), measured(stats(), asked));
    expect(asked).toEqual([90]);
    expect(promotionFindings("allowlist.yml", verdicts, "failure")!.annotations[0]).toMatchObject({
      annotation_level: "notice",
      message: "L4 sets no requirements to measure acme-ai/torch-npu-ci against.",
    });
  });

  it("adds nothing when nothing is promoted", async () => {
    expect(await judgePromotions(BEFORE, diffAllowlists(BEFORE, BEFORE), measured(stats()))).toEqual([]);
    expect(promotionFindings("allowlist.yml", [], "failure")).toBeUndefined();
  });
});
