// The SQLite store's tables, read and written synchronously (better-sqlite3): what src/store/sqlite-store.ts
// serves behind the asynchronous Store interface. WAL with synchronous=FULL: a transaction is on disk when
// its commit returns, which is what lets a webhook be acknowledged right after its transaction resolves.
import type Database from "better-sqlite3";
import { fromRow, toTask, type LogChange, type Row, type TaskRow, type TransitionedTask } from "../rows.js";
import { migrate } from "../migrations.js";
import { SqliteFacts } from "./facts.js";
import type { HeadFacts } from "../../domain/heads.js";
import type { LatestAttempt } from "../../domain/jobs.js";
import type { CallbackOutcomeCount } from "../../domain/callback-audit.js";
import type {
  AcceptedWork,
  BackendHeadKey,
  CheckRunRecord,
  HeadKey,
  StoredBackendHead,
  DeliveryRecord,
  HudQueueStats,
  HudTarget,
  InstallationRecord,
  OutboxStats,
  OutboxTask,
  OutboxTaskInput,
  PrunedRows,
  QueuedHudRow,
  RenderedKind,
  RetentionPolicy,
  StoreTx,
  Synchronous,
  TaskExclusion,
  TrunkJobKey,
} from "../store.js";
import { HUD_TARGETS, isRenderedKind, REDELIVERY_WINDOW_MS } from "../store.js";
import { combinedQueueStats, oldestFirst, type TargetQueueStats } from "../hud-queue.js";
import type { TrunkJobResult } from "../../domain/trunk-baseline.js";
import type { DispatchLogEntry, UnreportedReason } from "../../domain/dispatches.js";
import type { JobKey, StoredJob } from "../../domain/jobs.js";

/** Freed pages handed back to the file system per prune run (8 MiB at SQLite's default 4 KiB page size). */
const VACUUM_PAGES_PER_PRUNE = 2048;


const TASK_COLUMNS = `id, key, kind, repo, version, installation_id AS installationId, request_json AS requestJson,
  CASE WHEN json_valid(request_json) THEN coalesce(json_type(request_json, '$.route') = 'text'
    AND length(json_extract(request_json, '$.route')) > 0 AND json_type(request_json, '$.params') = 'object', 0)
    ELSE 0 END AS readable,
  dispatch_delivery_id AS dispatchDeliveryId, dispatch_repo AS dispatchRepo, attempts,
  created_at AS createdAt, next_attempt_at AS nextAttemptAt, last_error AS lastError`;
const LOG_COLUMNS = `delivery_id AS deliveryId, downstream_repo AS downstreamRepo, upstream_repo AS upstreamRepo,
  event, action, pr_number AS prNumber, head_sha AS headSha, backend_name AS backendName, level, outcome,
  reason, attempts, created_at AS createdAt, sent_at AS sentAt, title, author`;
const INSTALLATION_COLUMNS = "repo, installation_id AS installationId, checked_at AS checkedAt";
// Exclusion lists arrive as JSON arrays, so the statement is prepared once whatever their length.
// A task without an installation id belongs to its repo's recorded installation (0: none recorded).
const PENDING_NOT_EXCLUDED = `status = 'pending' AND id NOT IN (SELECT value FROM json_each(@excludeIds))
  AND coalesce(installation_id, (SELECT i.installation_id FROM installations i WHERE i.repo_key = lower(outbox.repo)), 0)
    NOT IN (SELECT value FROM json_each(@excludeInstallations))`;
// RETURNING gives the post-update row; the status guard makes every transition a no-op on a finished task.
const TRANSITIONED = `WHERE id = @id AND status = 'pending'
  RETURNING key, kind, attempts, dispatch_delivery_id AS dispatchDeliveryId, dispatch_repo AS dispatchRepo`;

