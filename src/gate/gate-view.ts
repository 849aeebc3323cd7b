// The merge gate of a pull request's head (pure): each backend the PR's results show for, in the state its
// aggregate check run shows (the same desired-state function, so the gate never disagrees with the PR
// page), and which of them block the merge.
import { showsCheckRun } from "../allowlist/policy.js";
import type { Allowlist, AllowlistEntry } from "../allowlist/types.js";
import { aggregateCheckName } from "../checks/aggregate.js";
import { desiredAggregate, visibility, type DesiredCheckSettings } from "../checks/desired.js";
import type { HeadFacts } from "../domain/heads.js";
import { jobIdentity, type JobSummary } from "../domain/jobs.js";
import { isFailing } from "../domain/runs.js";
import type { TrunkComparison } from "../domain/trunk-baseline.js";
import type { StoredBackendHead } from "../store/store.js";
import { GATE_SCHEMA_VERSION, type GateBackend, type GateJob, type GateView } from "./schema.js";

/** What the store holds of one backend on the head. */
export interface GateBackendFacts {
  backend: StoredBackendHead;
  /** The aggregate's listed attempts (failed ones first, at most LISTED_JOBS). */
  listed: readonly JobSummary[];
  trunk?: ReadonlyMap<string, TrunkComparison>;
}

export interface GateInput {
  head: HeadFacts;
  allowlist: Allowlist;
  /** By lower-cased downstream repo. */
  backends: ReadonlyMap<string, GateBackendFacts>;
  settings: DesiredCheckSettings;
}

const PASSED = new Set(["success", "neutral", "skipped"]);

export function gateView(input: GateInput): GateView {
  const { head, allowlist, settings } = input;
  const backends: GateBackend[] = [];
  for (const entry of allowlist.entries) {
    if (!entry.policy.forward_event) continue;
    const facts = input.backends.get(entry.key);
    const judged = facts ? dispatched(entry, facts, input) : notDispatched(entry, head, settings);
    if (judged) backends.push(judged);
  }
  backends.sort((a, b) => Number(b.blocksMerge) - Number(a.blocksMerge));
  const blocking = backends.filter((backend) => backend.blocksMerge && backend.state !== "passed");
  return {
    schemaVersion: GATE_SCHEMA_VERSION,
    upstreamRepo: head.upstreamRepo,
    prNumber: head.prNumber,
    headSha: head.headSha,
    headState: head.state,
    verdict: blocking.length > 0 ? "blocked" : "clear",
    blocking,
    nonBlockingFailures: backends.filter((backend) => !backend.blocksMerge && backend.state === "failed"),
    backends,
  };
}

/** A backend the head was dispatched to, as its aggregate shows; undefined when its results are not shown on the PR. */
function dispatched(entry: AllowlistEntry, facts: GateBackendFacts, input: GateInput): GateBackend | undefined {
  const view = { head: input.head, backend: facts.backend, entry, listed: facts.listed, ...(facts.trunk && { trunk: facts.trunk }) };
  if (!visibility(view, input.settings.labelPrefix, true).shown && !entry.policy.block_pr) return undefined;
  const aggregate = desiredAggregate(view, input.settings, true)!.params;
  const completed = aggregate.status === "completed";
  const conclusion = completed ? String(aggregate.conclusion) : null;
  const output = aggregate.output as { title?: unknown } | undefined;
  return {
    ...identity(entry, input.settings),
    state: conclusion === null ? "pending" : PASSED.has(conclusion) ? "passed" : "failed",
    conclusion,
    title: typeof output?.title === "string" ? output.title : null,
    failedJobs: facts.listed.filter((job) => job.status === "completed" && isFailing(job.conclusion ?? "failure")).map((job) => failedJob(job, facts.trunk)),
  };
}

/** A backend the relay has no dispatch of this head to: it blocks if its policy says so; others count only when shown. */
function notDispatched(entry: AllowlistEntry, head: HeadFacts, settings: DesiredCheckSettings): GateBackend | undefined {
  if (!entry.policy.block_pr && !showsCheckRun(entry, head.labels ?? [], settings.labelPrefix)) return undefined;
  return { ...identity(entry, settings), state: "not_dispatched", conclusion: null, title: null, failedJobs: [] };
}

function identity(entry: AllowlistEntry, settings: DesiredCheckSettings): Pick<GateBackend, "name" | "downstreamRepo" | "level" | "blocksMerge" | "checkRunName"> {
  return {
    name: entry.name,
    downstreamRepo: entry.repo,
    level: entry.level,
    blocksMerge: entry.policy.block_pr,
    checkRunName: aggregateCheckName(settings, entry),
  };
}

function failedJob(job: JobSummary, trunk: ReadonlyMap<string, TrunkComparison> | undefined): GateJob {
  const comparison = trunk?.get(jobIdentity(job));
  const trunkSha = comparison && "trunkSha" in comparison ? comparison.trunkSha : null;
  return {
    workflowName: job.workflowName,
    jobName: job.jobName,
    conclusion: job.conclusion ?? "failure",
    alsoOnTrunk: comparison === undefined || comparison.kind === "no_baseline" || comparison.kind === "not_failing" ? null : comparison.kind === "also_on_trunk",
    trunkSha,
  };
}
