// Jobs, the HUD queue, callback outcome counts and installations of the PostgreSQL store.
import type { StoredJob } from "../../domain/jobs.js";
import { combinedQueueStats, oldestFirst, type TargetQueueStats } from "../hud-queue.js";
import { HUD_TARGETS, type HudTarget, type InstallationRecord, type QueuedHudRow, type StoreTx } from "../store.js";
import { queueHudRow } from "./outbox.js";
import { fromRow, repoKey, type Row } from "./rows.js";
import type { Sql } from "./transaction.js";

const INSTALLATION_COLUMNS = `repo, installation_id AS "installationId", checked_at AS "checkedAt"`;

type TableMethods =
  | "getJob" | "putJob" | "shaJobs" | "staleJobs"
  | "queueHudRow" | "pendingHudRows" | "removeHudRows" | "rejectHudRows" | "hudQueueStats"
  | "addCallbackOutcomes" | "callbackOutcomes"
  | "getInstallation" | "setInstallation" | "dropInstallation" | "listInstallations";

export function tableMethods(sql: Sql): Pick<StoreTx, TableMethods> {
  return {
    async getJob(key) {
      const row = await sql.row<{ job: StoredJob }>(
        `SELECT job_json AS job FROM jobs WHERE delivery_id = $1 AND downstream_repo_key = $2
           AND run_id = $3 AND run_attempt = $4 AND job_name = $5`,
        [key.deliveryId, repoKey(key.downstreamRepo), key.runId, key.runAttempt, key.jobName],
      );
      return row?.job;
    },

    async putJob(job, hudRow, now) {
      // status, started_at and pr_number are generated from job_json (migration 1).
      await sql.run(
        `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key,
           backend_name, head_sha, job_json, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
         ON CONFLICT (delivery_id, downstream_repo_key, run_id, run_attempt, job_name) DO UPDATE SET
           job_json = excluded.job_json, updated_at = excluded.updated_at`,
        [job.deliveryId, repoKey(job.downstreamRepo), job.runId, job.runAttempt, job.jobName, repoKey(job.upstreamRepo),
          job.backendName, job.headSha, JSON.stringify(job), job.updatedAt],
      );
      if (hudRow) await queueHudRow(sql, "results", hudRow, now);
    },

    async shaJobs(upstreamRepo, headSha) {
      const rows = await sql.rows<{ job: StoredJob }>(
        "SELECT job_json AS job FROM jobs WHERE upstream_repo_key = $1 AND head_sha = $2 ORDER BY seq",
        [repoKey(upstreamRepo), headSha],
      );
      return rows.map((row) => row.job);
    },

    async staleJobs(before, limit) {
      const rows = await sql.rows<{ job: StoredJob }>(
        "SELECT job_json AS job FROM jobs WHERE status = 'in_progress' AND started_at < $1 ORDER BY updated_at LIMIT $2",
        [before, limit],
      );
      return rows.map((row) => row.job);
    },

    async queueHudRow(target, row, now) {
      await queueHudRow(sql, target, row, now);
    },

    async pendingHudRows<T extends HudTarget = HudTarget>(limit: number, targets?: readonly T[]) {
      // Per target (each drainer reads its own): one range of hud_rows_pending_by_target, however long the others' queues.
      const rows: QueuedHudRow<T>[] = [];
      const wanted: readonly HudTarget[] = targets ?? HUD_TARGETS;
      for (const target of wanted) {
        rows.push(
          ...(await sql.rows<QueuedHudRow<T>>(
            "SELECT id, target, row_json AS row FROM hud_rows WHERE rejected_at IS NULL AND target = $1 ORDER BY id LIMIT $2",
            [target, limit],
          )),
        );
      }
      return oldestFirst(rows, limit);
    },

    async removeHudRows(ids) {
      if (ids.length > 0) await sql.run("DELETE FROM hud_rows WHERE id = ANY($1::bigint[])", [[...ids]]);
    },

    async rejectHudRows(ids, error, now) {
      if (ids.length > 0) await sql.run("UPDATE hud_rows SET rejected_at = $1, error = $2 WHERE id = ANY($3::bigint[])", [now, error, [...ids]]);
    },

    async hudQueueStats(targets = HUD_TARGETS) {
      const parts: TargetQueueStats[] = [];
      for (const target of targets) {
        // Each part reads one partial index: cheap even with a large backlog (rows are queued in id order).
        const part = await sql.row<TargetQueueStats>(
          `SELECT (SELECT count(*) FROM hud_rows WHERE rejected_at IS NULL AND target = $1) AS pending,
                  (SELECT id FROM hud_rows WHERE rejected_at IS NULL AND target = $1 ORDER BY id LIMIT 1) AS "oldestId",
                  (SELECT created_at FROM hud_rows WHERE rejected_at IS NULL AND target = $1 ORDER BY id LIMIT 1) AS "oldestPendingAt",
                  (SELECT count(*) FROM hud_rows WHERE rejected_at IS NOT NULL AND target = $1) AS rejected`,
          [target],
        );
        parts.push(part!);
      }
      return combinedQueueStats(parts);
    },

    async addCallbackOutcomes(counts, keepFrom) {
      // In one key order, so two replicas adding the same rows at once wait for each other, never deadlock.
      const key = (count: (typeof counts)[number]) => JSON.stringify([count.day, count.repo, count.outcome]);
      const ordered = [...counts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      for (const count of ordered) {
        await sql.run(
          `INSERT INTO callback_outcomes AS c (day, repo, outcome, count) VALUES ($1, $2, $3, $4)
           ON CONFLICT (day, repo, outcome) DO UPDATE SET count = c.count + excluded.count`,
          [count.day, count.repo, count.outcome, count.count],
        );
      }
      await sql.run("DELETE FROM callback_outcomes WHERE day < $1", [keepFrom]);
    },

    async callbackOutcomes(fromDay) {
      return sql.rows("SELECT repo, day, outcome, count FROM callback_outcomes WHERE day >= $1 ORDER BY day, repo, outcome", [fromDay]);
    },

    async getInstallation(repo) {
      const row = await sql.row<Row<InstallationRecord>>(`SELECT ${INSTALLATION_COLUMNS} FROM installations WHERE repo_key = $1`, [repoKey(repo)]);
      return row && fromRow<InstallationRecord>(row);
    },

    async setInstallation(repo, installationId, now) {
      await sql.run(
        `INSERT INTO installations (repo_key, repo, installation_id, checked_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (repo_key) DO UPDATE SET
           repo = excluded.repo, installation_id = excluded.installation_id, checked_at = excluded.checked_at`,
        [repoKey(repo), repo, installationId ?? null, now],
      );
    },

    async dropInstallation(installationId, now) {
      await sql.run("UPDATE installations SET installation_id = NULL, checked_at = $1 WHERE installation_id = $2", [now, installationId]);
    },

    async listInstallations() {
      const rows = await sql.rows<Row<InstallationRecord>>(`SELECT ${INSTALLATION_COLUMNS} FROM installations ORDER BY repo_key`);
      return rows.map((row) => fromRow<InstallationRecord>(row));
    },
  };
}