function prepareStatements(db: Database.Database) {
  return {
    deliveryHash: db.prepare<[string], string>("SELECT payload_hash FROM deliveries WHERE id = ?").pluck(),
    hasDelivery: db.prepare<[string], number>("SELECT 1 FROM deliveries WHERE id = ?").pluck(),
    deliveryWithPayload: db.prepare<[string, string, number], string>(
      "SELECT id FROM deliveries WHERE payload_hash = ? AND id <> ? AND accepted_at >= ? LIMIT 1",
    ).pluck(),
    // A new payload under a known id is processed (tasks still deduplicate by key); remember its hash.
    upsertDelivery: db.prepare<[DeliveryRecord & { now: number }]>(
      `INSERT INTO deliveries (id, event, payload_hash, accepted_at) VALUES (@id, @event, @payloadHash, @now)
       ON CONFLICT (id) DO UPDATE SET event = excluded.event, payload_hash = excluded.payload_hash`,
    ),
    insertTask: db.prepare<[ReturnType<typeof taskParams>]>(
      `INSERT INTO outbox (key, kind, repo, installation_id, request_json, dispatch_delivery_id, dispatch_repo,
         status, attempts, created_at, next_attempt_at)
       VALUES (@key, @kind, @repo, @installationId, @requestJson, @dispatchDeliveryId, @dispatchRepo,
         'pending', 0, @now, @now)
       ON CONFLICT DO NOTHING`,
    ),
    insertLog: db.prepare<[ReturnType<typeof logParams>]>(
      `INSERT INTO dispatch_log (delivery_id, downstream_repo_key, downstream_repo, upstream_repo, event, action,
         pr_number, head_sha, backend_name, level, outcome, reason, attempts, created_at, sent_at, title, author)
       VALUES (@deliveryId, @downstreamRepoKey, @downstreamRepo, @upstreamRepo, @event, @action,
         @prNumber, @headSha, @backendName, @level, @outcome, @reason, @attempts, @createdAt, @sentAt, @title, @author)
       ON CONFLICT (delivery_id, downstream_repo_key) DO NOTHING`,
    ),
    dueTasks: db.prepare<[ExclusionParams & { now: number; limit: number }], TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM outbox WHERE ${PENDING_NOT_EXCLUDED} AND next_attempt_at <= @now
         AND coalesce(lease_until, 0) <= @now
       ORDER BY next_attempt_at, id LIMIT @limit`,
    ),
    nextDueAt: db.prepare<[ExclusionParams], number | null>(
      `SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE ${PENDING_NOT_EXCLUDED}`,
    ).pluck(),
    claimTasks: db.prepare<[{ ids: string; owner: string; now: number; until: number }], number>(
      `UPDATE outbox SET lease_owner = @owner, lease_until = @until
       WHERE id IN (SELECT value FROM json_each(@ids)) AND status = 'pending'
         AND (coalesce(lease_until, 0) <= @now OR lease_owner = @owner)
       RETURNING id`,
    ).pluck(),
    claimOwners: db.prepare<[], string>(
      "SELECT DISTINCT lease_owner FROM outbox WHERE status = 'pending' AND lease_owner IS NOT NULL ORDER BY lease_owner",
    ).pluck(),
    releaseClaims: db.prepare<[string]>(
      "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_owner = ?",
    ),
    releaseTaskClaims: db.prepare<[{ owner: string; ids: string }]>(
      `UPDATE outbox SET lease_owner = NULL, lease_until = NULL
       WHERE id IN (SELECT value FROM json_each(@ids)) AND status = 'pending' AND lease_owner = @owner`,
    ),
    deferTask: db.prepare<[{ id: number; at: number }]>(
      "UPDATE outbox SET next_attempt_at = @at, lease_owner = NULL, lease_until = NULL WHERE id = @id AND status = 'pending'",
    ),
    // A version that moved on while the request was on the wire keeps the task pending for the newer state.
    markSent: db.prepare<[{ id: number; at: number; resultId: number | null; version: number | null }], TransitionedTask>(
      `UPDATE outbox SET
         status = CASE WHEN @version IS NULL OR version = @version THEN 'sent' ELSE 'pending' END,
         finished_at = CASE WHEN @version IS NULL OR version = @version THEN @at ELSE NULL END,
         next_attempt_at = CASE WHEN @version IS NULL OR version = @version THEN @at ELSE next_attempt_at END,
         attempts = attempts + 1, result_id = coalesce(@resultId, result_id), lease_owner = NULL, lease_until = NULL ${TRANSITIONED}`,
    ),
    syncCheckRun: db.prepare<[ReturnType<typeof taskParams>]>(
      `INSERT INTO outbox (key, kind, repo, installation_id, request_json, status, attempts, created_at, next_attempt_at)
       VALUES (@key, @kind, @repo, @installationId, @requestJson, 'pending', 0, @now, @notBefore)
       ON CONFLICT (key) DO UPDATE SET
         request_json = excluded.request_json,
         version = version + 1,
         created_at = CASE WHEN status = 'pending' THEN created_at ELSE excluded.created_at END,
         -- A task still waiting keeps the sooner of the two send times (unless it waits out a failure's
         -- backoff); one already due or on the wire gets the new state's own send time.
         next_attempt_at = CASE
           WHEN status = 'pending' AND last_error IS NOT NULL THEN next_attempt_at
           WHEN status = 'pending' AND next_attempt_at > excluded.created_at THEN min(next_attempt_at, excluded.next_attempt_at)
           ELSE excluded.next_attempt_at END,
         status = 'pending', finished_at = NULL, last_error = NULL`,
    ),
    taskByKey: db.prepare<[string], TaskRow>(`SELECT ${TASK_COLUMNS} FROM outbox WHERE key = ?`),
    dispatchSentAt: db.prepare<[string, string], number | null>(
      "SELECT sent_at FROM dispatch_log WHERE delivery_id = ? AND downstream_repo_key = ?",
    ).pluck(),
    getJob: db.prepare<[{ deliveryId: string; repoKey: string; runId: number; runAttempt: number; jobName: string }], string>(
      `SELECT job_json FROM jobs WHERE delivery_id = @deliveryId AND downstream_repo_key = @repoKey
         AND run_id = @runId AND run_attempt = @runAttempt AND job_name = @jobName`,
    ).pluck(),
    shaJobs: db.prepare<[string, string], string>(
      "SELECT job_json FROM jobs WHERE upstream_repo_key = ? AND head_sha = ? ORDER BY rowid",
    ).pluck(),
    upsertJob: db.prepare<[Record<string, string | number>]>(
      `INSERT INTO jobs (delivery_id, downstream_repo_key, run_id, run_attempt, job_name, upstream_repo_key,
         backend_name, head_sha, job_json, updated_at)
       VALUES (@deliveryId, @repoKey, @runId, @runAttempt, @jobName, @upstreamRepoKey, @backendName, @headSha,
         @jobJson, @updatedAt)
       ON CONFLICT (delivery_id, downstream_repo_key, run_id, run_attempt, job_name) DO UPDATE SET
         job_json = excluded.job_json, updated_at = excluded.updated_at`,
    ),
    staleJobs: db.prepare<[number, number], string>(
      "SELECT job_json FROM jobs WHERE status = 'in_progress' AND started_at < ? ORDER BY updated_at LIMIT ?",
    ).pluck(),
    unreportedDispatches: db.prepare<[number, number], Row<DispatchLogEntry>>(
      `SELECT ${LOG_COLUMNS} FROM dispatch_log d WHERE d.outcome = 'sent' AND d.sent_at < ? AND d.reason IS NULL
         AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.upstream_repo_key = lower(d.upstream_repo) AND h.head_sha = d.head_sha
           AND h.state <> 'open')
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.delivery_id = d.delivery_id AND j.downstream_repo_key = d.downstream_repo_key)
       ORDER BY d.sent_at LIMIT ?`,
    ),
    markUnreported: db.prepare<[UnreportedReason, string, string]>(
      "UPDATE dispatch_log SET reason = ? WHERE delivery_id = ? AND downstream_repo_key = ?",
    ),
    insertHudRow: db.prepare<[HudTarget, string, number]>("INSERT INTO hud_rows (target, row_json, created_at) VALUES (?, ?, ?)"),
    // Each snapshot of a dispatch-log row gets a larger version than the last, even within one millisecond.
    bumpLogVersion: db.prepare<[{ now: number; deliveryId: string; repoKey: string }], Row<DispatchLogEntry> & { hudVersion: number }>(
      `UPDATE dispatch_log SET hud_version = max(hud_version + 1, @now)
       WHERE delivery_id = @deliveryId AND downstream_repo_key = @repoKey RETURNING ${LOG_COLUMNS}, hud_version AS hudVersion`,
    ),
    // Per target (each drainer reads its own): one range of hud_rows_pending_by_target, however long the others' queues.
    pendingHudRows: db.prepare<[HudTarget, number], { id: number; target: HudTarget; rowJson: string }>(
      "SELECT id, target, row_json AS rowJson FROM hud_rows WHERE rejected_at IS NULL AND target = ? ORDER BY id LIMIT ?",
    ),
    removeHudRows: db.prepare<[string]>("DELETE FROM hud_rows WHERE id IN (SELECT value FROM json_each(?))"),
    rejectHudRows: db.prepare<[number, string, string]>(
      "UPDATE hud_rows SET rejected_at = ?, error = ? WHERE id IN (SELECT value FROM json_each(?))",
    ),
    hudQueueStats: db.prepare<[{ target: HudTarget }], TargetQueueStats>(
      // Each part reads one partial index: cheap even with a large backlog (rows are queued in id order).
      `SELECT (SELECT count(*) FROM hud_rows WHERE rejected_at IS NULL AND target = @target) AS pending,
              (SELECT id FROM hud_rows WHERE rejected_at IS NULL AND target = @target ORDER BY id LIMIT 1) AS oldestId,
              (SELECT created_at FROM hud_rows WHERE rejected_at IS NULL AND target = @target ORDER BY id LIMIT 1) AS oldestPendingAt,
              (SELECT count(*) FROM hud_rows WHERE rejected_at IS NOT NULL AND target = @target) AS rejected`,
    ),
    scheduleRetry: db.prepare<[{ id: number; at: number; error: string }], TransitionedTask>(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = @at, last_error = @error, lease_owner = NULL, lease_until = NULL
       ${TRANSITIONED}`,
    ),
    markFailed: db.prepare<[{ id: number; at: number; reason: string; status: "failed" | "dead" }], TransitionedTask>(
      `UPDATE outbox SET status = @status, attempts = attempts + 1, finished_at = @at, last_error = @reason,
         lease_owner = NULL, lease_until = NULL ${TRANSITIONED}`,
    ),
    updateLog: db.prepare<[LogChange & { attempts: number; deliveryId: string; downstreamRepoKey: string }]>(
      `UPDATE dispatch_log SET outcome = @outcome, reason = @reason, attempts = @attempts, sent_at = @sentAt
       WHERE delivery_id = @deliveryId AND downstream_repo_key = @downstreamRepoKey`,
    ),
    outboxStats: db.prepare<[], Row<OutboxStats>>(
      `SELECT (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending,
              (SELECT min(created_at) FROM outbox WHERE status = 'pending') AS oldestPendingAt,
              (SELECT count(*) FROM outbox WHERE status = 'dead') AS dead`,
    ),
    dispatchLog: db.prepare<[string], Row<DispatchLogEntry>>(
      `SELECT ${LOG_COLUMNS} FROM dispatch_log WHERE delivery_id = ? ORDER BY rowid`,
    ),
    addCallbackOutcome: db.prepare<[CallbackOutcomeCount]>(
      `INSERT INTO callback_outcomes (day, repo, outcome, count) VALUES (@day, @repo, @outcome, @count)
       ON CONFLICT (day, repo, outcome) DO UPDATE SET count = count + excluded.count`,
    ),
    pruneCallbackOutcomes: db.prepare<[string]>("DELETE FROM callback_outcomes WHERE day < ?"),
    callbackOutcomes: db.prepare<[string], CallbackOutcomeCount>(
      "SELECT repo, day, outcome, count FROM callback_outcomes WHERE day >= ? ORDER BY day, repo, outcome",
    ),
    getInstallation: db.prepare<[string], Row<InstallationRecord>>(
      `SELECT ${INSTALLATION_COLUMNS} FROM installations WHERE repo_key = ?`,
    ),
    setInstallation: db.prepare<[{ repoKey: string; repo: string; installationId: number | null; now: number }]>(
      `INSERT INTO installations (repo_key, repo, installation_id, checked_at) VALUES (@repoKey, @repo, @installationId, @now)
       ON CONFLICT (repo_key) DO UPDATE SET
         repo = excluded.repo, installation_id = excluded.installation_id, checked_at = excluded.checked_at`,
    ),
    dropInstallation: db.prepare<[number, number]>(
      "UPDATE installations SET installation_id = NULL, checked_at = ? WHERE installation_id = ?",
    ),
    listInstallations: db.prepare<[], Row<InstallationRecord>>(
      `SELECT ${INSTALLATION_COLUMNS} FROM installations ORDER BY repo_key`,
    ),
  };
}

