// Versioned schema of the SQLite store, in ascending versions. A released migration is never edited: add a new one.
import type Database from "better-sqlite3";
import { backfillFacts } from "./backfill.js";

interface Migration {
  version: number;
  sql: string;
  /** Data the SQL alone cannot carry over, run right after it in the same transaction. */
  backfill?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE deliveries (
        id           TEXT PRIMARY KEY,
        event        TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        accepted_at  INTEGER NOT NULL
      );

      CREATE TABLE outbox (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        key                  TEXT NOT NULL UNIQUE,
        kind                 TEXT NOT NULL CHECK (kind IN ('dispatch', 'check_run')),
        repo                 TEXT NOT NULL,
        installation_id      INTEGER,
        request_json         TEXT NOT NULL,
        dispatch_delivery_id TEXT,
        dispatch_repo        TEXT,
        status               TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
        attempts             INTEGER NOT NULL,
        created_at           INTEGER NOT NULL,
        next_attempt_at      INTEGER NOT NULL,
        last_error           TEXT,
        result_id            INTEGER,
        finished_at          INTEGER
      );
      CREATE INDEX outbox_status_due ON outbox (status, next_attempt_at);
      -- One dispatch per (delivery, downstream), whatever the key or the repo's casing.
      CREATE UNIQUE INDEX outbox_dispatch ON outbox (dispatch_delivery_id, lower(dispatch_repo))
        WHERE dispatch_delivery_id IS NOT NULL;

      CREATE TABLE dispatch_log (
        delivery_id         TEXT NOT NULL REFERENCES deliveries (id),
        downstream_repo_key TEXT NOT NULL,
        downstream_repo     TEXT NOT NULL,
        upstream_repo       TEXT NOT NULL,
        event               TEXT NOT NULL CHECK (event IN ('pull_request', 'push')),
        action              TEXT,
        pr_number           INTEGER,
        head_sha            TEXT NOT NULL,
        backend_name        TEXT NOT NULL,
        level               TEXT NOT NULL,
        outcome             TEXT NOT NULL CHECK (outcome IN ('pending', 'sent', 'skipped', 'failed', 'dead')),
        reason              TEXT,
        attempts            INTEGER NOT NULL,
        created_at          INTEGER NOT NULL,
        sent_at             INTEGER,
        PRIMARY KEY (delivery_id, downstream_repo_key)
      );

      CREATE TABLE installations (
        repo_key        TEXT PRIMARY KEY,
        repo            TEXT NOT NULL,
        installation_id INTEGER,
        checked_at      INTEGER NOT NULL
      );
      CREATE INDEX installations_by_id ON installations (installation_id);
    `,
  },
  {
    version: 2,
    sql: `
      -- Check-run tasks hold a desired state; a newer state bumps the version while the old one is sent.
      ALTER TABLE outbox ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

