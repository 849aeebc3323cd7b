// The PR view (pure): one box per backend on the PR's head sha. Every box carries the level its own rows
// recorded (never a default); backends that were expected but left no jobs are kept and say why. A failed
// job is compared with the latest trunk result of the same job of the same backend (domain/trunk-baseline).
import type { Allowlist } from "../allowlist/types.js";
import { compareWithTrunk, type TrunkComparison, type TrunkJobResult } from "../domain/trunk-baseline.js";
import { dispatchGap } from "./dispatch-gap.js";
import type { DispatchRow, JobRow, TrunkRow } from "./queries/rows.js";
import type { DispatchGap, JobCell, PrBackendBox, PrJobCell, PrView } from "./views.js";

const GATING_LEVELS = new Set(["L4", "L3"]);
const NO_DISPATCH: DispatchGap = { kind: "not_dispatched", detail: "no dispatch recorded for this commit" };

export interface PrViewInput {
  upstreamRepo: string;
  prNumber: number;
  headSha: string | null;
  shas: string[];
  jobs: readonly JobRow[];
  dispatches: readonly DispatchRow[];
  /** The latest trunk result of the PR's backends' jobs (see needsTrunkBaseline). */
  trunk: readonly TrunkRow[];
  allowlist: Allowlist | undefined;
}

/** A job's failure compared with trunk; a running job has not failed (yet). */
function againstTrunk(cell: JobCell, trunk: TrunkJobResult | undefined): TrunkComparison {
  if (cell.status !== "completed") return { kind: "not_failing" };
  return compareWithTrunk({ conclusion: cell.conclusion ?? undefined, failedTests: cell.failedTests }, trunk);
}

/** Whether the job failed, so that its backend's trunk results are worth reading. */
export function needsTrunkBaseline(cell: JobCell): boolean {
  return againstTrunk(cell, undefined).kind !== "not_failing";
}

const jobKey = (downstreamRepo: string, workflowName: string, jobName: string) => `${downstreamRepo}\n${workflowName}\n${jobName}`;

export function prView(input: PrViewInput): PrView {
  const boxes = new Map<string, { backendName: string; level: string; levelAt: number; jobs: Map<string, JobRow>; dispatches: DispatchRow[] }>();
  const boxFor = (repo: string, backendName: string, level: string, at: number) => {
    let box = boxes.get(repo);
    if (!box) {
      box = { backendName, level, levelAt: at, jobs: new Map(), dispatches: [] };
      boxes.set(repo, box);
    }
    // The newest row's level wins (a backend promoted between two dispatches of the same sha).
    if (at > box.levelAt) Object.assign(box, { backendName, level, levelAt: at });
    return box;
  };
  for (const dispatch of input.dispatches) {
    boxFor(dispatch.downstreamRepo, dispatch.backendName, dispatch.level, dispatch.createdAt).dispatches.push(dispatch);
  }
  for (const job of input.jobs) {
    const box = boxFor(job.downstreamRepo, job.backendName, job.level, job.at);
    const key = `${job.cell.workflowName}\n${job.cell.jobName}`;
    const known = box.jobs.get(key);
    if (!known || known.at < job.at) box.jobs.set(key, job);
  }
  const trunk = new Map(input.trunk.map((row) => [jobKey(row.downstreamRepo, row.workflowName, row.jobName), row.result]));
  const result: PrBackendBox[] = [...boxes].map(([repo, box]) => {
    const compared = [...box.jobs.values()].map(({ cell }) => ({
      cell,
      comparison: againstTrunk(cell, trunk.get(jobKey(repo, cell.workflowName, cell.jobName))),
    }));
    const jobs = compared.map(({ cell, comparison }) => withTrunk(cell, comparison)).sort(byState);
    const failing = compared.filter(({ comparison }) => comparison.kind !== "not_failing");
    return {
      downstreamRepo: repo,
      backendName: box.backendName,
      level: box.level,
      state: jobs.length === 0 ? "missing" : boxState(jobs),
      jobs,
      missing: jobs.length === 0 ? (dispatchGap(box.dispatches) ?? NO_DISPATCH) : null,
      ...(failing.some(({ comparison }) => comparison.kind !== "no_baseline") && {
        trunk: { failing: failing.length, alsoOnTrunk: failing.filter(({ comparison }) => comparison.kind === "also_on_trunk").length },
      }),
    };
  });
  // Gating backends in the allowlist with no record on this sha at all are expected too.
  if (input.headSha !== null) {
    for (const entry of input.allowlist?.entries ?? []) {
      if (!GATING_LEVELS.has(entry.level) || boxes.has(entry.key)) continue;
      result.push({
        downstreamRepo: entry.key,
        backendName: entry.name,
        level: entry.level,
        state: "missing",
        jobs: [],
        missing: NO_DISPATCH,
      });
    }
  }
  const latest = input.dispatches.reduce<DispatchRow | undefined>((a, b) => (a && a.createdAt >= b.createdAt ? a : b), undefined);
  return {
    upstreamRepo: input.upstreamRepo,
    prNumber: input.prNumber,
    headSha: input.headSha,
    title: latest?.title || null,
    author: latest?.author || null,
    shas: input.shas,
    gating: result.filter((box) => GATING_LEVELS.has(box.level)).sort(byLevelThenState),
    hudOnly: result.filter((box) => !GATING_LEVELS.has(box.level) && box.jobs.length > 0).sort(byLevelThenState),
  };
}

/** The cell with what trunk says about its failure; nothing when it did not fail or trunk has no result. */
function withTrunk(cell: JobCell, comparison: TrunkComparison): PrJobCell {
  return comparison.kind === "not_failing" || comparison.kind === "no_baseline" ? cell : { ...cell, trunk: comparison };
}

/** failed → running → passed → the rest (cancelled, skipped, neutral). */
function cellRank(cell: JobCell): number {
  if (cell.status === "in_progress") return 1;
  if (cell.conclusion === "failure" || cell.conclusion === "timed_out" || cell.conclusion === "action_required") return 0;
  return cell.conclusion === "success" ? 2 : 3;
}

const byState = (a: JobCell, b: JobCell) => cellRank(a) - cellRank(b) || a.jobName.localeCompare(b.jobName);

function boxState(jobs: JobCell[]): PrBackendBox["state"] {
  const best = Math.min(...jobs.map(cellRank));
  return best === 0 ? "failing" : best === 1 ? "running" : "passed";
}

const STATE_ORDER: Record<PrBackendBox["state"], number> = { failing: 0, missing: 1, running: 2, passed: 3 };

function byLevelThenState(a: PrBackendBox, b: PrBackendBox): number {
  return b.level.localeCompare(a.level) || STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.backendName.localeCompare(b.backendName);
}
