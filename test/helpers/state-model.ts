// An independent reference model of the state core's facts (test/integration/state-core-property.test.ts)
// and an in-memory GitHub that keeps check runs. The model records heads, labels, dispatches and latest
// job attempts its own way (never reading the store) and derives the expected check runs with the PURE
// functions of src/checks/desired.ts; the property compares them with what the outbox wrote to GitHub.
// Job check runs of a dispatch that a newer dispatch of the same backend head replaced ("retired") keep
// the final state the model gave them at the re-dispatch, unless a job of the new dispatch takes them over.
import { expect } from "vitest";
import { findEntry } from "../../src/allowlist/policy.js";
import type { Allowlist, AllowlistEntry } from "../../src/allowlist/types.js";
import { aggregateCheckKey } from "../../src/checks/aggregate.js";
import { desiredAggregate, desiredJobCheck, type DesiredCheckSettings } from "../../src/checks/desired.js";
import { jobCheckKey } from "../../src/checks/job-checks.js";
import type { DispatchOutcome, UnreportedReason } from "../../src/domain/dispatches.js";
import type { BackendHeadFacts, HeadFacts } from "../../src/domain/heads.js";
import type { JobCounts, LatestAttempt, StoredJob } from "../../src/domain/jobs.js";
import type { GitHubRequest } from "../../src/domain/github-request.js";

// ---------------------------------------------------------------------------------------------------
// In-memory GitHub check runs

export interface GitHubCheckRun {
  id: number;
  [field: string]: unknown;
}

/** Check runs by id; POST creates (new id), PATCH updates the fields it names, as GitHub does. */
export class GitHubChecks {
  readonly runs = new Map<number, GitHubCheckRun>();
  #nextId = 1000;

  /** Applies a request; returns the check run's id (GitHub answers with the run). */
  apply(request: GitHubRequest): number {
    const { owner: _owner, repo: _repo, check_run_id: checkRunId, ...fields } = request.params;
    if (request.route === "POST /repos/{owner}/{repo}/check-runs") {
      const id = this.#nextId++;
      this.runs.set(id, { ...fields, id });
      return id;
    }
    if (request.route === "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}") {
      const run = this.runs.get(checkRunId as number);
      if (!run) throw new Error(`PATCH of unknown check run ${String(checkRunId)}`);
      Object.assign(run, fields);
      // GitHub: a check run that is not completed has no conclusion.
      if (fields.status !== undefined && fields.status !== "completed") {
        delete run.conclusion;
        delete run.completed_at;
      }
      return run.id;
    }
    throw new Error(`unexpected route ${request.route}`);
  }
}

/** The fields of a check run a user sees. */
export function visibleFields(run: Record<string, unknown>): Record<string, unknown> {
  const output = run.output as { title?: unknown; summary?: unknown } | undefined;
  return {
    name: run.name,
    head_sha: run.head_sha,
    status: run.status,
    conclusion: run.conclusion,
    title: output?.title,
    summary: output?.summary,
    external_id: run.external_id,
    details_url: run.details_url,
  };
}

// ---------------------------------------------------------------------------------------------------
// Reference model of the facts

export interface ModelHead {
  upstreamRepo: string;
  sha: string;
  pr: number;
  state: "open" | "superseded" | "closed";
  labels: string[];
  supersededBy?: string;
  stateChangedAt: number;
}

interface ModelAttempt {
  /** The job as recorded when this attempt last counted. */
  job: StoredJob;
  seq: number;
}

export interface ModelBackendHead {
  sha: string;
  downstreamRepo: string;
  backendName: string;
  level: string;
  deliveryId: string;
  outcome: DispatchOutcome;
  reason?: string;
  unreported?: UnreportedReason;
  /** Latest attempt per job (workflow/job name). */
  attempts: Map<string, ModelAttempt>;
  nextSeq: number;
  /** The job that reported last (the aggregate links its run). */
  newest?: ModelAttempt;
  /** The allowlist in force when the state core last reconciled this backend head. */
  allowlist: Allowlist;
}

export interface Expected {
  key: string;
  /** Desired state, or undefined when the check run must not exist. */
  request: GitHubRequest | undefined;
}

export class StateModel {
  readonly heads = new Map<string, ModelHead>();
  /** By `${sha}\u0000${downstream lower}`. */
  readonly backends = new Map<string, ModelBackendHead>();
  /** Check-run keys whose desired state was ever defined (queued at least once). */
  readonly written = new Set<string>();
  /**
   * Job check runs of a dispatch that a newer dispatch of the same backend head replaced, by check-run
   * key: the final state they got at the re-dispatch. Nothing recomputes them afterwards, unless a job
   * of a later dispatch with the same (workflow, job) name gets its own check run (same key).
   */
  readonly retired = new Map<string, GitHubRequest>();

  constructor(
    readonly upstreamRepo: string,
    readonly settings: DesiredCheckSettings,
  ) {}

