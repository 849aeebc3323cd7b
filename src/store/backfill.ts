// Migration 9's data step: the latest attempts and counts of the jobs already stored, replayed in the
// order they were stored with the same arithmetic a report uses (src/domain/jobs.ts).
import type Database from "better-sqlite3";
import { countAttempt, isLaterAttempt, NO_JOBS, type JobCounts, type JobSummary, type LatestAttempt } from "../domain/jobs.js";
import { stateHash } from "../domain/state-hash.js";

interface BackendHeadKey {
  repo: string;
  sha: string;
  downstream: string;
}

/** Migration 9's data step: latest attempts and counts, and the hashes of the check-run states already queued. */
export function backfillFacts(db: Database.Database): void {
  backfillLatestAttempts(db);
  backfillCheckRunHashes(db);
}

/**
 * The hash of each check run's last queued state, from its outbox task: where the state core computes
 * the same state again (most check runs of open heads), the first allowlist walk after the upgrade finds
 * nothing to write, instead of rewriting every check run on every open PR with the upstream's write budget.
 */
function backfillCheckRunHashes(db: Database.Database): void {
  const rows = db
    .prepare<[], { key: string; requestJson: string }>(
      "SELECT c.key, o.request_json AS requestJson FROM check_runs c JOIN outbox o ON o.key = c.key WHERE json_valid(o.request_json)",
    )
    .all();
  const update = db.prepare<[string, string]>("UPDATE check_runs SET desired_hash = ? WHERE key = ?");
  for (const { key, requestJson } of rows) {
    const params = (JSON.parse(requestJson) as { params?: unknown }).params;
    if (params !== undefined) update.run(stateHash(params), key);
  }
}

function backfillLatestAttempts(db: Database.Database): void {
  // Only the jobs of each backend head's latest dispatch count, as for a new report.
  const rows = db
    .prepare<[], BackendHeadKey & { summaryJson: string }>(
      `SELECT j.upstream_repo_key AS repo, j.head_sha AS sha, j.downstream_repo_key AS downstream, j.summary_json AS summaryJson
       FROM jobs j JOIN backend_heads b ON b.upstream_repo_key = j.upstream_repo_key AND b.head_sha = j.head_sha
         AND b.downstream_repo_key = j.downstream_repo_key AND b.delivery_id = j.delivery_id
       WHERE j.summary_json IS NOT NULL ORDER BY j.rowid`,
    )
    .all();
  const heads = new Map<string, { key: BackendHeadKey; counts: JobCounts; next: number; newest?: JobSummary; jobs: Map<string, LatestAttempt> }>();
  for (const row of rows) {
    const id = `${row.repo}\u0000${row.sha}\u0000${row.downstream}`;
    const head = heads.get(id) ?? { key: row, counts: NO_JOBS, next: 0, jobs: new Map<string, LatestAttempt>() };
    heads.set(id, head);
    const job = JSON.parse(row.summaryJson) as JobSummary;
    const jobKey = `${job.workflowName}\u0000${job.jobName}`;
    const previous = head.jobs.get(jobKey);
    if (previous && !isLaterAttempt(job, previous)) continue;
    head.counts = countAttempt(head.counts, previous, job);
    head.jobs.set(jobKey, { ...job, seq: previous?.seq ?? head.next++ });
    head.newest = job;
  }
  const putAttempt = db.prepare(
    `INSERT INTO job_latest (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name, seq, passed, summary_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const putCounts = db.prepare(
    `UPDATE backend_heads SET counts_json = ?, newest_json = ?, next_seq = ?
     WHERE upstream_repo_key = ? AND head_sha = ? AND downstream_repo_key = ?`,
  );
  for (const { key, counts, next, newest, jobs } of heads.values()) {
    for (const attempt of jobs.values()) {
      const passed = attempt.status === "completed" && attempt.conclusion === "success" ? 1 : 0;
      const { seq, ...summary } = attempt;
      putAttempt.run(key.repo, key.sha, key.downstream, attempt.workflowName, attempt.jobName, seq, passed, JSON.stringify(summary));
    }
    putCounts.run(JSON.stringify(counts), newest ? JSON.stringify(newest) : null, next, key.repo, key.sha, key.downstream);
  }
}
