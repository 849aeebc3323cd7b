// The fact tables of the SQLite store (migration 9): PR heads, backends on heads with their job counts,
// the latest attempt of each job, and per check run its GitHub id and the hash of its desired state.
// Plain reads and writes by key on indexed columns; the rules live in src/state/.
import type Database from "better-sqlite3";
import type { BackendHeadFacts, HeadFacts } from "../../domain/heads.js";
import type { JobCounts, JobSummary, LatestAttempt } from "../../domain/jobs.js";
import type { RunFacts } from "../../domain/runs.js";
import type { TrunkJobResult } from "../../domain/trunk-baseline.js";
import type { BackendHeadKey, CheckRunRecord, HeadKey, StoredBackendHead, TrunkJobKey } from "../store.js";

interface HeadRow {
  upstreamRepo: string;
  headSha: string;
  prNumber: number;
  state: HeadFacts["state"];
  supersededBy: string | null;
  labelsJson: string | null;
  stateChangedAt: number;
}

interface BackendHeadRow {
  upstreamRepo: string;
  headSha: string;
  downstreamRepo: string;
  backendName: string;
  level: string;
  deliveryId: string;
  dispatchOutcome: BackendHeadFacts["dispatchOutcome"];
  dispatchReason: string | null;
  unreported: BackendHeadFacts["unreported"] | null;
  countsJson: string;
  newestJson: string | null;
  nextSeq: number;
  frameHash: string | null;
  runsJson: string | null;
  runWaitDeadline: number | null;
  runWaitTracked: number | null;
}

const HEAD_COLUMNS = `upstream_repo AS upstreamRepo, head_sha AS headSha, pr_number AS prNumber, state,
  superseded_by AS supersededBy, labels_json AS labelsJson, state_changed_at AS stateChangedAt`;
const BACKEND_HEAD_COLUMNS = `upstream_repo AS upstreamRepo, head_sha AS headSha, downstream_repo AS downstreamRepo,
  backend_name AS backendName, level, delivery_id AS deliveryId, dispatch_outcome AS dispatchOutcome,
  dispatch_reason AS dispatchReason, unreported, counts_json AS countsJson, newest_json AS newestJson,
  next_seq AS nextSeq, frame_hash AS frameHash, runs_json AS runsJson,
  run_wait_deadline AS runWaitDeadline, run_wait_tracked AS runWaitTracked`;
const BACKEND_HEAD_KEY = "upstream_repo_key = @repo AND head_sha = @sha AND downstream_repo_key = @downstream";

type KeyParams = { repo: string; sha: string; downstream: string };
type TrunkKeyParams = { upstream: string; downstream: string; workflow: string; job: string };
const TRUNK_KEY = "upstream_repo_key = @upstream AND downstream_repo_key = @downstream AND workflow_name = @workflow AND job_name = @job";

function trunkKeyParams(key: TrunkJobKey): TrunkKeyParams {
  return { upstream: key.upstreamRepo.toLowerCase(), downstream: key.downstreamRepo.toLowerCase(), workflow: key.workflowName, job: key.jobName };
}

function keyParams(key: BackendHeadKey): KeyParams {
  return { repo: key.upstreamRepo.toLowerCase(), sha: key.headSha, downstream: key.downstreamRepo.toLowerCase() };
}

