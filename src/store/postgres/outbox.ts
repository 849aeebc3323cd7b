// Deliveries, the outbox and the dispatch log of the PostgreSQL store: what the webhook path records and
// the outbox worker sends. Every task transition of a dispatch is mirrored into its dispatch-log row, and
// every change of a dispatch-log row queues a snapshot of it for the HUD, in the caller's transaction.
import type { DispatchLogEntry } from "../../domain/dispatches.js";
import type { GitHubRequest } from "../../domain/github-request.js";
import { isRenderedKind, type HudTarget, type OutboxStats, type OutboxTask, type OutboxTaskInput, type StoreTx, type TaskExclusion } from "../store.js";
import { checkRun, putCheckRun, setCheckRunId } from "./facts.js";
import { fromRow, repoKey, toTask, type LogChange, type Row, type TaskRow, type TransitionedTask } from "./rows.js";
import type { Sql } from "./transaction.js";


// The request is read back as text and parsed on first use (toTask): the outbox reads a window of due
// tasks to pick a few, and a dispatch's request (payload and ticket) is most of its row.
const TASK_COLUMNS = `id, key, kind, repo, version, installation_id AS "installationId", request_json::text AS "requestJson",
  coalesce(jsonb_typeof(request_json -> 'route') = 'string' AND length(request_json ->> 'route') > 0
    AND jsonb_typeof(request_json -> 'params') = 'object', false) AS readable,
  dispatch_delivery_id AS "dispatchDeliveryId", dispatch_repo AS "dispatchRepo", attempts,
  created_at AS "createdAt", next_attempt_at AS "nextAttemptAt", last_error AS "lastError"`;
export const LOG_COLUMNS = `delivery_id AS "deliveryId", downstream_repo AS "downstreamRepo", upstream_repo AS "upstreamRepo",
  event, action, pr_number AS "prNumber", head_sha AS "headSha", backend_name AS "backendName", level, outcome,
  reason, attempts, created_at AS "createdAt", sent_at AS "sentAt", title, author`;
// Exclusions as $1 (task ids) and $2 (installations). A task without an installation id belongs to its
// repo's recorded installation (0: none recorded).
const PENDING_NOT_EXCLUDED = `status = 'pending' AND id <> ALL($1::bigint[])
  AND coalesce(installation_id, (SELECT i.installation_id FROM installations i WHERE i.repo_key = lower(outbox.repo)), 0)
    <> ALL($2::bigint[])`;
// RETURNING gives the post-update row; the status guard makes every transition a no-op on a finished task.
const TRANSITIONED = `WHERE id = $1 AND status = 'pending'
  RETURNING key, kind, attempts, dispatch_delivery_id AS "dispatchDeliveryId", dispatch_repo AS "dispatchRepo"`;

function exclusionParams(exclude: TaskExclusion = {}): [number[], number[]] {
  return [[...(exclude.excludeIds ?? [])], [...(exclude.excludeInstallations ?? [])]];
}

function requestJson(request: GitHubRequest): string {
  return JSON.stringify({ route: request.route, params: request.params });
}

/** Queues the dispatch-log row's current state for the HUD, with a version larger than its last one's. */
export async function queueDispatchSnapshot(sql: Sql, deliveryId: string, downstreamRepo: string, now: number): Promise<void> {
  const row = await sql.row<Row<DispatchLogEntry> & { hudVersion: number }>(
    `UPDATE dispatch_log SET hud_version = GREATEST(hud_version + 1, $1::bigint)
     WHERE delivery_id = $2 AND downstream_repo_key = $3 RETURNING ${LOG_COLUMNS}, hud_version AS "hudVersion"`,
    [now, deliveryId, repoKey(downstreamRepo)],
  );
  if (row) await queueHudRow(sql, "dispatches", fromRow(row), now);
}

export async function queueHudRow(sql: Sql, target: HudTarget, row: Record<string, unknown>, now: number): Promise<void> {
  await sql.run("INSERT INTO hud_rows (target, row_json, created_at) VALUES ($1, $2::jsonb, $3)", [target, JSON.stringify(row), now]);
}

