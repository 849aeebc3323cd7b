// The fact tables of the PostgreSQL store: PR heads, backends on heads with their job counts, the latest
// attempt of each job, tracked downstream runs, and per check run its GitHub id and the hash of its
// desired state. Plain reads and writes by key on indexed columns; the rules live in src/state/.
import type { HeadFacts } from "../../domain/heads.js";
import type { JobCounts, JobSummary, LatestAttempt } from "../../domain/jobs.js";
import type { RunFacts } from "../../domain/runs.js";
import type { TrunkJobResult } from "../../domain/trunk-baseline.js";
import type { BackendHeadKey, CheckRunRecord, FactStore, HeadKey, StoredBackendHead, TrunkJobKey } from "../store.js";
import { json, repoKey } from "./rows.js";
import type { Sql } from "./transaction.js";

interface HeadRow {
  upstreamRepo: string;
  headSha: string;
  prNumber: number;
  state: HeadFacts["state"];
  supersededBy: string | null;
  labels: string[] | null;
  stateChangedAt: number;
}

interface BackendHeadRow {
  upstreamRepo: string;
  headSha: string;
  downstreamRepo: string;
  backendName: string;
  level: string;
  deliveryId: string;
  dispatchOutcome: StoredBackendHead["dispatchOutcome"];
  dispatchReason: string | null;
  unreported: StoredBackendHead["unreported"] | null;
  counts: JobCounts;
  newest: LatestAttempt | null;
  nextSeq: number;
  frameHash: string | null;
  runs: RunFacts[] | null;
  runWaitDeadline: number | null;
  runWaitTracked: boolean | null;
}

interface AttemptRow {
  seq: number;
  summary: JobSummary;
}

const HEAD_COLUMNS = `upstream_repo AS "upstreamRepo", head_sha AS "headSha", pr_number AS "prNumber", state,
  superseded_by AS "supersededBy", labels_json AS labels, state_changed_at AS "stateChangedAt"`;
const BACKEND_HEAD_COLUMNS = `upstream_repo AS "upstreamRepo", head_sha AS "headSha", downstream_repo AS "downstreamRepo",
  backend_name AS "backendName", level, delivery_id AS "deliveryId", dispatch_outcome AS "dispatchOutcome",
  dispatch_reason AS "dispatchReason", unreported, counts_json AS counts, newest_json AS newest,
  next_seq AS "nextSeq", frame_hash AS "frameHash", runs_json AS runs,
  run_wait_deadline AS "runWaitDeadline", run_wait_tracked AS "runWaitTracked"`;
/** A backend head's key as $1, $2, $3 (keyParams). */
const BACKEND_HEAD_KEY = "upstream_repo_key = $1 AND head_sha = $2 AND downstream_repo_key = $3";
const ATTEMPT_COLUMNS = "seq, summary_json AS summary";

function keyParams(key: BackendHeadKey): [string, string, string] {
  return [repoKey(key.upstreamRepo), key.headSha, repoKey(key.downstreamRepo)];
}

function toHead({ labels, supersededBy, ...rest }: HeadRow): HeadFacts {
  return { ...rest, ...(labels !== null && { labels }), ...(supersededBy !== null && { supersededBy }) };
}

function toBackendHead(row: BackendHeadRow): StoredBackendHead {
  const { newest, dispatchReason, unreported, frameHash, runs, runWaitDeadline, runWaitTracked, ...rest } = row;
  return {
    ...rest,
    ...(runs !== null && { runs }),
    ...(runWaitDeadline !== null && { runWait: { deadline: runWaitDeadline, tracked: runWaitTracked === true } }),
    ...(newest !== null && { newest }),
    ...(dispatchReason !== null && { dispatchReason }),
    ...(unreported !== null && { unreported }),
    ...(frameHash !== null && { frameHash }),
  };
}

function toAttempt(row: AttemptRow): LatestAttempt {
  return { ...row.summary, seq: row.seq };
}

function trunkKeyParams(key: TrunkJobKey): [string, string, string, string] {
  return [repoKey(key.upstreamRepo), repoKey(key.downstreamRepo), key.workflowName, key.jobName];
}

/** The check-run record's GitHub id, once its task was sent (called from the outbox's markSent). */
export async function setCheckRunId(sql: Sql, key: string, githubId: number): Promise<void> {
  await sql.run("UPDATE check_runs SET github_id = $1 WHERE key = $2", [githubId, key]);
}

/** Records a check run's new desired state (its task is queued by the outbox's queueCheckRun). */
export async function putCheckRun(sql: Sql, key: string, head: HeadKey, desiredHash: string, now: number): Promise<void> {
  await sql.run(
    `INSERT INTO check_runs (key, upstream_repo_key, head_sha, desired_hash, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO UPDATE SET desired_hash = excluded.desired_hash, updated_at = excluded.updated_at`,
    [key, repoKey(head.upstreamRepo), head.headSha, desiredHash, now],
  );
}