function prepare(db: Database.Database) {
  return {
    head: db.prepare<[string, string], HeadRow>(`SELECT ${HEAD_COLUMNS} FROM heads WHERE upstream_repo_key = ? AND head_sha = ?`),
    putHead: db.prepare(
      `INSERT INTO heads (upstream_repo_key, upstream_repo, head_sha, pr_number, state, superseded_by, labels_json, state_changed_at)
       VALUES (@repo, @upstreamRepo, @sha, @prNumber, @state, @supersededBy, @labelsJson, @stateChangedAt)
       ON CONFLICT (upstream_repo_key, head_sha) DO UPDATE SET upstream_repo = excluded.upstream_repo, pr_number = excluded.pr_number,
         state = excluded.state, superseded_by = excluded.superseded_by,
         labels_json = excluded.labels_json, state_changed_at = excluded.state_changed_at`,
    ),
    openHeadsOfPr: db.prepare<[string, number], HeadRow>(
      `SELECT ${HEAD_COLUMNS} FROM heads WHERE upstream_repo_key = ? AND pr_number = ? AND state = 'open'`,
    ),
    openHeads: db.prepare<[{ repo: string; sha: string; limit: number }], HeadRow>(
      `SELECT ${HEAD_COLUMNS} FROM heads WHERE state = 'open' AND (upstream_repo_key, head_sha) > (@repo, @sha)
       ORDER BY upstream_repo_key, head_sha LIMIT @limit`,
    ),
    backendHead: db.prepare<[KeyParams], BackendHeadRow>(`SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE ${BACKEND_HEAD_KEY}`),
    backendHeads: db.prepare<[string, string], BackendHeadRow>(
      `SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE upstream_repo_key = ? AND head_sha = ? ORDER BY downstream_repo_key`,
    ),
    backendHeadOfDispatch: db.prepare<[string, string], BackendHeadRow>(
      `SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE delivery_id = ? AND downstream_repo_key = ?`,
    ),
    putBackendHead: db.prepare(
      `INSERT INTO backend_heads (upstream_repo_key, upstream_repo, head_sha, downstream_repo_key, downstream_repo, backend_name, level,
         delivery_id, dispatch_outcome, dispatch_reason, unreported, counts_json, newest_json, next_seq, frame_hash, runs_json, run_wait_deadline, run_wait_tracked)
       VALUES (@repo, @upstreamRepo, @sha, @downstream, @downstreamRepo, @backendName, @level, @deliveryId, @dispatchOutcome,
         @dispatchReason, @unreported, @countsJson, @newestJson, @nextSeq, @frameHash, @runsJson, @runWaitDeadline, @runWaitTracked)
       ON CONFLICT (upstream_repo_key, head_sha, downstream_repo_key) DO UPDATE SET
         upstream_repo = excluded.upstream_repo, downstream_repo = excluded.downstream_repo, backend_name = excluded.backend_name, level = excluded.level,
         delivery_id = excluded.delivery_id, dispatch_outcome = excluded.dispatch_outcome,
         dispatch_reason = excluded.dispatch_reason, unreported = excluded.unreported, counts_json = excluded.counts_json,
         newest_json = excluded.newest_json, next_seq = excluded.next_seq, frame_hash = excluded.frame_hash,
         runs_json = excluded.runs_json, run_wait_deadline = excluded.run_wait_deadline, run_wait_tracked = excluded.run_wait_tracked`,
    ),
    awaitingRuns: db.prepare<[number, number], { deliveryId: string; downstreamRepo: string }>(
      `SELECT delivery_id AS deliveryId, downstream_repo AS downstreamRepo FROM backend_heads
       WHERE run_wait_deadline IS NOT NULL AND run_wait_deadline < ? ORDER BY run_wait_deadline LIMIT ?`,
    ),
    trackRun: db.prepare<[string, number, string, number]>(
      "INSERT INTO tracked_runs (downstream_repo_key, run_id, delivery_id, tracked_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    trackedRun: db.prepare<[string, number], string>("SELECT delivery_id FROM tracked_runs WHERE downstream_repo_key = ? AND run_id = ?").pluck(),
    latestAttempt: db.prepare<[KeyParams & { workflow: string; job: string }], { seq: number; summaryJson: string }>(
      `SELECT seq, summary_json AS summaryJson FROM job_latest WHERE ${BACKEND_HEAD_KEY} AND workflow_name = @workflow AND job_name = @job`,
    ),
    putLatestAttempt: db.prepare(
      `INSERT INTO job_latest (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name, seq, passed, summary_json)
       VALUES (@repo, @sha, @downstream, @workflow, @job, @seq, @passed, @summaryJson)
       ON CONFLICT (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name) DO UPDATE SET
         seq = excluded.seq, passed = excluded.passed, summary_json = excluded.summary_json`,
    ),
    clearLatestAttempts: db.prepare<[KeyParams]>(`DELETE FROM job_latest WHERE ${BACKEND_HEAD_KEY}`),
    // Not passed first (running, failed, …), then in the order the jobs first reported.
    listedAttempts: db.prepare<[KeyParams & { limit: number }], { seq: number; summaryJson: string }>(
      `SELECT seq, summary_json AS summaryJson FROM job_latest WHERE ${BACKEND_HEAD_KEY} ORDER BY passed, seq LIMIT @limit`,
    ),
    attemptsBelowSeq: db.prepare<[KeyParams & { below: number }], { seq: number; summaryJson: string }>(
      `SELECT seq, summary_json AS summaryJson FROM job_latest WHERE ${BACKEND_HEAD_KEY} AND seq < @below ORDER BY seq`,
    ),
    checkRun: db.prepare<[string], { githubId: number | null; desiredHash: string }>(
      "SELECT github_id AS githubId, desired_hash AS desiredHash FROM check_runs WHERE key = ?",
    ),
    putCheckRun: db.prepare(
      `INSERT INTO check_runs (key, upstream_repo_key, head_sha, desired_hash, updated_at) VALUES (@key, @repo, @sha, @hash, @now)
       ON CONFLICT (key) DO UPDATE SET desired_hash = excluded.desired_hash, updated_at = excluded.updated_at`,
    ),
    setCheckRunId: db.prepare<[number, string]>("UPDATE check_runs SET github_id = ? WHERE key = ?"),
    trunkResult: db.prepare<[TrunkKeyParams], string>(`SELECT result_json FROM trunk_results WHERE ${TRUNK_KEY}`).pluck(),
    // A result of an older trunk commit (dispatched earlier) never replaces a newer one's.
    putTrunkResult: db.prepare<[TrunkKeyParams & { resultJson: string; dispatchedAt: number; now: number }]>(
      `INSERT INTO trunk_results (upstream_repo_key, downstream_repo_key, workflow_name, job_name, result_json, dispatched_at, updated_at)
       VALUES (@upstream, @downstream, @workflow, @job, @resultJson, @dispatchedAt, @now)
       ON CONFLICT (upstream_repo_key, downstream_repo_key, workflow_name, job_name) DO UPDATE SET
         result_json = excluded.result_json, dispatched_at = excluded.dispatched_at, updated_at = excluded.updated_at
       WHERE excluded.dispatched_at >= trunk_results.dispatched_at`,
    ),
  };
}

function toHead(row: HeadRow): HeadFacts {
  const { labelsJson, supersededBy, ...rest } = row;
  return {
    ...rest,
    ...(labelsJson !== null && { labels: JSON.parse(labelsJson) as string[] }),
    ...(supersededBy !== null && { supersededBy }),
  };
}

function toBackendHead(row: BackendHeadRow): StoredBackendHead {
  const { countsJson, newestJson, dispatchReason, unreported, frameHash, runsJson, runWaitDeadline, runWaitTracked, ...rest } = row;
  return {
    ...rest,
    counts: JSON.parse(countsJson) as JobCounts,
    ...(runsJson !== null && { runs: JSON.parse(runsJson) as RunFacts[] }),
    ...(runWaitDeadline !== null && { runWait: { deadline: runWaitDeadline, tracked: runWaitTracked === 1 } }),
    ...(newestJson !== null && { newest: JSON.parse(newestJson) as LatestAttempt }),
    ...(dispatchReason !== null && { dispatchReason }),
    ...(unreported !== null && { unreported }),
    ...(frameHash !== null && { frameHash }),
  };
}

function toAttempt(row: { seq: number; summaryJson: string }): LatestAttempt {
  return { ...(JSON.parse(row.summaryJson) as JobSummary), seq: row.seq };
}

export class SqliteFacts {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.#sql = prepare(db);
  }

  head(key: HeadKey): HeadFacts | undefined {
    const row = this.#sql.head.get(key.upstreamRepo.toLowerCase(), key.headSha);
    return row && toHead(row);
  }

  putHead(head: HeadFacts): void {
    this.#sql.putHead.run({
      repo: head.upstreamRepo.toLowerCase(),
      upstreamRepo: head.upstreamRepo,
      sha: head.headSha,
      prNumber: head.prNumber,
      state: head.state,
      supersededBy: head.supersededBy ?? null,
      labelsJson: head.labels === undefined ? null : JSON.stringify(head.labels),
      stateChangedAt: head.stateChangedAt,
    });
  }

  openHeadsOfPr(upstreamRepo: string, prNumber: number): HeadFacts[] {
    return this.#sql.openHeadsOfPr.all(upstreamRepo.toLowerCase(), prNumber).map(toHead);
  }

  openHeads(after: HeadKey | undefined, limit: number): HeadFacts[] {
    return this.#sql.openHeads.all({ repo: after?.upstreamRepo.toLowerCase() ?? "", sha: after?.headSha ?? "", limit }).map(toHead);
  }

  backendHead(key: BackendHeadKey): StoredBackendHead | undefined {
    const row = this.#sql.backendHead.get(keyParams(key));
    return row && toBackendHead(row);
  }

  backendHeads(key: HeadKey): StoredBackendHead[] {
    return this.#sql.backendHeads.all(key.upstreamRepo.toLowerCase(), key.headSha).map(toBackendHead);
  }

  backendHeadOfDispatch(deliveryId: string, downstreamRepo: string): StoredBackendHead | undefined {
    const row = this.#sql.backendHeadOfDispatch.get(deliveryId, downstreamRepo.toLowerCase());
    return row && toBackendHead(row);
  }

  putBackendHead(facts: StoredBackendHead): void {
    this.#sql.putBackendHead.run({
      ...keyParams(facts),
      upstreamRepo: facts.upstreamRepo,
      downstreamRepo: facts.downstreamRepo,
      backendName: facts.backendName,
      level: facts.level,
      deliveryId: facts.deliveryId,
      dispatchOutcome: facts.dispatchOutcome,
      dispatchReason: facts.dispatchReason ?? null,
      unreported: facts.unreported ?? null,
      countsJson: JSON.stringify(facts.counts),
      newestJson: facts.newest ? JSON.stringify(facts.newest) : null,
      nextSeq: facts.nextSeq,
      frameHash: facts.frameHash ?? null,
      runsJson: facts.runs && facts.runs.length > 0 ? JSON.stringify(facts.runs) : null,
      runWaitDeadline: facts.runWait?.deadline ?? null,
      runWaitTracked: facts.runWait ? Number(facts.runWait.tracked) : null,
    });
  }

  awaitingRuns(before: number, limit: number): Array<{ deliveryId: string; downstreamRepo: string }> {
    return this.#sql.awaitingRuns.all(before, limit);
  }

  trackRun(downstreamRepo: string, runId: number, deliveryId: string, now: number): void {
    this.#sql.trackRun.run(downstreamRepo.toLowerCase(), runId, deliveryId, now);
  }

  trackedRun(downstreamRepo: string, runId: number): string | undefined {
    return this.#sql.trackedRun.get(downstreamRepo.toLowerCase(), runId);
  }

  latestAttempt(key: BackendHeadKey, workflowName: string, jobName: string): LatestAttempt | undefined {
    const row = this.#sql.latestAttempt.get({ ...keyParams(key), workflow: workflowName, job: jobName });
    return row && toAttempt(row);
  }

  putLatestAttempt(key: BackendHeadKey, attempt: LatestAttempt): void {
    const { seq, ...summary } = attempt;
    this.#sql.putLatestAttempt.run({
      ...keyParams(key),
      workflow: attempt.workflowName,
      job: attempt.jobName,
      seq,
      passed: attempt.status === "completed" && attempt.conclusion === "success" ? 1 : 0,
      summaryJson: JSON.stringify(summary),
    });
  }

  clearLatestAttempts(key: BackendHeadKey): void {
    this.#sql.clearLatestAttempts.run(keyParams(key));
  }

  listedAttempts(key: BackendHeadKey, limit: number): LatestAttempt[] {
    return this.#sql.listedAttempts
      .all({ ...keyParams(key), limit })
      .map(toAttempt)
      .sort((a, b) => a.seq - b.seq);
  }

  attemptsBelowSeq(key: BackendHeadKey, below: number): LatestAttempt[] {
    return this.#sql.attemptsBelowSeq.all({ ...keyParams(key), below }).map(toAttempt);
  }

  checkRun(key: string): CheckRunRecord | undefined {
    const row = this.#sql.checkRun.get(key);
    return row && { desiredHash: row.desiredHash, ...(row.githubId !== null && { githubId: row.githubId }) };
  }

  putCheckRun(key: string, head: HeadKey, desiredHash: string, now: number): void {
    this.#sql.putCheckRun.run({ key, repo: head.upstreamRepo.toLowerCase(), sha: head.headSha, hash: desiredHash, now });
  }

  setCheckRunId(key: string, githubId: number): void {
    this.#sql.setCheckRunId.run(githubId, key);
  }

  trunkResult(key: TrunkJobKey): TrunkJobResult | undefined {
    const json = this.#sql.trunkResult.get(trunkKeyParams(key));
    return json === undefined ? undefined : (JSON.parse(json) as TrunkJobResult);
  }

  putTrunkResult(key: TrunkJobKey, result: TrunkJobResult, now: number): void {
    this.#sql.putTrunkResult.run({ ...trunkKeyParams(key), resultJson: JSON.stringify(result), dispatchedAt: result.dispatchedAt, now });
  }
}
