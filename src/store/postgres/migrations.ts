// Versioned schema of the PostgreSQL store, in ascending versions. Its own list, apart from SQLite's
// (src/store/migrations.ts): version 1 is SQLite's schema as of its version 13. A released migration is
// never edited: add a new one.
//
// Conventions: epoch-ms times and GitHub ids are BIGINT; JSON documents are JSONB; text is COLLATE "C"
// so keys sort and compare bytewise as in SQLite, whatever the database's locale (openHeads pages by key
// order, listings are ordered by repo). Ids and insertion order (SQLite's rowid) are identity columns.
import type pg from "pg";

interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE deliveries (
        id           TEXT COLLATE "C" PRIMARY KEY,
        event        TEXT COLLATE "C" NOT NULL,
        payload_hash TEXT COLLATE "C" NOT NULL,
        accepted_at  BIGINT NOT NULL
      );
      CREATE INDEX deliveries_by_payload_hash ON deliveries (payload_hash, accepted_at);
      CREATE INDEX deliveries_by_accepted_at ON deliveries (accepted_at);

      CREATE TABLE outbox (
        id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key                  TEXT COLLATE "C" NOT NULL UNIQUE,
        kind                 TEXT COLLATE "C" NOT NULL CHECK (kind IN ('dispatch', 'check_run', 'cancel')),
        repo                 TEXT COLLATE "C" NOT NULL,
        installation_id      BIGINT,
        request_json         JSONB NOT NULL,
        dispatch_delivery_id TEXT COLLATE "C",
        dispatch_repo        TEXT COLLATE "C",
        status               TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
        attempts             INTEGER NOT NULL,
        created_at           BIGINT NOT NULL,
        next_attempt_at      BIGINT NOT NULL,
        last_error           TEXT COLLATE "C",
        result_id            BIGINT,
        finished_at          BIGINT,
        version              INTEGER NOT NULL DEFAULT 0,
        lease_owner          TEXT COLLATE "C",
        lease_until          BIGINT
      );
      CREATE INDEX outbox_status_due ON outbox (status, next_attempt_at);
      -- One dispatch per (delivery, downstream), whatever the key or the repo's casing.
      CREATE UNIQUE INDEX outbox_dispatch ON outbox (dispatch_delivery_id, lower(dispatch_repo))
        WHERE dispatch_delivery_id IS NOT NULL;
      CREATE INDEX outbox_settled ON outbox (finished_at) WHERE status <> 'pending';

      CREATE TABLE dispatch_log (
        -- Insertion order: rows are listed in the order they were recorded.
        seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
        delivery_id         TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id),
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        downstream_repo     TEXT COLLATE "C" NOT NULL,
        upstream_repo       TEXT COLLATE "C" NOT NULL,
        event               TEXT COLLATE "C" NOT NULL CHECK (event IN ('pull_request', 'push')),
        action              TEXT COLLATE "C",
        pr_number           INTEGER,
        head_sha            TEXT COLLATE "C" NOT NULL,
        backend_name        TEXT COLLATE "C" NOT NULL,
        level               TEXT COLLATE "C" NOT NULL,
        outcome             TEXT COLLATE "C" NOT NULL CHECK (outcome IN ('pending', 'sent', 'skipped', 'failed', 'dead')),
        reason              TEXT COLLATE "C",
        attempts            INTEGER NOT NULL,
        created_at          BIGINT NOT NULL,
        sent_at             BIGINT,
        title               TEXT COLLATE "C",
        author              TEXT COLLATE "C",
        -- Orders the HUD snapshots of a row (an epoch-ms time, bumped past the last one).
        hud_version         BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (delivery_id, downstream_repo_key)
      );
      CREATE INDEX dispatch_log_sent ON dispatch_log (outcome, sent_at);
      CREATE INDEX dispatch_log_by_sha ON dispatch_log (head_sha);
      CREATE INDEX dispatch_log_push ON dispatch_log (created_at) WHERE event = 'push';

      CREATE TABLE installations (
        repo_key        TEXT COLLATE "C" PRIMARY KEY,
        repo            TEXT COLLATE "C" NOT NULL,
        installation_id BIGINT,
        checked_at      BIGINT NOT NULL
      );
      CREATE INDEX installations_by_id ON installations (installation_id);

      -- One row per reported job attempt; the job itself is JSON so its fields can grow without migrations.
      -- The columns the sweeper and retention query are derived from it (SQLite: virtual generated columns).
      CREATE TABLE jobs (
        seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
        delivery_id         TEXT COLLATE "C" NOT NULL,
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        run_id              BIGINT NOT NULL,
        run_attempt         INTEGER NOT NULL,
        job_name            TEXT COLLATE "C" NOT NULL,
        upstream_repo_key   TEXT COLLATE "C" NOT NULL,
        backend_name        TEXT COLLATE "C" NOT NULL,
        head_sha            TEXT COLLATE "C" NOT NULL,
        job_json            JSONB NOT NULL,
        updated_at          BIGINT NOT NULL,
        status              TEXT COLLATE "C" GENERATED ALWAYS AS (job_json ->> 'status') STORED,
        started_at          BIGINT GENERATED ALWAYS AS (
          CASE WHEN jsonb_typeof(job_json -> 'startedAt') = 'number' THEN (job_json ->> 'startedAt')::numeric::bigint END) STORED,
        pr_number           BIGINT GENERATED ALWAYS AS (
          CASE WHEN jsonb_typeof(job_json -> 'prNumber') = 'number' THEN (job_json ->> 'prNumber')::numeric::bigint END) STORED,
        PRIMARY KEY (delivery_id, downstream_repo_key, run_id, run_attempt, job_name)
      );
      CREATE INDEX jobs_in_progress ON jobs (started_at) WHERE status = 'in_progress';
      CREATE INDEX jobs_by_sha ON jobs (upstream_repo_key, head_sha);
      CREATE INDEX jobs_not_on_pr ON jobs (updated_at) WHERE pr_number IS NULL;

      -- Rows waiting for the ClickHouse writer; refused ones are kept aside (rejected_at) for inspection.
      CREATE TABLE hud_rows (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        row_json    JSONB NOT NULL,
        created_at  BIGINT NOT NULL,
        target      TEXT COLLATE "C" NOT NULL DEFAULT 'results' CHECK (target IN ('results', 'dispatches')),
        rejected_at BIGINT,
        error       TEXT COLLATE "C"
      );
      CREATE INDEX hud_rows_pending ON hud_rows (id) WHERE rejected_at IS NULL;
      CREATE INDEX hud_rows_rejected ON hud_rows (id) WHERE rejected_at IS NOT NULL;

      CREATE TABLE callback_outcomes (
        day     TEXT COLLATE "C" NOT NULL,
        repo    TEXT COLLATE "C" NOT NULL,
        outcome TEXT COLLATE "C" NOT NULL,
        count   BIGINT NOT NULL,
        PRIMARY KEY (day, repo, outcome)
      );

      CREATE TABLE heads (
        upstream_repo_key TEXT COLLATE "C" NOT NULL,
        upstream_repo     TEXT COLLATE "C" NOT NULL,
        head_sha          TEXT COLLATE "C" NOT NULL,
        pr_number         INTEGER NOT NULL,
        state             TEXT COLLATE "C" NOT NULL CHECK (state IN ('open', 'superseded', 'closed')),
        superseded_by     TEXT COLLATE "C",
        -- NULL: not known (unlike an empty array).
        labels_json       JSONB,
        state_changed_at  BIGINT NOT NULL,
        PRIMARY KEY (upstream_repo_key, head_sha)
      );
      CREATE INDEX heads_open_by_pr ON heads (upstream_repo_key, pr_number) WHERE state = 'open';
      CREATE INDEX heads_settled ON heads (state_changed_at) WHERE state <> 'open';

      CREATE TABLE backend_heads (
        upstream_repo_key   TEXT COLLATE "C" NOT NULL,
        upstream_repo       TEXT COLLATE "C" NOT NULL,
        head_sha            TEXT COLLATE "C" NOT NULL,
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        downstream_repo     TEXT COLLATE "C" NOT NULL,
        backend_name        TEXT COLLATE "C" NOT NULL,
        level               TEXT COLLATE "C" NOT NULL,
        delivery_id         TEXT COLLATE "C" NOT NULL,
        dispatch_outcome    TEXT COLLATE "C" NOT NULL,
        dispatch_reason     TEXT COLLATE "C",
        unreported          TEXT COLLATE "C",
        counts_json         JSONB NOT NULL,
        newest_json         JSONB,
        next_seq            INTEGER NOT NULL DEFAULT 0,
        -- Hash of what decides whether the job check runs follow their jobs (head state, visibility).
        frame_hash          TEXT COLLATE "C",
        runs_json           JSONB,
        run_wait_deadline   BIGINT,
        run_wait_tracked    BOOLEAN,
        PRIMARY KEY (upstream_repo_key, head_sha, downstream_repo_key)
      );
      CREATE INDEX backend_heads_by_delivery ON backend_heads (delivery_id, downstream_repo_key);
      CREATE INDEX backend_heads_run_wait ON backend_heads (run_wait_deadline) WHERE run_wait_deadline IS NOT NULL;

      CREATE TABLE job_latest (
        upstream_repo_key   TEXT COLLATE "C" NOT NULL,
        head_sha            TEXT COLLATE "C" NOT NULL,
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        workflow_name       TEXT COLLATE "C" NOT NULL,
        job_name            TEXT COLLATE "C" NOT NULL,
        seq                 INTEGER NOT NULL,
        passed              BOOLEAN NOT NULL,
        summary_json        JSONB NOT NULL,
        PRIMARY KEY (upstream_repo_key, head_sha, downstream_repo_key, workflow_name, job_name)
      );
      CREATE INDEX job_latest_listing ON job_latest (upstream_repo_key, head_sha, downstream_repo_key, passed, seq);
      CREATE INDEX job_latest_by_seq ON job_latest (upstream_repo_key, head_sha, downstream_repo_key, seq);

      CREATE TABLE check_runs (
        key               TEXT COLLATE "C" PRIMARY KEY,
        upstream_repo_key TEXT COLLATE "C" NOT NULL,
        head_sha          TEXT COLLATE "C" NOT NULL,
        github_id         BIGINT,
        desired_hash      TEXT COLLATE "C" NOT NULL,
        updated_at        BIGINT NOT NULL
      );
      CREATE INDEX check_runs_by_head ON check_runs (upstream_repo_key, head_sha);

      CREATE TABLE tracked_runs (
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        run_id              BIGINT NOT NULL,
        delivery_id         TEXT COLLATE "C" NOT NULL,
        tracked_at          BIGINT NOT NULL,
        PRIMARY KEY (downstream_repo_key, run_id)
      );
      CREATE INDEX tracked_runs_by_age ON tracked_runs (tracked_at);

      -- Rate budgets the replicas share (src/limits/postgres-window.ts): one row per event still inside the
      -- budget's longest window; a key's older rows go as it is next used.
      CREATE TABLE rate_events (
        scope TEXT COLLATE "C" NOT NULL,
        key   TEXT COLLATE "C" NOT NULL,
        at    BIGINT NOT NULL
      );
      CREATE INDEX rate_events_by_key ON rate_events (scope, key, at);
      -- Until when a budget key gets no slot: GitHub's Retry-After, seen by one replica, holds for all.
      CREATE TABLE rate_blocks (
        scope TEXT COLLATE "C" NOT NULL,
        key   TEXT COLLATE "C" NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (scope, key)
      );
      -- One acquire in one round trip (src/limits/postgres-window.ts): under a transaction-scoped lock on
      -- (scope, key), a block wins; otherwise the key's events that left the longest window go, each window
      -- is counted, and a free slot is recorded. Returns 0, or the ms until a slot frees — for a full
      -- window, when the limit-th newest event in it leaves it (windowWait in src/limits/sliding-window.ts).
      CREATE FUNCTION rate_acquire(p_scope TEXT, p_key TEXT, p_now BIGINT, p_ms BIGINT[], p_limits INT[]) RETURNS BIGINT
      LANGUAGE plpgsql AS $$
      DECLARE
        v_until BIGINT;
        v_wait BIGINT := 0;
        v_count INT;
        v_oldest BIGINT;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_scope || ':' || p_key, 0));
        SELECT until INTO v_until FROM rate_blocks WHERE scope = p_scope AND key = p_key AND until > p_now;
        IF FOUND THEN
          RETURN v_until - p_now;
        END IF;
        DELETE FROM rate_events WHERE scope = p_scope AND key = p_key AND at <= p_now - (SELECT max(m) FROM unnest(p_ms) AS m);
        FOR i IN 1 .. array_length(p_ms, 1) LOOP
          SELECT count(*) INTO v_count FROM rate_events WHERE scope = p_scope AND key = p_key AND at > p_now - p_ms[i];
          IF v_count >= p_limits[i] THEN
            SELECT at INTO v_oldest FROM rate_events WHERE scope = p_scope AND key = p_key AND at > p_now - p_ms[i]
              ORDER BY at DESC OFFSET p_limits[i] - 1 LIMIT 1;
            v_wait := greatest(v_wait, v_oldest + p_ms[i] - p_now);
          END IF;
        END LOOP;
        IF v_wait = 0 THEN
          INSERT INTO rate_events (scope, key, at) VALUES (p_scope, p_key, p_now);
        END IF;
        RETURN v_wait;
      END;
      $$;
    `,
  },
  {
    version: 2,
    sql: `
      -- No rows, ever: units of work lock it (src/store/postgres/transaction.ts), SHARE MODE as a rule,
      -- EXCLUSIVE MODE for a unit that keeps failing on serialization conflicts, so it runs alone once.
      CREATE TABLE transaction_gate ();
    `,
  },
  {
    version: 3,
    sql: `
      -- The trunk baseline (src/domain/trunk-baseline.ts): per backend job, its latest completed result on a
      -- push to the upstream default branch; a result of an older trunk commit never replaces a newer one's.
      CREATE TABLE trunk_results (
        upstream_repo_key   TEXT COLLATE "C" NOT NULL,
        downstream_repo_key TEXT COLLATE "C" NOT NULL,
        workflow_name       TEXT COLLATE "C" NOT NULL,
        job_name            TEXT COLLATE "C" NOT NULL,
        result_json         JSONB NOT NULL,
        dispatched_at       BIGINT NOT NULL,
        updated_at          BIGINT NOT NULL,
        PRIMARY KEY (upstream_repo_key, downstream_repo_key, workflow_name, job_name)
      );
      CREATE INDEX trunk_results_by_age ON trunk_results (updated_at);
      -- The oncall comment on a PR (created once, edited in place) and the message to a backend's oncall
      -- webhook: two more kinds of outbox task.
      ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
      ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('dispatch', 'check_run', 'cancel', 'comment', 'notify'));
    `,
  },
  {
    version: 4,
    sql: `
      -- A third target of queued rows, 'crcr': results exported in hud.pytorch.org's crcr_workflow_job shape
      -- (src/export/), drained apart from the HUD's, each drainer reading its own targets in id order.
      ALTER TABLE hud_rows DROP CONSTRAINT hud_rows_target_check;
      ALTER TABLE hud_rows ADD CONSTRAINT hud_rows_target_check CHECK (target IN ('results', 'dispatches', 'crcr'));
      CREATE INDEX hud_rows_pending_by_target ON hud_rows (target, id) WHERE rejected_at IS NULL;
    `,
  },
];

/**
 * The advisory lock migrations run under: the relay's own class ("RLAY") and the schema's hash, so the
 * replicas of one deployment migrate one at a time while deployments in other schemas of the database
 * do not wait for each other. (hashtext collisions only make two schemas take turns.)
 */
export const MIGRATION_LOCK_CLASS = 0x524c4159;

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/**
 * Brings the schema `client` sees (its search_path's first schema, created here when named) up to date,
 * in one transaction under an advisory lock: replicas starting together apply each migration once, the
 * others waiting for it and then finding it applied. Refuses a schema newer than this code knows.
 */
export async function migrate(client: pg.ClientBase, now: number, schema?: string): Promise<void> {
  // READ COMMITTED, whatever the server's default: each statement after the lock must see what the
  // replica that held it before committed (a SERIALIZABLE snapshot would predate it).
  await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext(coalesce($2::text, current_schema())))", [MIGRATION_LOCK_CLASS, schema ?? null]);
    if (schema !== undefined) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      // The session's search_path names it already; set it again so the schema just created is used.
      await client.query(`SET LOCAL search_path TO ${quoteIdentifier(schema)}`);
    }
    await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    const applied = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    if (newest > SCHEMA_VERSION) {
      throw new Error(`the database has schema version ${newest}, newer than this relay knows (${SCHEMA_VERSION})`);
    }
    for (const migration of MIGRATIONS.filter((candidate) => !applied.has(candidate.version))) {
      await client.query(migration.sql);
      await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [migration.version, now]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** `name` as a quoted SQL identifier (names are validated before they get here; quotes are doubled anyway). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