export async function checkRun(sql: Sql, key: string): Promise<CheckRunRecord | undefined> {
  const row = await sql.row<{ githubId: number | null; desiredHash: string }>(
    `SELECT github_id AS "githubId", desired_hash AS "desiredHash" FROM check_runs WHERE key = $1`,
    [key],
  );
  return row && { desiredHash: row.desiredHash, ...(row.githubId !== null && { githubId: row.githubId }) };
}

/** FactStore, but queueCheckRun (it queues a task: src/store/postgres/outbox.ts). */
export function factMethods(sql: Sql): Omit<FactStore, "queueCheckRun"> {
  return {
    async head(key) {
      const row = await sql.row<HeadRow>(`SELECT ${HEAD_COLUMNS} FROM heads WHERE upstream_repo_key = $1 AND head_sha = $2`, [
        repoKey(key.upstreamRepo),
        key.headSha,
      ]);
      return row && toHead(row);
    },

    async putHead(head) {
      await sql.run(
        `INSERT INTO heads (upstream_repo_key, upstream_repo, head_sha, pr_number, state, superseded_by, labels_json, state_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
         ON CONFLICT (upstream_repo_key, head_sha) DO UPDATE SET upstream_repo = excluded.upstream_repo, pr_number = excluded.pr_number,
           state = excluded.state, superseded_by = excluded.superseded_by,
           labels_json = excluded.labels_json, state_changed_at = excluded.state_changed_at`,
        [
          repoKey(head.upstreamRepo),
          head.upstreamRepo,
          head.headSha,
          head.prNumber,
          head.state,
          head.supersededBy ?? null,
          json(head.labels),
          head.stateChangedAt,
        ],
      );
    },

    async openHeadsOfPr(upstreamRepo, prNumber) {
      const rows = await sql.rows<HeadRow>(
        `SELECT ${HEAD_COLUMNS} FROM heads WHERE upstream_repo_key = $1 AND pr_number = $2 AND state = 'open'`,
        [repoKey(upstreamRepo), prNumber],
      );
      return rows.map(toHead);
    },

    async openHeads(after, limit) {
      const rows = await sql.rows<HeadRow>(
        `SELECT ${HEAD_COLUMNS} FROM heads WHERE state = 'open' AND (upstream_repo_key, head_sha) > ($1, $2)
         ORDER BY upstream_repo_key, head_sha LIMIT $3`,
        [after ? repoKey(after.upstreamRepo) : "", after?.headSha ?? "", limit],
      );
      return rows.map(toHead);
    },

    async backendHead(key) {
      const row = await sql.row<BackendHeadRow>(`SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE ${BACKEND_HEAD_KEY}`, keyParams(key));
      return row && toBackendHead(row);
    },

    async backendHeads(key) {
      const rows = await sql.rows<BackendHeadRow>(
        `SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE upstream_repo_key = $1 AND head_sha = $2 ORDER BY downstream_repo_key`,
        [repoKey(key.upstreamRepo), key.headSha],
      );
      return rows.map(toBackendHead);
    },

    async backendHeadOfDispatch(deliveryId, downstreamRepo) {
      const row = await sql.row<BackendHeadRow>(
        `SELECT ${BACKEND_HEAD_COLUMNS} FROM backend_heads WHERE delivery_id = $1 AND downstream_repo_key = $2`,
        [deliveryId, repoKey(downstreamRepo)],
      );
      return row && toBackendHead(row);
    },

    async putBackendHead(facts) {
      await sql.run(
        `INSERT INTO backend_heads (upstream_repo_key, head_sha, downstream_repo_key, upstream_repo, downstream_repo, backend_name, level,
           delivery_id, dispatch_outcome, dispatch_reason, unreported, counts_json, newest_json, next_seq, frame_hash, runs_json,
           run_wait_deadline, run_wait_tracked)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14, $15, $16::jsonb, $17, $18)
         ON CONFLICT (upstream_repo_key, head_sha, downstream_repo_key) DO UPDATE SET
           upstream_repo = excluded.upstream_repo, downstream_repo = excluded.downstream_repo, backend_name = excluded.backend_name,
           level = excluded.level, delivery_id = excluded.delivery_id, dispatch_outcome = excluded.dispatch_outcome,
           dispatch_reason = excluded.dispatch_reason, unreported = excluded.unreported, counts_json = excluded.counts_json,
           newest_json = excluded.newest_json, next_seq = excluded.next_seq, frame_hash = excluded.frame_hash,
           runs_json = excluded.runs_json, run_wait_deadline = excluded.run_wait_deadline, run_wait_tracked = excluded.run_wait_tracked`,
        [
          ...keyParams(facts),
          facts.upstreamRepo,
          facts.downstreamRepo,
          facts.backendName,
          facts.level,
          facts.deliveryId,
          facts.dispatchOutcome,
          facts.dispatchReason ?? null,
          facts.unreported ?? null,
          json(facts.counts),
          json(facts.newest),
          facts.nextSeq,
          facts.frameHash ?? null,
          // No runs and an empty list read back the same: absent.
          facts.runs && facts.runs.length > 0 ? json(facts.runs) : null,
          facts.runWait?.deadline ?? null,
          facts.runWait?.tracked ?? null,
        ],
      );
    },

    async awaitingRuns(before, limit) {
      return sql.rows<{ deliveryId: string; downstreamRepo: string }>(
        `SELECT delivery_id AS "deliveryId", downstream_repo AS "downstreamRepo" FROM backend_heads
         WHERE run_wait_deadline IS NOT NULL AND run_wait_deadline < $1 ORDER BY run_wait_deadline LIMIT $2`,
        [before, limit],
      );
    },

    async trackRun(downstreamRepo, runId, deliveryId, now) {
      await sql.run(
        "INSERT INTO tracked_runs (downstream_repo_key, run_id, delivery_id, tracked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [repoKey(downstreamRepo), runId, deliveryId, now],
      );
    },

    async trackedRun(downstreamRepo, runId) {
      const row = await sql.row<{ deliveryId: string }>(
        `SELECT delivery_id AS "deliveryId" FROM tracked_runs WHERE downstream_repo_key = $1 AND run_id = $2`,
        [repoKey(downstreamRepo), runId],
      );
      return row?.deliveryId;
    },

    async trunkResult(key) {
      const row = await sql.row<{ result: TrunkJobResult }>(
        `SELECT result_json AS result FROM trunk_results
         WHERE upstream_repo_key = $1 AND downstream_repo_key = $2 AND workflow_name = $3 AND job_name = $4`,
        trunkKeyParams(key),
      );
      return row?.result;
    },

    async putTrunkResult(key, result, now) {
      // A result of an older trunk commit (dispatched earlier) never replaces a newer one's.
      await sql.run(
        `INSERT INTO trunk_results AS t (upstream_repo_key, downstream_repo_key, workflow_name, job_name, result_json, dispatched_at, updated_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
         ON CONFLICT (upstream_repo_key, downstream_repo_key, workflow_name, job_name) DO UPDATE SET
           result_json = excluded.result_json, dispatched_at = excluded.dispatched_at, updated_at = excluded.updated_at
         WHERE excluded.dispatched_at >= t.dispatched_at`,
        [...trunkKeyParams(key), json(result), result.dispatchedAt, now],
      );
    },

    async latestAttempt(key, workflowName, jobName) {
      const row = await sql.row<AttemptRow>(
        `SELECT ${ATTEMPT_COLUMNS} FROM job_latest WHERE ${BACKEND_HEAD_KEY} AND workflow_name = $4 AND job_name = $5`,
        [...keyParams(key), workflowName, jobName],
      );
      return row && toAttempt(row);
    },

    async putLatestAttempt(key, attempt) {
      const { seq, ...summary } = attempt;
      await sql.run(
        `INSERT INTO job_latest (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name, seq, passed, summary_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
         ON CONFLICT (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name) DO UPDATE SET
           seq = excluded.seq, passed = excluded.passed, summary_json = excluded.summary_json`,
        [
          ...keyParams(key),
          attempt.workflowName,
          attempt.jobName,
          seq,
          attempt.status === "completed" && attempt.conclusion === "success",
          json(summary),
        ],
      );
    },

    async clearLatestAttempts(key) {
      await sql.run(`DELETE FROM job_latest WHERE ${BACKEND_HEAD_KEY}`, keyParams(key));
    },

    // Not passed first (running, failed, …), then in the order the jobs first reported; returned by seq.
    async listedAttempts(key, limit) {
      const rows = await sql.rows<AttemptRow>(
        `SELECT ${ATTEMPT_COLUMNS} FROM job_latest WHERE ${BACKEND_HEAD_KEY} ORDER BY passed, seq LIMIT $4`,
        [...keyParams(key), limit],
      );
      return rows.map(toAttempt).sort((a, b) => a.seq - b.seq);
    },

    async attemptsBelowSeq(key, below) {
      const rows = await sql.rows<AttemptRow>(
        `SELECT ${ATTEMPT_COLUMNS} FROM job_latest WHERE ${BACKEND_HEAD_KEY} AND seq < $4 ORDER BY seq`,
        [...keyParams(key), below],
      );
      return rows.map(toAttempt);
    },

    checkRun: (key) => checkRun(sql, key),
  };
}