  backendsOf(sha: string): ModelBackendHead[] {
    return [...this.backends.values()].filter((backend) => backend.sha === sha);
  }

  /** A pull_request event's effect on heads; `allowlist` is the one in force. */
  pullRequest(pr: number, sha: string, labels: readonly string[], closed: boolean, allowlist: Allowlist, now: number): void {
    const changed: ModelHead[] = [];
    if (!closed) {
      for (const other of this.heads.values()) {
        if (other.pr === pr && other.state === "open" && other.sha !== sha) {
          other.state = "superseded";
          other.supersededBy = sha;
          other.stateChangedAt = now;
          changed.push(other);
        }
      }
    }
    const state = closed ? "closed" : "open";
    const current = this.heads.get(sha);
    if (!current) {
      const head: ModelHead = { upstreamRepo: this.upstreamRepo, sha, pr, state, labels: [...labels], stateChangedAt: now };
      this.heads.set(sha, head);
      changed.push(head);
    } else if (current.state !== state || current.labels.join("\n") !== labels.join("\n")) {
      if (current.state !== state) current.stateChangedAt = now;
      current.state = state;
      delete current.supersededBy;
      current.labels = [...labels];
      changed.push(current);
    }
    for (const head of changed) for (const backend of this.backendsOf(head.sha)) this.reconcile(backend, allowlist);
  }

  /**
   * A new dispatch of `sha` to a backend: its jobs start over. First the earlier dispatch's job check runs
   * (latest attempts below the cap) get their final state, with the allowlist in force: what the job
   * shows now if that is completed (or undefined: never written and not shown), else `cancelled`
   * "Dispatched again".
   */
  dispatch(sha: string, deliveryId: string, downstreamRepo: string, backendName: string, level: string, allowlist: Allowlist): void {
    if (!this.heads.has(sha)) return;
    const previous = this.backends.get(backendKey(sha, downstreamRepo));
    if (previous) {
      const { head, facts, entry, aggregateKey } = this.#view(previous, allowlist);
      for (const attempt of [...previous.attempts.values()].sort((a, b) => a.seq - b.seq)) {
        if (attempt.seq >= this.settings.maxJobChecksPerBackend) continue;
        const key = jobCheckKey(aggregateKey, attempt.job.workflowName, attempt.job.jobName);
        const desired = desiredJobCheck({ head, backend: facts, entry }, { ...attempt.job, seq: attempt.seq }, this.settings, this.written.has(key), this.written.has(aggregateKey));
        if (!desired) continue;
        const final = desired.params.status === "completed" ? desired : dispatchedAgain(desired, previous.downstreamRepo);
        this.retired.set(key, final);
        this.written.add(key);
      }
    }
    const backend: ModelBackendHead = {
      sha,
      downstreamRepo,
      backendName,
      level,
      deliveryId,
      outcome: "pending",
      attempts: new Map(),
      nextSeq: 0,
      allowlist,
    };
    this.backends.set(backendKey(sha, downstreamRepo), backend);
    this.reconcile(backend, allowlist);
  }

  /** The latest dispatch of a backend head, if `deliveryId` still is it. */
  latest(sha: string, deliveryId: string, downstreamRepo: string): ModelBackendHead | undefined {
    const backend = this.backends.get(backendKey(sha, downstreamRepo));
    return backend?.deliveryId === deliveryId ? backend : undefined;
  }

  dispatchSettled(sha: string, deliveryId: string, downstreamRepo: string, outcome: DispatchOutcome, reason: string, allowlist: Allowlist): void {
    const backend = this.latest(sha, deliveryId, downstreamRepo);
    if (!backend) return;
    backend.outcome = outcome;
    backend.reason = reason;
    this.reconcile(backend, allowlist);
  }

  unreported(sha: string, deliveryId: string, downstreamRepo: string, reason: UnreportedReason, allowlist: Allowlist): void {
    const backend = this.latest(sha, deliveryId, downstreamRepo);
    if (!backend) return;
    backend.unreported = reason;
    this.reconcile(backend, allowlist);
  }

  /**
   * A job report (already accepted by the callback): counts for its backend head's latest dispatch,
   * whatever the head's state (a result is true for its commit; the head's state decides what check
   * runs still running show).
   */
  job(job: StoredJob, allowlist: Allowlist): void {
    const backend = this.latest(job.headSha, job.deliveryId, job.downstreamRepo);
    if (!backend || !this.heads.has(job.headSha)) return;
    const identity = `${job.workflowName}/${job.jobName}`;
    const previous = backend.attempts.get(identity);
    if (previous && (job.runId < previous.job.runId || (job.runId === previous.job.runId && job.runAttempt < previous.job.runAttempt))) return;
    const attempt: ModelAttempt = { job, seq: previous ? previous.seq : backend.nextSeq };
    if (!previous) backend.nextSeq += 1;
    backend.attempts.set(identity, attempt);
    backend.newest = attempt;
    this.reconcile(backend, allowlist);
  }