type OutboxMethods =
  | "acceptDelivery" | "hasDelivery" | "rememberDelivery" | "deliveryWithPayload"
  | "dueTasks" | "nextDueAt" | "claimTasks" | "claimOwners" | "releaseClaims" | "deferTask" | "markSent" | "scheduleRetry" | "markFailed"
  | "outboxStats" | "dispatchLog" | "checkRunId" | "taskByKey" | "dispatchSentAt" | "unreportedDispatches" | "markUnreported" | "queueCheckRun";

export function outboxMethods(sql: Sql): Pick<StoreTx, OutboxMethods> {
  async function upsertDelivery(id: string, event: string, payloadHash: string, now: number): Promise<void> {
    // A new payload under a known id is processed (tasks still deduplicate by key); remember its hash.
    await sql.run(
      `INSERT INTO deliveries (id, event, payload_hash, accepted_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET event = excluded.event, payload_hash = excluded.payload_hash`,
      [id, event, payloadHash, now],
    );
  }

  async function insertTask(task: OutboxTaskInput, now: number): Promise<void> {
    // Any unique key (the task key, or one dispatch per delivery and downstream) makes it a duplicate.
    await sql.run(
      `INSERT INTO outbox (key, kind, repo, installation_id, request_json, dispatch_delivery_id, dispatch_repo,
         status, attempts, created_at, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, 'pending', 0, $8, $8)
       ON CONFLICT DO NOTHING`,
      [task.key, task.kind, task.repo, task.installationId ?? null, requestJson(task.request), task.dispatch?.deliveryId ?? null,
        task.dispatch?.downstreamRepo ?? null, now],
    );
  }

  /** Inserts a log row unless the dispatch is recorded already; true when inserted. */
  async function insertLog(entry: DispatchLogEntry): Promise<boolean> {
    const inserted = await sql.run(
      `INSERT INTO dispatch_log (delivery_id, downstream_repo_key, downstream_repo, upstream_repo, event, action,
         pr_number, head_sha, backend_name, level, outcome, reason, attempts, created_at, sent_at, title, author)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
       ON CONFLICT (delivery_id, downstream_repo_key) DO NOTHING`,
      [entry.deliveryId, repoKey(entry.downstreamRepo), entry.downstreamRepo, entry.upstreamRepo, entry.event, entry.action ?? null,
        entry.prNumber ?? null, entry.headSha, entry.backendName, entry.level, entry.outcome, entry.reason ?? null, entry.attempts,
        entry.createdAt, entry.sentAt ?? null, entry.title ?? null, entry.author ?? null],
    );
    return inserted > 0;
  }

  /**
   * Runs a task transition and mirrors it into the task's dispatch-log row. A final outcome (`finishedAt`)
   * is also queued for the HUD; a retry is not (the final snapshot carries the attempts).
   */
  async function advance(task: TransitionedTask | undefined, change: LogChange, finishedAt?: number): Promise<void> {
    if (!task || task.dispatchDeliveryId === null || task.dispatchRepo === null) return;
    await sql.run(
      `UPDATE dispatch_log SET outcome = $1, reason = $2, attempts = $3, sent_at = $4
       WHERE delivery_id = $5 AND downstream_repo_key = $6`,
      [change.outcome, change.reason, task.attempts, change.sentAt, task.dispatchDeliveryId, repoKey(task.dispatchRepo)],
    );
    if (finishedAt !== undefined) await queueDispatchSnapshot(sql, task.dispatchDeliveryId, task.dispatchRepo, finishedAt);
  }

  const methods: Pick<StoreTx, OutboxMethods> = {
    async acceptDelivery(delivery, work, now) {
      const known = await sql.row<{ payloadHash: string }>(`SELECT payload_hash AS "payloadHash" FROM deliveries WHERE id = $1`, [delivery.id]);
      if (known?.payloadHash === delivery.payloadHash) return "duplicate";
      await upsertDelivery(delivery.id, delivery.event, delivery.payloadHash, now);
      for (const task of work.tasks) await insertTask(task, now);
      for (const entry of work.log) {
        if (await insertLog(entry)) await queueDispatchSnapshot(sql, entry.deliveryId, entry.downstreamRepo, now);
      }
      return "accepted";
    },

    async hasDelivery(id) {
      return (await sql.row("SELECT 1 FROM deliveries WHERE id = $1", [id])) !== undefined;
    },

    async rememberDelivery(delivery, now) {
      await upsertDelivery(delivery.id, delivery.event, delivery.payloadHash, now);
    },

    async deliveryWithPayload(payloadHash, exceptId, since) {
      const row = await sql.row<{ id: string }>(
        "SELECT id FROM deliveries WHERE payload_hash = $1 AND id <> $2 AND accepted_at >= $3 LIMIT 1",
        [payloadHash, exceptId, since],
      );
      return row?.id;
    },

    async dueTasks(now, limit, exclude) {
      const rows = await sql.rows<TaskRow>(
        `SELECT ${TASK_COLUMNS} FROM outbox WHERE ${PENDING_NOT_EXCLUDED} AND next_attempt_at <= $3
           AND coalesce(lease_until, 0) <= $3
         ORDER BY next_attempt_at, id LIMIT $4`,
        [...exclusionParams(exclude), now, limit],
      );
      const tasks: OutboxTask[] = [];
      for (const row of rows) {
        const task = toTask(row);
        if (task) tasks.push(task);
        // It can never be sent: dead-letter it rather than wedge the queue or drop it silently.
        else await methods.markFailed(row.id, { at: now, reason: "unreadable_request", outcome: "dead" });
      }
      return tasks;
    },

    async nextDueAt(exclude) {
      const row = await sql.row<{ at: number | null }>(
        `SELECT min(GREATEST(next_attempt_at, coalesce(lease_until, 0))) AS at FROM outbox WHERE ${PENDING_NOT_EXCLUDED}`,
        exclusionParams(exclude),
      );
      return row?.at ?? undefined;
    },

    // Safe across processes: the rows are locked as they are claimed, and rows another transaction is
    // claiming right now are skipped rather than waited for (that transaction gets them). A row claimed
    // and committed by another replica after this transaction began fails it with a serialization
    // failure, and the retry sees the claim.
    async claimTasks(ids, owner, now, leaseMs) {
      if (ids.length === 0) return [];
      const rows = await sql.rows<{ id: number }>(
        `UPDATE outbox SET lease_owner = $2, lease_until = $4
         WHERE id IN (
           SELECT id FROM outbox WHERE id = ANY($1::bigint[]) AND status = 'pending'
             AND (coalesce(lease_until, 0) <= $3 OR lease_owner = $2)
           FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [[...ids], owner, now, now + leaseMs],
      );
      return rows.map((row) => row.id).sort((a, b) => a - b);
    },

    async claimOwners() {
      const rows = await sql.rows<{ owner: string }>(
        `SELECT DISTINCT lease_owner AS owner FROM outbox WHERE status = 'pending' AND lease_owner IS NOT NULL ORDER BY lease_owner`,
      );
      return rows.map((row) => row.owner);
    },

    async releaseClaims(owner, taskIds) {
      if (taskIds === undefined) {
        return sql.run("UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_owner = $1", [owner]);
      }
      if (taskIds.length === 0) return 0;
      return sql.run(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($2::bigint[]) AND status = 'pending' AND lease_owner = $1",
        [owner, [...taskIds]],
      );
    },

    async deferTask(taskId, at) {
      await sql.run(
        "UPDATE outbox SET next_attempt_at = $2, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND status = 'pending'",
        [taskId, at],
      );
    },

    // A version that moved on while the request was on the wire keeps the task pending for the newer state.
    async markSent(taskId, result) {
      const task = await sql.row<TransitionedTask>(
        `UPDATE outbox SET
           status = CASE WHEN $3::integer IS NULL OR version = $3::integer THEN 'sent' ELSE 'pending' END,
           finished_at = CASE WHEN $3::integer IS NULL OR version = $3::integer THEN $2::bigint ELSE NULL END,
           next_attempt_at = CASE WHEN $3::integer IS NULL OR version = $3::integer THEN $2::bigint ELSE next_attempt_at END,
           attempts = attempts + 1, result_id = coalesce($4::bigint, result_id), lease_owner = NULL, lease_until = NULL
         ${TRANSITIONED}`,
        [taskId, result.at, result.version ?? null, result.resultId ?? null],
      );
      if (task && isRenderedKind(task.kind) && result.resultId !== undefined) await setCheckRunId(sql, task.key, result.resultId);
      await advance(task, { outcome: "sent", reason: null, sentAt: result.at }, result.at);
    },

    async scheduleRetry(taskId, retry) {
      const task = await sql.row<TransitionedTask>(
        `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL
         ${TRANSITIONED}`,
        [taskId, retry.at, retry.error],
      );
      await advance(task, { outcome: "pending", reason: null, sentAt: null });
    },

    async markFailed(taskId, failure) {
      const { at, reason, outcome } = failure;
      const task = await sql.row<TransitionedTask>(
        `UPDATE outbox SET status = $4, attempts = attempts + 1, finished_at = $2, last_error = $3,
           lease_owner = NULL, lease_until = NULL ${TRANSITIONED}`,
        [taskId, at, reason, outcome],
      );
      await advance(task, { outcome, reason, sentAt: null }, at);
    },

    async outboxStats() {
      const row = await sql.row<Row<OutboxStats>>(
        `SELECT (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending,
                (SELECT min(created_at) FROM outbox WHERE status = 'pending') AS "oldestPendingAt",
                (SELECT count(*) FROM outbox WHERE status = 'dead') AS dead`,
      );
      return fromRow<OutboxStats>(row!);
    },

    async dispatchLog(deliveryId) {
      const rows = await sql.rows<Row<DispatchLogEntry>>(`SELECT ${LOG_COLUMNS} FROM dispatch_log WHERE delivery_id = $1 ORDER BY seq`, [
        deliveryId,
      ]);
      return rows.map((row) => fromRow<DispatchLogEntry>(row));
    },

    async checkRunId(key) {
      return (await checkRun(sql, key))?.githubId;
    },

    async taskByKey(key) {
      const row = await sql.row<TaskRow>(`SELECT ${TASK_COLUMNS} FROM outbox WHERE key = $1`, [key]);
      return row && toTask(row);
    },

    async dispatchSentAt(deliveryId, downstreamRepo) {
      const row = await sql.row<{ sentAt: number | null }>(
        `SELECT sent_at AS "sentAt" FROM dispatch_log WHERE delivery_id = $1 AND downstream_repo_key = $2`,
        [deliveryId, repoKey(downstreamRepo)],
      );
      return row?.sentAt ?? undefined;
    },

    async unreportedDispatches(sentBefore, limit) {
      const rows = await sql.rows<Row<DispatchLogEntry>>(
        `SELECT ${LOG_COLUMNS} FROM dispatch_log d WHERE d.outcome = 'sent' AND d.sent_at < $1 AND d.reason IS NULL
           AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.upstream_repo_key = lower(d.upstream_repo) AND h.head_sha = d.head_sha
             AND h.state <> 'open')
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.delivery_id = d.delivery_id AND j.downstream_repo_key = d.downstream_repo_key)
         ORDER BY d.sent_at LIMIT $2`,
        [sentBefore, limit],
      );
      return rows.map((row) => fromRow<DispatchLogEntry>(row));
    },

    async markUnreported(deliveryId, downstreamRepo, reason, now) {
      await sql.run("UPDATE dispatch_log SET reason = $1 WHERE delivery_id = $2 AND downstream_repo_key = $3", [
        reason,
        deliveryId,
        repoKey(downstreamRepo),
      ]);
      await queueDispatchSnapshot(sql, deliveryId, downstreamRepo, now);
    },

    async queueCheckRun(task, head, desiredHash, now) {
      await putCheckRun(sql, task.key, head, desiredHash, now);
      await sql.run(
        `INSERT INTO outbox AS o (key, kind, repo, installation_id, request_json, status, attempts, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, 'pending', 0, $6, $7)
         ON CONFLICT (key) DO UPDATE SET
           request_json = excluded.request_json,
           version = o.version + 1,
           created_at = CASE WHEN o.status = 'pending' THEN o.created_at ELSE excluded.created_at END,
           -- A task still waiting keeps the sooner of the two send times (unless it waits out a failure's
           -- backoff); one already due or on the wire gets the new state's own send time.
           next_attempt_at = CASE
             WHEN o.status = 'pending' AND o.last_error IS NOT NULL THEN o.next_attempt_at
             WHEN o.status = 'pending' AND o.next_attempt_at > excluded.created_at THEN LEAST(o.next_attempt_at, excluded.next_attempt_at)
             ELSE excluded.next_attempt_at END,
           status = 'pending', finished_at = NULL, last_error = NULL`,
        [task.key, task.kind, task.repo, task.installationId ?? null, requestJson(task.request), now, Math.max(now, task.notBefore ?? now)],
      );
    },
  };
  return methods;
}