      -- One row per reported job attempt; the job itself is JSON so its fields can grow without migrations.
      CREATE TABLE jobs (
        delivery_id         TEXT NOT NULL,
        downstream_repo_key TEXT NOT NULL,
        run_id              INTEGER NOT NULL,
        run_attempt         INTEGER NOT NULL,
        job_name            TEXT NOT NULL,
        upstream_repo_key   TEXT NOT NULL,
        backend_name        TEXT NOT NULL,
        head_sha            TEXT NOT NULL,
        job_json            TEXT NOT NULL,
        updated_at          INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, downstream_repo_key, run_id, run_attempt, job_name)
      );
      CREATE INDEX jobs_by_backend_sha ON jobs (upstream_repo_key, backend_name, head_sha);

      -- HUD rows waiting to be written to ClickHouse: nothing accepted is lost while it is unavailable.
      CREATE TABLE hud_rows (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        row_json    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        exported_at INTEGER
      );
      CREATE INDEX hud_rows_pending ON hud_rows (id) WHERE exported_at IS NULL;
    `,
  },
  {
    version: 3,
    sql: `
      -- Head shas whose check runs were concluded by the relay (superseded, PR closed): later reports
      -- still reach the HUD but no longer move those check runs.
      CREATE TABLE closed_shas (
        upstream_repo_key TEXT NOT NULL,
        head_sha          TEXT NOT NULL,
        reason            TEXT NOT NULL,
        closed_at         INTEGER NOT NULL,
        PRIMARY KEY (upstream_repo_key, head_sha)
      );
      CREATE INDEX dispatch_log_sent ON dispatch_log (outcome, sent_at);
    `,
  },
  {
    version: 4,
    sql: `
      -- Backends whose check runs on a head sha were concluded because their PR label was removed:
      -- later reports reach the HUD but do not move those runs until the label is added again.
      CREATE TABLE hidden_checks (
        upstream_repo_key TEXT NOT NULL,
        backend_name      TEXT NOT NULL,
        head_sha          TEXT NOT NULL,
        hidden_at         INTEGER NOT NULL,
        PRIMARY KEY (upstream_repo_key, backend_name, head_sha)
      );
      CREATE INDEX dispatch_log_by_sha ON dispatch_log (head_sha);
    `,
  },
  {
    version: 5,
    sql: `
      -- hud_rows becomes the ClickHouse export queue for both HUD tables: job-attempt results and
      -- snapshots of dispatch-log rows. Rows leave the queue once written; rows ClickHouse refuses are
      -- kept with the error (rejected_at) for an operator to inspect.
      DROP INDEX hud_rows_pending;
      ALTER TABLE hud_rows DROP COLUMN exported_at;
      ALTER TABLE hud_rows ADD COLUMN target TEXT NOT NULL DEFAULT 'results' CHECK (target IN ('results', 'dispatches'));
      ALTER TABLE hud_rows ADD COLUMN rejected_at INTEGER;
      ALTER TABLE hud_rows ADD COLUMN error TEXT;
      CREATE INDEX hud_rows_pending ON hud_rows (id) WHERE rejected_at IS NULL;
      CREATE INDEX hud_rows_rejected ON hud_rows (id) WHERE rejected_at IS NOT NULL;

      -- What the HUD's history grid shows per PR or push; hud_version orders a row's snapshots.
      ALTER TABLE dispatch_log ADD COLUMN title TEXT;
      ALTER TABLE dispatch_log ADD COLUMN author TEXT;
      ALTER TABLE dispatch_log ADD COLUMN hud_version INTEGER NOT NULL DEFAULT 0;

      -- Dispatches recorded before this version reach the HUD too: one snapshot each.
      UPDATE dispatch_log SET hud_version = max(created_at, coalesce(sent_at, 0));
      INSERT INTO hud_rows (target, row_json, created_at)
        SELECT 'dispatches', json_object(
            'deliveryId', delivery_id, 'downstreamRepo', downstream_repo, 'upstreamRepo', upstream_repo,
            'event', event, 'action', action, 'prNumber', pr_number, 'headSha', head_sha,
            'backendName', backend_name, 'level', level, 'outcome', outcome, 'reason', reason,
            'attempts', attempts, 'createdAt', created_at, 'sentAt', sent_at, 'hudVersion', hud_version),
          hud_version
        FROM dispatch_log ORDER BY created_at;
    `,
  },
  {
    version: 6,
    sql: `
      -- A payload accepted under one delivery id and sent again under another is a replay.
      CREATE INDEX deliveries_by_payload_hash ON deliveries (payload_hash, accepted_at);

      -- Callbacks answered per downstream repo (or '(unverified)'), UTC day (YYYY-MM-DD) and outcome.
      CREATE TABLE callback_outcomes (
        day     TEXT NOT NULL,
        repo    TEXT NOT NULL,
        outcome TEXT NOT NULL,
        count   INTEGER NOT NULL,
        PRIMARY KEY (day, repo, outcome)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    sql: `
      -- The per-event lookups read indexed columns instead of LIKE scans over keys and JSON. The columns
      -- are generated from the key and the stored JSON, so every existing row has them and every write
      -- keeps them current; VIRTUAL: only the indexes store them. Unreadable JSON gives NULL rather than
      -- failing the write (or this migration); the outbox worker dead-letters such a task.
      -- Check-run keys are check:<repo>:<backend>:<sha>[:<workflow>/<job>] (lower-case repo and backend).
      ALTER TABLE outbox ADD COLUMN check_repo_key TEXT GENERATED ALWAYS AS (
        CASE WHEN kind = 'check_run' AND substr(key, 1, 6) = 'check:' AND instr(substr(key, 7), ':') > 0
          THEN lower(substr(key, 7, instr(substr(key, 7), ':') - 1)) END) VIRTUAL;
      ALTER TABLE outbox ADD COLUMN check_backend TEXT GENERATED ALWAYS AS (
        CASE WHEN instr(substr(key, 8 + length(check_repo_key)), ':') > 0
          THEN lower(substr(key, 8 + length(check_repo_key), instr(substr(key, 8 + length(check_repo_key)), ':') - 1)) END) VIRTUAL;
      ALTER TABLE outbox ADD COLUMN head_sha TEXT GENERATED ALWAYS AS (
        CASE WHEN kind = 'check_run' AND json_valid(request_json) THEN json_extract(request_json, '$.params.head_sha') END) VIRTUAL;
      ALTER TABLE outbox ADD COLUMN check_status TEXT GENERATED ALWAYS AS (
        CASE WHEN kind = 'check_run' AND json_valid(request_json) THEN json_extract(request_json, '$.params.status') END) VIRTUAL;
      CREATE INDEX outbox_check_by_sha ON outbox (check_repo_key, head_sha) WHERE check_repo_key IS NOT NULL;
      -- Only check runs not yet completed: the set a policy change concludes stays small.
      CREATE INDEX outbox_check_open ON outbox (check_repo_key, check_backend) WHERE check_status <> 'completed';

      ALTER TABLE jobs ADD COLUMN status TEXT GENERATED ALWAYS AS (
        CASE WHEN json_valid(job_json) THEN json_extract(job_json, '$.status') END) VIRTUAL;
      ALTER TABLE jobs ADD COLUMN started_at INTEGER GENERATED ALWAYS AS (
        CASE WHEN json_valid(job_json) THEN json_extract(job_json, '$.startedAt') END) VIRTUAL;
      ALTER TABLE jobs ADD COLUMN pr_number INTEGER GENERATED ALWAYS AS (
        CASE WHEN json_valid(job_json) THEN json_extract(job_json, '$.prNumber') END) VIRTUAL;
      CREATE INDEX jobs_in_progress ON jobs (started_at) WHERE status = 'in_progress';
      CREATE INDEX jobs_by_sha ON jobs (upstream_repo_key, head_sha);

      -- Retention (SqliteStore.prune) finds settled rows by age.
      CREATE INDEX outbox_settled ON outbox (finished_at) WHERE status <> 'pending';
      CREATE INDEX deliveries_by_accepted_at ON deliveries (accepted_at);
      CREATE INDEX closed_shas_by_closed_at ON closed_shas (closed_at);
      -- Push heads and self-reports are never closed: their rows go by age.
      CREATE INDEX dispatch_log_push ON dispatch_log (created_at) WHERE event = 'push';
      CREATE INDEX jobs_not_on_pr ON jobs (updated_at) WHERE pr_number IS NULL;
    `,
  },
  {
    version: 8,
    sql: `
      -- Every callback reads the summaries of its backend's jobs on the head (the aggregate roll-up).
      -- Reading them from job_json parsed each job's whole report, up to ~300 kB; the summary is a few
      -- hundred bytes written with the job (SqliteStore.recordJob), and the index covers the read, so
      -- it never touches the table row. A plain column, not a generated one: a generated column would
      -- be computed from job_json on every read. Merge-patching a null conclusion leaves it out.
      ALTER TABLE jobs ADD COLUMN summary_json TEXT;
      UPDATE jobs SET summary_json = json_patch(
        json_object(
          'deliveryId', json_extract(job_json, '$.deliveryId'),
          'downstreamRepo', json_extract(job_json, '$.downstreamRepo'),
          'runId', json_extract(job_json, '$.runId'),
          'runAttempt', json_extract(job_json, '$.runAttempt'),
          'jobName', json_extract(job_json, '$.jobName'),
          'prNumber', json_extract(job_json, '$.prNumber'),
          'workflowName', json_extract(job_json, '$.workflowName'),
          'status', json_extract(job_json, '$.status'),
          'updatedAt', json_extract(job_json, '$.updatedAt')),
        json_object('conclusion', json_extract(job_json, '$.conclusion')))
      WHERE json_valid(job_json);
      DROP INDEX jobs_by_backend_sha;
      CREATE INDEX jobs_summaries ON jobs (upstream_repo_key, backend_name, head_sha, summary_json);
    `,
  },
  {
    version: 9,
    sql: `
      -- State core v2: facts, not requests. Check runs are derived from these rows (src/checks/desired.ts);
      -- closed_shas and hidden_checks (edits made in place) are replaced by the head's state and labels.
      CREATE TABLE heads (
        upstream_repo_key TEXT NOT NULL,
        upstream_repo     TEXT NOT NULL,
        head_sha          TEXT NOT NULL,
        pr_number         INTEGER NOT NULL,
        state             TEXT NOT NULL CHECK (state IN ('open', 'superseded', 'closed')),
        superseded_by     TEXT,
        -- NULL: not known since the upgrade to this version (the PR's next event tells).
        labels_json       TEXT,
        state_changed_at  INTEGER NOT NULL,
        PRIMARY KEY (upstream_repo_key, head_sha)
      );
      CREATE INDEX heads_open_by_pr ON heads (upstream_repo_key, pr_number) WHERE state = 'open';
      CREATE INDEX heads_settled ON heads (state_changed_at) WHERE state <> 'open';

      -- One backend on one PR head: its latest dispatch, and its jobs counted (kept by each report).
      CREATE TABLE backend_heads (
        upstream_repo_key   TEXT NOT NULL,
        upstream_repo       TEXT NOT NULL,
        head_sha            TEXT NOT NULL,
        downstream_repo_key TEXT NOT NULL,
        downstream_repo     TEXT NOT NULL,
        backend_name        TEXT NOT NULL,
        level               TEXT NOT NULL,
        delivery_id         TEXT NOT NULL,
        dispatch_outcome    TEXT NOT NULL,
        dispatch_reason     TEXT,
        unreported          TEXT,
        counts_json         TEXT NOT NULL,
        newest_json         TEXT,
        next_seq            INTEGER NOT NULL DEFAULT 0,
        -- Hash of what decides whether the job check runs follow their jobs (head state, visibility).
        frame_hash          TEXT,
        PRIMARY KEY (upstream_repo_key, head_sha, downstream_repo_key)
      );
      CREATE INDEX backend_heads_by_delivery ON backend_heads (delivery_id, downstream_repo_key);

      -- The latest attempt of each job of a backend's latest dispatch on a head.
      CREATE TABLE job_latest (
        upstream_repo_key   TEXT NOT NULL,
        head_sha            TEXT NOT NULL,
        downstream_repo_key TEXT NOT NULL,
        workflow_name       TEXT NOT NULL,
        job_name            TEXT NOT NULL,
        seq                 INTEGER NOT NULL,
        passed              INTEGER NOT NULL,
        summary_json        TEXT NOT NULL,
        PRIMARY KEY (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name)
      );
      -- The aggregate's table: jobs that did not pass first, then by first report.
      CREATE INDEX job_latest_listing ON job_latest (upstream_repo_key, head_sha, downstream_repo_key, passed, seq);
      CREATE INDEX job_latest_by_seq ON job_latest (upstream_repo_key, head_sha, downstream_repo_key, seq);

      -- Per check run: its GitHub id once created, and the hash of the desired state last queued.
      CREATE TABLE check_runs (
        key               TEXT PRIMARY KEY,
        upstream_repo_key TEXT NOT NULL,
        head_sha          TEXT NOT NULL,
        github_id         INTEGER,
        desired_hash      TEXT NOT NULL,
        updated_at        INTEGER NOT NULL
      );
      CREATE INDEX check_runs_by_head ON check_runs (upstream_repo_key, head_sha);

      INSERT INTO heads (upstream_repo_key, upstream_repo, head_sha, pr_number, state, labels_json, state_changed_at)
        SELECT lower(d.upstream_repo), max(d.upstream_repo), d.head_sha, max(d.pr_number),
          coalesce((SELECT CASE c.reason WHEN 'superseded' THEN 'superseded' ELSE 'closed' END FROM closed_shas c
            WHERE c.upstream_repo_key = lower(d.upstream_repo) AND c.head_sha = d.head_sha), 'open'),
          NULL,
          coalesce((SELECT c.closed_at FROM closed_shas c WHERE c.upstream_repo_key = lower(d.upstream_repo) AND c.head_sha = d.head_sha),
            max(d.created_at))
        FROM dispatch_log d WHERE d.event = 'pull_request' AND d.pr_number IS NOT NULL
        GROUP BY lower(d.upstream_repo), d.head_sha;
      INSERT INTO backend_heads (upstream_repo_key, upstream_repo, head_sha, downstream_repo_key, downstream_repo, backend_name, level,
          delivery_id, dispatch_outcome, dispatch_reason, unreported, counts_json)
        SELECT lower(upstream_repo), upstream_repo, head_sha, downstream_repo_key, downstream_repo, backend_name, level, delivery_id, outcome,
          CASE WHEN outcome IN ('failed', 'dead') THEN reason END,
          CASE WHEN outcome = 'sent' AND reason IN ('never_reported', 'reports_not_expected') THEN reason END,
          '{"jobs":0,"running":0,"conclusions":{}}'
        FROM (SELECT *, row_number() OVER (PARTITION BY lower(upstream_repo), head_sha, downstream_repo_key
                ORDER BY created_at DESC, rowid DESC) AS newest
              FROM dispatch_log WHERE event = 'pull_request' AND pr_number IS NOT NULL AND outcome <> 'skipped')
        WHERE newest = 1;
      INSERT INTO check_runs (key, upstream_repo_key, head_sha, github_id, desired_hash, updated_at)
        SELECT key, check_repo_key, head_sha, result_id, '', created_at FROM outbox
        WHERE kind = 'check_run' AND check_repo_key IS NOT NULL AND head_sha IS NOT NULL;

      DROP TABLE hidden_checks;
      DROP TABLE closed_shas;
      DROP INDEX outbox_check_by_sha;
      DROP INDEX outbox_check_open;
      ALTER TABLE outbox DROP COLUMN check_status;
      ALTER TABLE outbox DROP COLUMN head_sha;
      ALTER TABLE outbox DROP COLUMN check_backend;
      ALTER TABLE outbox DROP COLUMN check_repo_key;
    `,
    backfill: backfillFacts,
  },
  {
    version: 10,
    sql: `
      -- Job summaries are kept per latest attempt in job_latest now (migration 9 carried them over).
      DROP INDEX jobs_summaries;
      ALTER TABLE jobs DROP COLUMN summary_json;
    `,
  },
  {
    version: 11,
    sql: `
      -- Claims of outbox work: the process sending a task holds it until lease_until, so another process
      -- on the same store leaves it alone (and takes it over if the holder died). Recording any outcome
      -- releases it.
      ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
      ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
    `,
  },
  {
    version: 12,
    sql: `
      -- A third kind of outbox task, 'cancel': cancelling a downstream run of a closed PR, retried and
      -- paced like every write. SQLite cannot alter a CHECK constraint, so the table is rebuilt (same
      -- columns, ids kept, indexes recreated; no other table references it).
${rebuildOutbox("outbox_v12", ["dispatch", "check_run", "cancel"])}
    `,
  },
  {
    version: 13,
    sql: `
      -- Run tracking: the downstream runs of a backend head's dispatch (src/domain/runs.ts), and until when
      -- its aggregate waits for them to end with nothing reported still running (the sweeper's index).
      ALTER TABLE backend_heads ADD COLUMN runs_json TEXT;
      ALTER TABLE backend_heads ADD COLUMN run_wait_deadline INTEGER;
      ALTER TABLE backend_heads ADD COLUMN run_wait_tracked INTEGER;
      CREATE INDEX backend_heads_run_wait ON backend_heads (run_wait_deadline) WHERE run_wait_deadline IS NOT NULL;
      -- Which dispatch a downstream workflow run belongs to: workflow_job events carry only the run id.
      -- Pruned by age (retention): GitHub's events of a run come within hours of its dispatch.
      CREATE TABLE tracked_runs (
        downstream_repo_key TEXT NOT NULL,
        run_id              INTEGER NOT NULL,
        delivery_id         TEXT NOT NULL,
        tracked_at          INTEGER NOT NULL,
        PRIMARY KEY (downstream_repo_key, run_id)
      );
      CREATE INDEX tracked_runs_by_age ON tracked_runs (tracked_at);
      -- Dispatches from before run tracking keep the rule they were made under: their aggregate concludes
      -- from the reported jobs alone. A run of id 0, over by report, says so (src/domain/runs.ts LEGACY_RUN).
      UPDATE backend_heads SET runs_json = '[{"runId":0,"runAttempt":1,"reported":{"conclusion":"success"},"jobs":[],"untrackedJobs":0,"settled":"report"}]'
        WHERE json_extract(counts_json, '$.jobs') > 0;
    `,
  },
  {
    version: 14,
    sql: `
      -- The trunk baseline (src/domain/trunk-baseline.ts): per backend job, its latest completed result on a
      -- push to the upstream default branch. One row per (upstream, downstream, workflow, job); a result of
      -- an older trunk commit never replaces a newer one's. Pruned by age (retention).
      CREATE TABLE trunk_results (
        upstream_repo_key   TEXT NOT NULL,
        downstream_repo_key TEXT NOT NULL,
        workflow_name       TEXT NOT NULL,
        job_name            TEXT NOT NULL,
        result_json         TEXT NOT NULL,
        dispatched_at       INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        PRIMARY KEY (upstream_repo_key, downstream_repo_key, workflow_name, job_name)
      );
      CREATE INDEX trunk_results_by_age ON trunk_results (updated_at);
      -- Two more kinds of outbox task: 'comment', the oncall comment on a PR (created once and edited in
      -- place like a check run), and 'notify', a message to a backend's oncall webhook. The table is
      -- rebuilt as in migration 12 (SQLite cannot alter a CHECK).
${rebuildOutbox("outbox_v14", ["dispatch", "check_run", "cancel", "comment", "notify"])}
    `,
  },
  {
    version: 15,
    sql: `
      -- A third target of queued rows, 'crcr': results exported in hud.pytorch.org's crcr_workflow_job shape
      -- (src/export/), drained apart from the HUD's. SQLite cannot alter a CHECK, so the table is rebuilt
      -- (same columns, every row and id kept, and its AUTOINCREMENT counter: ids are never reused). Each
      -- drainer reads its own targets' pending rows in id order through hud_rows_pending_by_target.
      CREATE TABLE hud_rows_v15 (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        row_json    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        target      TEXT NOT NULL DEFAULT 'results' CHECK (target IN ('results', 'dispatches', 'crcr')),
        rejected_at INTEGER,
        error       TEXT
      );
      INSERT INTO hud_rows_v15 (id, row_json, created_at, target, rejected_at, error)
        SELECT id, row_json, created_at, target, rejected_at, error FROM hud_rows;
      DELETE FROM sqlite_sequence WHERE name = 'hud_rows_v15';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'hud_rows_v15', seq FROM sqlite_sequence WHERE name = 'hud_rows';
      DROP TABLE hud_rows;
      ALTER TABLE hud_rows_v15 RENAME TO hud_rows;
      CREATE INDEX hud_rows_pending ON hud_rows (id) WHERE rejected_at IS NULL;
      CREATE INDEX hud_rows_rejected ON hud_rows (id) WHERE rejected_at IS NOT NULL;
      CREATE INDEX hud_rows_pending_by_target ON hud_rows (target, id) WHERE rejected_at IS NULL;
    `,
  },
];