  /** The state core reconciled this backend head with `allowlist`: what it desired now counts as written. */
  reconcile(backend: ModelBackendHead, allowlist: Allowlist): void {
    backend.allowlist = allowlist;
    for (const { key, request } of this.expected(backend)) if (request) this.written.add(key);
  }

  /** The check runs a backend head should have, from the model's facts, by the pure functions. */
  expected(backend: ModelBackendHead): Expected[] {
    const { head, facts, entry, aggregateKey } = this.#view(backend, backend.allowlist);
    const attempts = [...backend.attempts.values()].sort((a, b) => a.seq - b.seq);
    const listed = attempts.slice(0, 50).map(latestAttemptOf);
    const aggregateWritten = this.written.has(aggregateKey);
    const result: Expected[] = [{ key: aggregateKey, request: desiredAggregate({ head, backend: facts, entry, listed }, this.settings, aggregateWritten) }];
    for (const attempt of attempts) {
      if (attempt.seq >= this.settings.maxJobChecksPerBackend) continue;
      const key = jobCheckKey(aggregateKey, attempt.job.workflowName, attempt.job.jobName);
      result.push({
        key,
        request: desiredJobCheck({ head, backend: facts, entry }, { ...attempt.job, seq: attempt.seq }, this.settings, this.written.has(key), aggregateWritten),
      });
    }
    return result;
  }

  /**
   * Every check run that should exist, by key: each backend head's (expected), and the retired job check
   * runs that no job of a later dispatch took over.
   */
  final(): Map<string, GitHubRequest> {
    const result = new Map(this.retired);
    for (const backend of this.backends.values()) {
      for (const { key, request } of this.expected(backend)) if (request) result.set(key, request);
    }
    return result;
  }

  /** A backend head's facts as the pure functions take them, with `allowlist`'s entry. */
  #view(backend: ModelBackendHead, allowlist: Allowlist): { head: HeadFacts; facts: BackendHeadFacts; entry: AllowlistEntry | undefined; aggregateKey: string } {
    const model = this.heads.get(backend.sha)!;
    const head: HeadFacts = {
      upstreamRepo: model.upstreamRepo,
      headSha: model.sha,
      prNumber: model.pr,
      state: model.state,
      labels: model.labels,
      stateChangedAt: model.stateChangedAt,
      ...(model.supersededBy !== undefined && { supersededBy: model.supersededBy }),
    };
    const attempts = [...backend.attempts.values()].sort((a, b) => a.seq - b.seq);
    const facts: BackendHeadFacts = {
      upstreamRepo: model.upstreamRepo,
      headSha: backend.sha,
      backendName: backend.backendName,
      level: backend.level,
      downstreamRepo: backend.downstreamRepo,
      deliveryId: backend.deliveryId,
      dispatchOutcome: backend.outcome,
      ...(backend.reason !== undefined && { dispatchReason: backend.reason }),
      ...(backend.unreported !== undefined && { unreported: backend.unreported }),
      counts: countsOf(attempts.map((attempt) => attempt.job)),
      ...(backend.newest && { newest: latestAttemptOf(backend.newest) }),
    };
    const entry = findEntry(allowlist, backend.downstreamRepo);
    return { head, facts, entry, aggregateKey: aggregateCheckKey(head.upstreamRepo, backend.backendName, head.headSha) };
  }
}

/**
 * A job check run still running when its backend head is dispatched again: the same check run, concluded
 * `cancelled` "Dispatched again", with a summary that names the downstream repo (its wording is not the
 * model's business).
 */
function dispatchedAgain(desired: GitHubRequest, downstreamRepo: string): GitHubRequest {
  const { conclusion: _conclusion, completed_at: _completedAt, output: _output, ...params } = desired.params;
  return {
    route: desired.route,
    params: {
      ...params,
      status: "completed",
      conclusion: "cancelled",
      output: { title: "Dispatched again", summary: expect.stringContaining(`\`${downstreamRepo}\``) as unknown },
    },
  };
}

export function backendKey(sha: string, downstreamRepo: string): string {
  return `${sha}\u0000${downstreamRepo.toLowerCase()}`;
}

/** Counted from scratch (the store counts incrementally). */
function countsOf(jobs: readonly StoredJob[]): JobCounts {
  const conclusions: Record<string, number> = {};
  let running = 0;
  for (const job of jobs) {
    if (job.status === "in_progress") running += 1;
    else conclusions[job.conclusion ?? "failure"] = (conclusions[job.conclusion ?? "failure"] ?? 0) + 1;
  }
  return { jobs: jobs.length, running, conclusions };
}

function latestAttemptOf({ job, seq }: ModelAttempt): LatestAttempt {
  const { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, conclusion, updatedAt } = job;
  return { deliveryId, downstreamRepo, runId, runAttempt, jobName, prNumber, workflowName, status, ...(conclusion !== undefined && { conclusion }), updatedAt, seq };
}