/**
 * Retention, one bounded DELETE per table (docs/dispatch.md, "Storage and retention"). `cutoff`: settled
 * before it is past retention; `exportedBefore`: a row last changed before the oldest HUD row still queued
 * is in ClickHouse. A head settles when it is superseded or its PR closes; its rows go first and its heads
 * row last (while it exists, the head's facts are whole). Push heads and self-reports, which have no head
 * row, go by age. Dispatch-log rows go before their jobs and deliveries (foreign key).
 */
function preparePruneStatements(db: Database.Database) {
  type Params = { cutoff: number; exportedBefore: number; deliveriesBefore: number; limit: number };
  const prune = (sql: string) => db.prepare<[Params]>(sql);
  // CROSS JOIN keeps heads the outer table: old settled heads are found by age (heads_settled), their rows by index.
  const settledHeads = "heads h WHERE h.state <> 'open' AND h.state_changed_at < @cutoff";
  const ofSettledHead = (table: string, alias: string, extra = "") =>
    `DELETE FROM ${table} WHERE rowid IN (SELECT ${alias}.rowid FROM heads h CROSS JOIN ${table} ${alias}
       ON ${alias}.upstream_repo_key = h.upstream_repo_key AND ${alias}.head_sha = h.head_sha
     WHERE h.state <> 'open' AND h.state_changed_at < @cutoff ${extra} LIMIT @limit)`;
  return {
    exportedBefore: db.prepare<[number], number>(
      "SELECT coalesce((SELECT created_at FROM hud_rows WHERE rejected_at IS NULL ORDER BY id LIMIT 1), ?)",
    ).pluck(),
    // Settled tasks of any kind: a check run's GitHub id lives in check_runs, not in its task.
    outbox: prune(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status <> 'pending' AND finished_at < @cutoff LIMIT @limit)`,
    ),
    dispatch_log: prune(
      `DELETE FROM dispatch_log WHERE rowid IN (
         SELECT d.rowid FROM heads h CROSS JOIN dispatch_log d ON d.head_sha = h.head_sha AND lower(d.upstream_repo) = h.upstream_repo_key
         WHERE h.state <> 'open' AND h.state_changed_at < @cutoff AND d.outcome <> 'pending' AND d.hud_version < @exportedBefore
         UNION ALL
         SELECT rowid FROM dispatch_log WHERE event = 'push' AND created_at < @cutoff AND outcome <> 'pending'
           AND hud_version < @exportedBefore
         LIMIT @limit)`,
    ),
    // A push's jobs only once its dispatch-log row is gone: the sweeper would take a sent dispatch
    // without jobs for one that never reported.
    jobs: prune(
      `DELETE FROM jobs WHERE rowid IN (
         SELECT j.rowid FROM heads h CROSS JOIN jobs j ON j.upstream_repo_key = h.upstream_repo_key AND j.head_sha = h.head_sha
         WHERE h.state <> 'open' AND h.state_changed_at < @cutoff AND j.status = 'completed' AND j.updated_at < @exportedBefore
         UNION ALL
         SELECT j.rowid FROM jobs j WHERE j.pr_number IS NULL AND j.updated_at < @cutoff AND j.status = 'completed'
           AND j.updated_at < @exportedBefore
           AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.delivery_id = j.delivery_id AND d.downstream_repo_key = j.downstream_repo_key)
         LIMIT @limit)`,
    ),
    job_latest: prune(ofSettledHead("job_latest", "l")),
    // Not while a write of it is still queued: the worker needs its id to update it.
    check_runs: prune(ofSettledHead("check_runs", "c", "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key = c.key AND o.status = 'pending')")),
    backend_heads: prune(ofSettledHead("backend_heads", "b")),
    tracked_runs: prune("DELETE FROM tracked_runs WHERE rowid IN (SELECT rowid FROM tracked_runs WHERE tracked_at < @cutoff LIMIT @limit)"),
    trunk_results: prune("DELETE FROM trunk_results WHERE rowid IN (SELECT rowid FROM trunk_results WHERE updated_at < @cutoff LIMIT @limit)"),
    heads: prune(
      `DELETE FROM heads WHERE rowid IN (SELECT h.rowid FROM ${settledHeads}
         AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.head_sha = h.head_sha AND lower(d.upstream_repo) = h.upstream_repo_key)
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.upstream_repo_key = h.upstream_repo_key AND j.head_sha = h.head_sha)
         AND NOT EXISTS (SELECT 1 FROM job_latest l WHERE l.upstream_repo_key = h.upstream_repo_key AND l.head_sha = h.head_sha)
         AND NOT EXISTS (SELECT 1 FROM check_runs c WHERE c.upstream_repo_key = h.upstream_repo_key AND c.head_sha = h.head_sha)
         AND NOT EXISTS (SELECT 1 FROM backend_heads b WHERE b.upstream_repo_key = h.upstream_repo_key AND b.head_sha = h.head_sha)
       LIMIT @limit)`,
    ),
    deliveries: prune(
      `DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries WHERE accepted_at < @deliveriesBefore
         AND NOT EXISTS (SELECT 1 FROM dispatch_log d WHERE d.delivery_id = deliveries.id) LIMIT @limit)`,
    ),
  };
}

interface ExclusionParams {
  excludeIds: string;
  excludeInstallations: string;
}

function exclusionParams(exclude: TaskExclusion = {}): ExclusionParams {
  return {
    excludeIds: JSON.stringify(exclude.excludeIds ?? []),
    excludeInstallations: JSON.stringify(exclude.excludeInstallations ?? []),
  };
}

function repoKey(repo: string): string {
  return repo.toLowerCase();
}


function taskParams(task: OutboxTaskInput, now: number) {
  const { route, params } = task.request;
  return {
    key: task.key,
    kind: task.kind,
    repo: task.repo,
    installationId: task.installationId ?? null,
    requestJson: JSON.stringify({ route, params }),
    dispatchDeliveryId: task.dispatch?.deliveryId ?? null,
    dispatchRepo: task.dispatch?.downstreamRepo ?? null,
    now,
    notBefore: Math.max(now, task.notBefore ?? now),
  };
}

function logParams(entry: DispatchLogEntry) {
  return {
    ...entry,
    downstreamRepoKey: repoKey(entry.downstreamRepo),
    action: entry.action ?? null,
    prNumber: entry.prNumber ?? null,
    reason: entry.reason ?? null,
    sentAt: entry.sentAt ?? null,
    title: entry.title ?? null,
    author: entry.author ?? null,
  };
}

export class SqliteTables implements Synchronous<StoreTx> {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof prepareStatements>;
  readonly #pruneSql: ReturnType<typeof preparePruneStatements>;
  readonly #transaction: Database.Transaction<(work: () => unknown) => unknown>;
  readonly #facts: SqliteFacts;

  /** Takes ownership of `db`: configures it, brings its schema up to date, and closes it in close(). */
  constructor(db: Database.Database) {
    // Takes effect on a new database only; an existing one switches with a one-time VACUUM (docs/dispatch.md).
    db.pragma("auto_vacuum = INCREMENTAL");
    db.pragma("busy_timeout = 5000");
    db.pragma("journal_mode = WAL");
    // NORMAL may lose the last commits on power loss; acknowledged webhooks must not be lost.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    migrate(db, Date.now());
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#pruneSql = preparePruneStatements(db);
    this.#facts = new SqliteFacts(db);
    this.#transaction = db.transaction((work: () => unknown) => work());
  }

  /** IMMEDIATE takes the write lock up front: a read-then-write deferred transaction can fail with SQLITE_BUSY. */
  #write<T>(work: () => T): T {
    return this.#transaction.immediate(work) as T;
  }

  acceptDelivery(delivery: DeliveryRecord, work: AcceptedWork, now: number): "accepted" | "duplicate" {
    return this.#write(() => {
      if (this.#sql.deliveryHash.get(delivery.id) === delivery.payloadHash) return "duplicate";
      this.#sql.upsertDelivery.run({ id: delivery.id, event: delivery.event, payloadHash: delivery.payloadHash, now });
      for (const task of work.tasks) this.#sql.insertTask.run(taskParams(task, now));
      for (const entry of work.log) {
        if (this.#sql.insertLog.run(logParams(entry)).changes > 0) this.#queueDispatchSnapshot(entry.deliveryId, entry.downstreamRepo, now);
      }
      return "accepted";
    });
  }

  hasDelivery(id: string): boolean {
    return this.#sql.hasDelivery.get(id) !== undefined;
  }

  rememberDelivery(delivery: DeliveryRecord, now: number): void {
    this.#sql.upsertDelivery.run({ ...delivery, now });
  }

  deliveryWithPayload(payloadHash: string, exceptId: string, since: number): string | undefined {
    return this.#sql.deliveryWithPayload.get(payloadHash, exceptId, since);
  }

  dueTasks(now: number, limit: number, exclude?: TaskExclusion): OutboxTask[] {
    const tasks: OutboxTask[] = [];
    for (const row of this.#sql.dueTasks.all({ now, limit, ...exclusionParams(exclude) })) {
      const task = toTask(row);
      if (task) tasks.push(task);
      // It can never be sent: dead-letter it rather than wedge the queue or drop it silently.
      else this.markFailed(row.id, { at: now, reason: "unreadable_request", outcome: "dead" });
    }
    return tasks;
  }

  nextDueAt(exclude?: TaskExclusion): number | undefined {
    return this.#sql.nextDueAt.get(exclusionParams(exclude)) ?? undefined;
  }

  claimTasks(ids: readonly number[], owner: string, now: number, leaseMs: number): number[] {
    if (ids.length === 0) return [];
    return this.#sql.claimTasks.all({ ids: JSON.stringify(ids), owner, now, until: now + leaseMs });
  }

  claimOwners(): string[] {
    return this.#sql.claimOwners.all();
  }

  releaseClaims(owner: string, taskIds?: readonly number[]): number {
    if (taskIds === undefined) return this.#sql.releaseClaims.run(owner).changes;
    return taskIds.length === 0 ? 0 : this.#sql.releaseTaskClaims.run({ owner, ids: JSON.stringify(taskIds) }).changes;
  }

  deferTask(taskId: number, at: number): void {
    this.#sql.deferTask.run({ id: taskId, at });
  }

  markSent(taskId: number, result: { at: number; resultId?: number; version?: number }): void {
    const params = { id: taskId, at: result.at, resultId: result.resultId ?? null, version: result.version ?? null };
    this.#advance(
      () => {
        const task = this.#sql.markSent.get(params);
        if (task && isRenderedKind(task.kind) && result.resultId !== undefined) this.#facts.setCheckRunId(task.key, result.resultId);
        return task;
      },
      { outcome: "sent", reason: null, sentAt: result.at },
      result.at,
    );
  }

  scheduleRetry(taskId: number, retry: { at: number; error: string }): void {
    this.#advance(() => this.#sql.scheduleRetry.get({ id: taskId, ...retry }), {
      outcome: "pending",
      reason: null,
      sentAt: null,
    });
  }

  markFailed(taskId: number, failure: { at: number; reason: string; outcome: "failed" | "dead" }): void {
    const { at, reason, outcome } = failure;
    this.#advance(() => this.#sql.markFailed.get({ id: taskId, at, reason, status: outcome }), { outcome, reason, sentAt: null }, at);
  }

  /**
   * Runs a task transition and mirrors it into the task's dispatch-log row, atomically. A final outcome
   * (`finishedAt`) is also queued for the HUD; a retry is not (the final snapshot carries the attempts).
   */
  #advance(transition: () => TransitionedTask | undefined, change: LogChange, finishedAt?: number): void {
    this.#write(() => {
      const task = transition();
      if (!task || task.dispatchDeliveryId === null || task.dispatchRepo === null) return;
      this.#sql.updateLog.run({
        ...change,
        attempts: task.attempts,
        deliveryId: task.dispatchDeliveryId,
        downstreamRepoKey: repoKey(task.dispatchRepo),
      });
      if (finishedAt !== undefined) this.#queueDispatchSnapshot(task.dispatchDeliveryId, task.dispatchRepo, finishedAt);
    });
  }

  /** Queues the dispatch-log row's current state for the HUD (inside the caller's transaction). */
  #queueDispatchSnapshot(deliveryId: string, downstreamRepo: string, now: number): void {
    const row = this.#sql.bumpLogVersion.get({ now, deliveryId, repoKey: repoKey(downstreamRepo) });
    if (row) this.#sql.insertHudRow.run("dispatches", JSON.stringify(fromRow(row)), now);
  }

  outboxStats(): OutboxStats {
    return fromRow<OutboxStats>(this.#sql.outboxStats.get()!);
  }

  dispatchLog(deliveryId: string): DispatchLogEntry[] {
    return this.#sql.dispatchLog.all(deliveryId).map((row) => fromRow<DispatchLogEntry>(row));
  }

  checkRunId(key: string): number | undefined {
    return this.#facts.checkRun(key)?.githubId;
  }

  taskByKey(key: string): OutboxTask | undefined {
    const row = this.#sql.taskByKey.get(key);
    return row && toTask(row);
  }

  dispatchSentAt(deliveryId: string, downstreamRepo: string): number | undefined {
    return this.#sql.dispatchSentAt.get(deliveryId, repoKey(downstreamRepo)) ?? undefined;
  }

  getJob(key: JobKey): StoredJob | undefined {
    const json = this.#sql.getJob.get({ ...key, repoKey: repoKey(key.downstreamRepo) });
    return json === undefined ? undefined : (JSON.parse(json) as StoredJob);
  }

  shaJobs(upstreamRepo: string, headSha: string): StoredJob[] {
    return this.#sql.shaJobs.all(repoKey(upstreamRepo), headSha).map((json) => JSON.parse(json) as StoredJob);
  }

  putJob(job: StoredJob, hudRow: Record<string, unknown> | undefined, now: number): void {
    this.#write(() => {
      this.#sql.upsertJob.run({
        deliveryId: job.deliveryId,
        repoKey: repoKey(job.downstreamRepo),
        runId: job.runId,
        runAttempt: job.runAttempt,
        jobName: job.jobName,
        upstreamRepoKey: repoKey(job.upstreamRepo),
        backendName: job.backendName,
        headSha: job.headSha,
        jobJson: JSON.stringify(job),
        updatedAt: job.updatedAt,
      });
      if (hudRow) this.#sql.insertHudRow.run("results", JSON.stringify(hudRow), now);
    });
  }

  staleJobs(before: number, limit: number): StoredJob[] {
    return this.#sql.staleJobs.all(before, limit).map((json) => JSON.parse(json) as StoredJob);
  }

  unreportedDispatches(sentBefore: number, limit: number): DispatchLogEntry[] {
    return this.#sql.unreportedDispatches.all(sentBefore, limit).map((row) => fromRow<DispatchLogEntry>(row));
  }

  markUnreported(deliveryId: string, downstreamRepo: string, reason: UnreportedReason, now: number): void {
    this.#write(() => {
      this.#sql.markUnreported.run(reason, deliveryId, repoKey(downstreamRepo));
      this.#queueDispatchSnapshot(deliveryId, downstreamRepo, now);
    });
  }

  queueHudRow(target: HudTarget, row: Record<string, unknown>, now: number): void {
    this.#write(() => this.#sql.insertHudRow.run(target, JSON.stringify(row), now));
  }

  pendingHudRows<T extends HudTarget = HudTarget>(limit: number, targets?: readonly T[]): QueuedHudRow<T>[] {
    const wanted: readonly HudTarget[] = targets ?? HUD_TARGETS;
    const rows = oldestFirst(wanted.flatMap((target) => this.#sql.pendingHudRows.all(target, limit)), limit);
    return rows.map(({ id, target, rowJson }) => ({ id, target: target as T, row: JSON.parse(rowJson) as Record<string, unknown> }));
  }

  removeHudRows(ids: readonly number[]): void {
    this.#sql.removeHudRows.run(JSON.stringify(ids));
  }

  rejectHudRows(ids: readonly number[], error: string, now: number): void {
    this.#sql.rejectHudRows.run(now, error, JSON.stringify(ids));
  }

  hudQueueStats(targets: readonly HudTarget[] = HUD_TARGETS): HudQueueStats {
    return combinedQueueStats(targets.map((target) => this.#sql.hudQueueStats.get({ target })!));
  }

  addCallbackOutcomes(counts: readonly CallbackOutcomeCount[], keepFrom: string): void {
    this.#write(() => {
      for (const count of counts) this.#sql.addCallbackOutcome.run(count);
      this.#sql.pruneCallbackOutcomes.run(keepFrom);
    });
  }

  callbackOutcomes(fromDay: string): CallbackOutcomeCount[] {
    return this.#sql.callbackOutcomes.all(fromDay);
  }

  getInstallation(repo: string): InstallationRecord | undefined {
    const row = this.#sql.getInstallation.get(repoKey(repo));
    return row && fromRow<InstallationRecord>(row);
  }

  setInstallation(repo: string, installationId: number | undefined, now: number): void {
    this.#sql.setInstallation.run({ repoKey: repoKey(repo), repo, installationId: installationId ?? null, now });
  }

  dropInstallation(installationId: number, now: number): void {
    this.#sql.dropInstallation.run(now, installationId);
  }

  listInstallations(): InstallationRecord[] {
    return this.#sql.listInstallations.all().map((row) => fromRow<InstallationRecord>(row));
  }

  // The fact tables (src/store/sqlite/facts.ts).
  head(key: HeadKey): HeadFacts | undefined {
    return this.#facts.head(key);
  }

  putHead(head: HeadFacts): void {
    this.#facts.putHead(head);
  }

  openHeadsOfPr(upstreamRepo: string, prNumber: number): HeadFacts[] {
    return this.#facts.openHeadsOfPr(upstreamRepo, prNumber);
  }

  openHeads(after: HeadKey | undefined, limit: number): HeadFacts[] {
    return this.#facts.openHeads(after, limit);
  }

  backendHead(key: BackendHeadKey): StoredBackendHead | undefined {
    return this.#facts.backendHead(key);
  }

  backendHeads(key: HeadKey): StoredBackendHead[] {
    return this.#facts.backendHeads(key);
  }

  backendHeadOfDispatch(deliveryId: string, downstreamRepo: string): StoredBackendHead | undefined {
    return this.#facts.backendHeadOfDispatch(deliveryId, downstreamRepo);
  }

  putBackendHead(facts: StoredBackendHead): void {
    this.#facts.putBackendHead(facts);
  }

  latestAttempt(key: BackendHeadKey, workflowName: string, jobName: string): LatestAttempt | undefined {
    return this.#facts.latestAttempt(key, workflowName, jobName);
  }

  putLatestAttempt(key: BackendHeadKey, attempt: LatestAttempt): void {
    this.#facts.putLatestAttempt(key, attempt);
  }

  clearLatestAttempts(key: BackendHeadKey): void {
    this.#facts.clearLatestAttempts(key);
  }

  listedAttempts(key: BackendHeadKey, limit: number): LatestAttempt[] {
    return this.#facts.listedAttempts(key, limit);
  }

  attemptsBelowSeq(key: BackendHeadKey, below: number): LatestAttempt[] {
    return this.#facts.attemptsBelowSeq(key, below);
  }

  awaitingRuns(before: number, limit: number): Array<{ deliveryId: string; downstreamRepo: string }> {
    return this.#facts.awaitingRuns(before, limit);
  }

  trackRun(downstreamRepo: string, runId: number, deliveryId: string, now: number): void {
    this.#facts.trackRun(downstreamRepo, runId, deliveryId, now);
  }

  trackedRun(downstreamRepo: string, runId: number): string | undefined {
    return this.#facts.trackedRun(downstreamRepo, runId);
  }

  checkRun(key: string): CheckRunRecord | undefined {
    return this.#facts.checkRun(key);
  }

  queueCheckRun(task: OutboxTaskInput & { kind: RenderedKind }, head: HeadKey, desiredHash: string, now: number): void {
    this.#write(() => {
      this.#facts.putCheckRun(task.key, head, desiredHash, now);
      this.#sql.syncCheckRun.run(taskParams(task, now));
    });
  }

  trunkResult(key: TrunkJobKey): TrunkJobResult | undefined {
    return this.#facts.trunkResult(key);
  }

  putTrunkResult(key: TrunkJobKey, result: TrunkJobResult, now: number): void {
    this.#write(() => this.#facts.putTrunkResult(key, result, now));
  }

  prune(now: number, policy: RetentionPolicy): PrunedRows {
    const params = {
      cutoff: now - policy.retentionMs,
      exportedBefore: this.#pruneSql.exportedBefore.get(now)!,
      deliveriesBefore: now - REDELIVERY_WINDOW_MS,
      limit: policy.maxRowsPerTable,
    };
    const sql = this.#pruneSql;
    // In dependency order, each table in its own short transaction so webhooks and callbacks interleave.
    const tables = ["outbox", "dispatch_log", "jobs", "job_latest", "check_runs", "backend_heads", "tracked_runs", "trunk_results", "heads", "deliveries"] as const;
    const pruned = Object.fromEntries(tables.map((table) => [table, this.#write(() => sql[table].run(params).changes)])) as PrunedRows;
    // A no-op unless the database is in incremental auto-vacuum mode.
    this.#db.pragma(`incremental_vacuum(${VACUUM_PAGES_PER_PRUNE})`);
    return pruned;
  }
}
