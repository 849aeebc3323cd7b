import { describe, expect, it } from "vitest";
import { compareWithTrunk, trunkNote, type TrunkJobResult } from "../../src/domain/trunk-baseline.js";

const trunk = (conclusion: string, failedTests: string[] = []): TrunkJobResult => ({
  headSha: "abcdef0123456789abcdef0123456789abcdef01",
  conclusion,
  failedTests,
  url: "https://ci.example/trunk",
  dispatchedAt: 1,
});
const commitUrl = (sha: string) => `https://github.com/up/stream/commit/${sha}`;

describe("compareWithTrunk", () => {
  it("marks a failure of the same job and the same tests as trunk's", () => {
    expect(compareWithTrunk({ conclusion: "failure", failedTests: ["a", "b"] }, trunk("failure", ["b", "a", "c"]))).toEqual({
      kind: "also_on_trunk",
      trunkSha: "abcdef0123456789abcdef0123456789abcdef01",
      trunkUrl: "https://ci.example/trunk",
      tests: ["a", "b"],
      newTests: [],
    });
    // A job that names no failed test (a crash, a timeout) fails the way trunk's job does.
    expect(compareWithTrunk({ conclusion: "timed_out" }, trunk("failure", ["a"])).kind).toBe("also_on_trunk");
  });

  it("says which failed tests are new when trunk fails other ones", () => {
    expect(compareWithTrunk({ conclusion: "failure", failedTests: ["a", "new"] }, trunk("failure", ["a"]))).toMatchObject({
      kind: "partly",
      tests: ["a"],
      newTests: ["new"],
    });
    expect(compareWithTrunk({ conclusion: "failure", failedTests: ["new"] }, trunk("failure", []))).toMatchObject({ kind: "partly", newTests: ["new"] });
  });

  it("calls a failure new when the job passes on trunk, and says nothing without a trunk result or a failure", () => {
    expect(compareWithTrunk({ conclusion: "failure", failedTests: ["a"] }, trunk("success"))).toEqual({ kind: "new", trunkSha: trunk("success").headSha });
    expect(compareWithTrunk({ conclusion: "failure" }, undefined)).toEqual({ kind: "no_baseline" });
    for (const conclusion of ["success", "skipped", "neutral", "cancelled"]) {
      expect(compareWithTrunk({ conclusion }, trunk("failure"))).toEqual({ kind: "not_failing" });
    }
    // A completed job without a conclusion never passes (src/domain/jobs.ts conclusionOf).
    expect(compareWithTrunk({}, trunk("failure")).kind).toBe("also_on_trunk");
  });
});

describe("trunkNote", () => {
  it("renders one Markdown line per kind, linking the trunk commit", () => {
    const sha = trunk("failure").headSha;
    expect(trunkNote(compareWithTrunk({ conclusion: "failure", failedTests: ["a"] }, trunk("failure", ["a"])), commitUrl)).toBe(
      `Also failing on trunk ([abcdef0](https://github.com/up/stream/commit/${sha}), the same 1 test).`,
    );
    expect(trunkNote(compareWithTrunk({ conclusion: "failure", failedTests: ["a", "b", "c"] }, trunk("failure", ["a"])), commitUrl)).toBe(
      `Also failing on trunk ([abcdef0](https://github.com/up/stream/commit/${sha})), but 2 failed tests are new with this change.`,
    );
    expect(trunkNote({ kind: "new", trunkSha: sha }, commitUrl)).toBe(`Passing on trunk ([abcdef0](https://github.com/up/stream/commit/${sha})): this failure is new.`);
    expect(trunkNote({ kind: "no_baseline" }, commitUrl)).toBeUndefined();
  });
});