/**
 * Rebuilds the outbox with `kinds` allowed (SQLite cannot alter a CHECK constraint): the same columns,
 * every row and id kept, indexes recreated; no other table references it. Migrations 12 and 14 use it,
 * so it must keep producing the table they made.
 */
function rebuildOutbox(table: string, kinds: readonly string[]): string {
  return `
      CREATE TABLE ${table} (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        key                  TEXT NOT NULL UNIQUE,
        kind                 TEXT NOT NULL CHECK (kind IN (${kinds.map((kind) => `'${kind}'`).join(", ")})),
        repo                 TEXT NOT NULL,
        installation_id      INTEGER,
        request_json         TEXT NOT NULL,
        dispatch_delivery_id TEXT,
        dispatch_repo        TEXT,
        status               TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
        attempts             INTEGER NOT NULL,
        created_at           INTEGER NOT NULL,
        next_attempt_at      INTEGER NOT NULL,
        last_error           TEXT,
        result_id            INTEGER,
        finished_at          INTEGER,
        version              INTEGER NOT NULL DEFAULT 0,
        lease_owner          TEXT,
        lease_until          INTEGER
      );
      INSERT INTO ${table} (id, key, kind, repo, installation_id, request_json, dispatch_delivery_id, dispatch_repo, status,
          attempts, created_at, next_attempt_at, last_error, result_id, finished_at, version, lease_owner, lease_until)
        SELECT id, key, kind, repo, installation_id, request_json, dispatch_delivery_id, dispatch_repo, status,
          attempts, created_at, next_attempt_at, last_error, result_id, finished_at, version, lease_owner, lease_until
        FROM outbox;
      DROP TABLE outbox;
      ALTER TABLE ${table} RENAME TO outbox;
      CREATE INDEX outbox_status_due ON outbox (status, next_attempt_at);
      CREATE UNIQUE INDEX outbox_dispatch ON outbox (dispatch_delivery_id, lower(dispatch_repo))
        WHERE dispatch_delivery_id IS NOT NULL;
      CREATE INDEX outbox_settled ON outbox (finished_at) WHERE status <> 'pending';`;
}

/** Applies the missing migrations in one transaction; IMMEDIATE so two processes opening at once cannot both apply one. */
export function migrate(db: Database.Database, now: number): void {
  db.transaction(() => {
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = new Set(db.prepare<[], number>("SELECT version FROM schema_migrations").pluck().all());
    const newest = Math.max(...MIGRATIONS.map((migration) => migration.version));
    const unknown = [...applied].filter((version) => version > newest);
    if (unknown.length > 0) {
      throw new Error(`the database has schema version ${Math.max(...unknown)}, newer than this relay knows (${newest})`);
    }
    const record = db.prepare<[number, number]>("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    for (const migration of MIGRATIONS.filter((candidate) => !applied.has(candidate.version))) {
      db.exec(migration.sql);
      migration.backfill?.(db);
      record.run(migration.version, now);
    }
  }).immediate();
}
