// The trunk baseline (pure): a backend's latest results on pushes to the upstream default branch, and the
// rule that tells "my change broke it" from "it is broken on trunk too". One rule for every place that
// says "also failing on trunk": job check runs, the aggregate's L4 policy, the oncall comment and the HUD.
import { isFailing } from "./runs.js";

/** Failed test names kept per trunk job: enough to compare with a PR's (reports carry at most 200). */
export const MAX_TRUNK_FAILED_TESTS = 200;

/** The latest completed result of one job (workflow, job name) of a backend on trunk. */
export interface TrunkJobResult {
  /** The trunk commit the result is about. */
  headSha: string;
  conclusion: string;
  /** Failed tests the report named (at most MAX_TRUNK_FAILED_TESTS). */
  failedTests: readonly string[];
  /** Web URL of the trunk run (the report's run or artifact URL). */
  url?: string;
  /** When the trunk commit was dispatched (relay clock, ms): a result of an older commit never replaces a newer one's. */
  dispatchedAt: number;
}

/** A PR job's failure compared with trunk. */
export type TrunkComparison =
  /** The job did not fail on the PR (nothing to compare). */
  | { kind: "not_failing" }
  /** No trunk result for this job (the backend does not run it on trunk, or none came back yet). */
  | { kind: "no_baseline" }
  /** The latest trunk result of the job passed: the failure is new with this PR. */
  | { kind: "new"; trunkSha: string }
  /**
   * The job fails on trunk too. `tests`: the PR's failed tests also failing on trunk. `newTests`: those
   * failing on the PR only; when there are some, the failure is not only trunk's (`kind` stays "partly").
   */
  | { kind: "also_on_trunk" | "partly"; trunkSha: string; trunkUrl?: string; tests: string[]; newTests: string[] };

/** The PR job's failure compared with the latest trunk result of the same job of the same backend. */
export function compareWithTrunk(job: { conclusion?: string; failedTests?: readonly string[] }, trunk: TrunkJobResult | undefined): TrunkComparison {
  if (!isFailing(job.conclusion ?? "failure") || job.conclusion === "cancelled") return { kind: "not_failing" };
  if (!trunk) return { kind: "no_baseline" };
  if (!isFailing(trunk.conclusion)) return { kind: "new", trunkSha: trunk.headSha };
  const onTrunk = new Set(trunk.failedTests);
  const prTests = job.failedTests ?? [];
  const tests = prTests.filter((test) => onTrunk.has(test));
  const newTests = prTests.filter((test) => !onTrunk.has(test));
  // A PR job that names failed tests is trunk's failure only if trunk fails every one of them; one that
  // names none (a crash, an infra failure) fails the way trunk's job does.
  const kind = newTests.length === 0 ? "also_on_trunk" : "partly";
  return { kind, trunkSha: trunk.headSha, ...(trunk.url !== undefined && { trunkUrl: trunk.url }), tests, newTests };
}

/** One line saying what trunk says about a failure, for check output and comments (Markdown); undefined when nothing to say. */
export function trunkNote(comparison: TrunkComparison, commitUrl: (sha: string) => string): string | undefined {
  const short = (sha: string) => `[${sha.slice(0, 7)}](${commitUrl(sha)})`;
  switch (comparison.kind) {
    case "also_on_trunk":
      return `Also failing on trunk (${short(comparison.trunkSha)}${comparison.tests.length > 0 ? `, the same ${plural(comparison.tests.length, "test")}` : ""}).`;
    case "partly":
      return `Also failing on trunk (${short(comparison.trunkSha)}), but ${plural(comparison.newTests.length, "failed test")} ${comparison.newTests.length === 1 ? "is" : "are"} new with this change.`;
    case "new":
      return `Passing on trunk (${short(comparison.trunkSha)}): this failure is new.`;
    default:
      return undefined;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
