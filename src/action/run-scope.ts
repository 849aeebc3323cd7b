// Inputs of a run-level report (`scope: run`): the report a last job sends once the downstream run is over.
// That job `needs:` every other job and runs `if: always()`, so `${{ toJSON(needs) }}` holds the result
// GitHub gave each of them; the run's conclusion is the worst of those results.
import { z } from "zod";
import { REPORT_SCOPES } from "../callback/schema.js";
import { ActionInputError, getInput, type Env } from "./inputs.js";

export type ReportScope = (typeof REPORT_SCOPES)[number];

/** GitHub's job results (`needs.<job>.result`), worst first; each is also a check-run conclusion of the same name. */
const JOB_RESULTS = ["failure", "cancelled", "success", "skipped"] as const;

// `toJSON(needs)` is `{"<job id>": {"result": "...", "outputs": {...}}, ...}`; only `result` is read.
const Needs = z.record(
  z.string(),
  z.looseObject(
    { result: z.enum(JOB_RESULTS, { error: `must be one of ${JOB_RESULTS.join(", ")}` }) },
    { error: "expected an object with a result" },
  ),
  { error: "expected an object of job ids, as ${{ toJSON(needs) }} gives" },
);

const NEEDS_HINT = "pass needs: ${{ toJSON(needs) }}";

export interface RunReport {
  conclusion: string;
  /** How many jobs the run had, this one included; unknown without run-jobs or needs. */
  jobs?: number;
}

export function readScope(env: Env): ReportScope {
  const scope = getInput(env, "scope") ?? "job";
  if (!(REPORT_SCOPES as readonly string[]).includes(scope)) {
    throw new ActionInputError(`input scope: must be ${REPORT_SCOPES.join(" or ")}, got ${JSON.stringify(scope)}`);
  }
  return scope as ReportScope;
}

/** A job-scope report must not carry the run-level inputs: they would silently mean nothing. */
export function rejectRunInputs(env: Env): void {
  for (const name of ["needs", "run-jobs"]) {
    if (getInput(env, name) !== undefined) throw new ActionInputError(`input ${name}: only with scope: run`);
  }
}

/**
 * The conclusion and job count of a run-level report: the conclusion input wins, else the worst result in
 * needs; run-jobs wins, else the number of needed jobs plus this one.
 */
export function readRunReport(env: Env): RunReport {
  const needsInput = getInput(env, "needs");
  const results = needsInput === undefined ? undefined : Object.values(parseNeeds(needsInput)).map((job) => job.result);
  const conclusion = getInput(env, "conclusion") ?? worstResult(results);
  const runJobs = getInput(env, "run-jobs");
  const jobs = runJobs !== undefined ? parseCount("run-jobs", runJobs) : results && results.length + 1;
  return { conclusion, ...(jobs !== undefined && { jobs }) };
}

function worstResult(results: readonly string[] | undefined): string {
  if (results === undefined) {
    throw new ActionInputError(`input needs: required with scope: run unless conclusion is given; ${NEEDS_HINT} (the run's conclusion is the worst result of the needed jobs)`);
  }
  const worst = JOB_RESULTS.find((result) => results.includes(result));
  if (worst === undefined) {
    throw new ActionInputError("input needs: lists no jobs; the job sending the run-level report must `needs:` every other job of the run");
  }
  return worst;
}

function parseNeeds(value: string): z.infer<typeof Needs> {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new ActionInputError(`input needs: not valid JSON; ${NEEDS_HINT}`);
  }
  const parsed = Needs.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message));
  throw new ActionInputError(`input needs: ${problems.join("; ")}`);
}

function parseCount(name: string, value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new ActionInputError(`input ${name}: must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
