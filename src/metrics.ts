// Prometheus metrics: one registry per relay instance (tests create their own), every metric defined here.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { HudQueueStats, OutboxStats } from "./store/store.js";

/** Seconds, from a fast local answer to GitHub's 10 s webhook limit and beyond. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RelayMetrics {
  registry: Registry;
  allowlistReloads: Counter<"source" | "outcome">;
  allowlistInvalidVersions: Counter<"source">;
  allowlistLastSuccess: Gauge;
  allowlistBackends: Gauge<"level">;
  allowlistChecks: Counter<"conclusion">;
  webhooks: Counter<"event" | "outcome">;
  dispatches: Counter<"outcome" | "reason">;
  outboxRetries: Counter<"kind" | "reason">;
  outboxStoreFailing: Gauge;
  storeRowsPruned: Counter<"table">;
  githubRequests: Counter<"method" | "status">;
  /** Latency histograms: what an operator alerts on (docs/dispatch.md "Metrics"). */
  webhookSeconds: Histogram<"status">;
  callbackSeconds: Histogram<"route" | "status">;
  githubRequestSeconds: Histogram<"route" | "status">;
  hudInsertSeconds: Histogram<"table">;
  githubPauses: Counter<"reason">;
  redeliveries: Counter<"outcome">;
  reconcilerPasses: Counter<"outcome">;
  backgroundJobRuns: Counter<"job" | "outcome">;
  healthAuditActions: Counter<"action" | "outcome">;
  leader: Gauge;
  reconciledDispatches: Counter;
  callbacks: Counter<"status">;
  legacyCallbacks: Counter<"status">;
  callbackOutcomes: Counter<"repo" | "outcome">;
  hudRowsWritten: Counter<"table">;
  hudWriteErrors: Counter;
  hudRowsRejected: Counter<"table">;
  hudWriterFailingSince: Gauge;
  crcrExportRows: Counter<"outcome">;
  crcrExportErrors: Counter;
  crcrExportFailingSince: Gauge;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): RelayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "relay_" });
  return {
    registry,
    allowlistReloads: new Counter({
      name: "relay_allowlist_reloads_total",
      help: "Allowlist load attempts by source kind and outcome (loaded, unchanged, invalid, error).",
      labelNames: ["source", "outcome"],
      registers: [registry],
    }),
    allowlistInvalidVersions: new Counter({
      name: "relay_allowlist_invalid_versions_total",
      help: "New allowlist versions rejected as invalid; the last good version stayed in force.",
      labelNames: ["source"],
      registers: [registry],
    }),
    allowlistLastSuccess: new Gauge({
      name: "relay_allowlist_last_success_timestamp_seconds",
      help: "Unix time of the last successful allowlist load or revalidation.",
      registers: [registry],
    }),
    allowlistBackends: new Gauge({
      name: "relay_allowlist_backends",
      help: "Backends in the allowlist in force, by level.",
      labelNames: ["level"],
      registers: [registry],
    }),
    allowlistChecks: new Counter({
      name: "relay_allowlist_pr_checks_total",
      help: "`allowlist / validate` check runs posted on config-repo pull requests, by conclusion.",
      labelNames: ["conclusion"],
      registers: [registry],
    }),
    webhooks: new Counter({
      name: "relay_webhooks_total",
      help: "Webhook deliveries handled, by event and outcome (accepted, duplicate, replayed, ignored, error).",
      labelNames: ["event", "outcome"],
      registers: [registry],
    }),
    dispatches: new Counter({
      name: "relay_dispatches_total",
      help: "Dispatch outcomes per downstream: sent, skipped, failed, dead (with the reason for the last three).",
      labelNames: ["outcome", "reason"],
      registers: [registry],
    }),
    outboxRetries: new Counter({
      name: "relay_outbox_retries_total",
      help: "Outbox requests scheduled for another attempt, by task kind and reason.",
      labelNames: ["kind", "reason"],
      registers: [registry],
    }),
    outboxStoreFailing: new Gauge({
      name: "relay_outbox_store_failing",
      help: "1 while the outbox worker is paused because the store fails (no GitHub request starts), else 0.",
      registers: [registry],
    }),
    storeRowsPruned: new Counter({
      name: "relay_store_rows_pruned_total",
      help: "Settled rows deleted from the SQLite store by retention, by table.",
      labelNames: ["table"],
      registers: [registry],
    }),
    githubRequests: new Counter({
      name: "relay_github_requests_total",
      help: "GitHub API requests made by the outbox and background jobs, by method and response status.",
      labelNames: ["method", "status"],
      registers: [registry],
    }),
    webhookSeconds: new Histogram({
      name: "relay_webhook_seconds",
      help: "Time from a webhook delivery's arrival to the relay's answer (GitHub waits at most 10 s), by HTTP status answered.",
      labelNames: ["status"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    callbackSeconds: new Histogram({
      name: "relay_callback_seconds",
      help: "Time to answer a callback (verification, body, stored state change), by route (relay: /relay/callback, legacy: /github/callback) and HTTP status.",
      labelNames: ["route", "status"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    githubRequestSeconds: new Histogram({
      name: "relay_github_request_seconds",
      help: "GitHub API request latency, by route template (e.g. POST /repos/{owner}/{repo}/dispatches) and status (or error).",
      labelNames: ["route", "status"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    hudInsertSeconds: new Histogram({
      name: "relay_hud_insert_seconds",
      help: "Time of one batch insert of the HUD writer into ClickHouse, by table.",
      labelNames: ["table"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    githubPauses: new Counter({
      name: "relay_github_pauses_total",
      help: "Pauses of every outbox write of an installation: secondary_rate_limit, rate_limited (403/429), primary_reserve.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    callbacks: new Counter({
      name: "relay_callbacks_total",
      help: "Callbacks on /relay/callback by HTTP status answered.",
      labelNames: ["status"],
      registers: [registry],
    }),
    legacyCallbacks: new Counter({
      name: "relay_legacy_callbacks_total",
      help: "Callbacks with the production relay's body on /github/callback (migration; docs/pytorch.md) by HTTP status answered.",
      labelNames: ["status"],
      registers: [registry],
    }),
    callbackOutcomes: new Counter({
      name: "relay_callback_outcomes_total",
      help: "Callbacks by outcome and downstream repo: allowlisted repos by name, other verified repos as (other), the rest as (unverified).",
      labelNames: ["repo", "outcome"],
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: "relay_redeliveries_total",
      help: "Failed webhook deliveries the relay asked GitHub to redeliver, by outcome.",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    backgroundJobRuns: new Counter({
      name: "relay_background_job_runs_total",
      help: "Runs of the background jobs on this replica while it leads, by job (sweeper, retention, ...) and outcome (done, failed).",
      labelNames: ["job", "outcome"],
      registers: [registry],
    }),
    healthAuditActions: new Counter({
      name: "relay_health_audit_actions_total",
      help: "Health audit issue actions by action (create, update, close) and outcome (done, failed, deferred: over the run's write bound, left to the next run).",
      labelNames: ["action", "outcome"],
      registers: [registry],
    }),
    leader: new Gauge({
      name: "relay_leader",
      help: "1 while this replica runs the background jobs and the HUD writer (one replica at a time), else 0.",
      registers: [registry],
    }),
    reconcilerPasses: new Counter({
      name: "relay_reconciler_passes_total",
      help: "Passes of the dispatch reconciler over the upstream's open pull requests, by outcome (done, no_allowlist, error).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    reconciledDispatches: new Counter({
      name: "relay_reconciled_dispatches_total",
      help: "Dispatches the reconciler sent that no webhook had caused (missed deliveries, late installs, new backends).",
      registers: [registry],
    }),
    hudRowsWritten: new Counter({
      name: "relay_hud_rows_written_total",
      help: "Rows written to ClickHouse by the HUD writer, by table.",
      labelNames: ["table"],
      registers: [registry],
    }),
    hudWriteErrors: new Counter({
      name: "relay_hud_write_errors_total",
      help: "Failed ClickHouse writes (connection or insert); the rows stay queued and are retried.",
      registers: [registry],
    }),
    hudRowsRejected: new Counter({
      name: "relay_hud_rows_rejected_total",
      help: "Queued HUD rows set aside as malformed or refused by ClickHouse (kept in the store with the reason, not retried).",
      labelNames: ["table"],
      registers: [registry],
    }),
    hudWriterFailingSince: new Gauge({
      name: "relay_hud_writer_failing_since_seconds",
      help: "Unix time the HUD writer's current run of failed writes began; 0 while writes succeed.",
      registers: [registry],
    }),
    crcrExportRows: new Counter({
      name: "relay_crcr_export_rows_total",
      help: "Results exported in the crcr_workflow_job shape (CRCR_CLICKHOUSE_URL or TORCHCI_RESULTS_URL), by outcome: exported, rejected (set aside with the reason).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    crcrExportErrors: new Counter({
      name: "relay_crcr_export_errors_total",
      help: "Failed crcr export attempts (destination down or answering 5xx, 429, 401, …); the rows stay queued and are retried.",
      registers: [registry],
    }),
    crcrExportFailingSince: new Gauge({
      name: "relay_crcr_export_failing_since_seconds",
      help: "Unix time the crcr export's current run of failed attempts began; 0 while it succeeds.",
      registers: [registry],
    }),
  };
}

/** A store queue's depth and the age of its oldest entry (0 when empty), read at scrape time. */
function observeQueue(
  metrics: RelayMetrics,
  queue: { pending: string; pendingHelp: string; age: string; ageHelp: string },
  stats: () => Promise<{ pending: number; oldestPendingAt?: number }>,
  now: () => number,
): void {
  new Gauge({
    name: queue.pending,
    help: queue.pendingHelp,
    registers: [metrics.registry],
    async collect() {
      this.set((await stats()).pending);
    },
  });
  new Gauge({
    name: queue.age,
    help: queue.ageHelp,
    registers: [metrics.registry],
    async collect() {
      const oldest = (await stats()).oldestPendingAt;
      this.set(oldest === undefined ? 0 : (now() - oldest) / 1000);
    },
  });
}

/** Outbox depth, age and dead letters, read from the store at scrape time. */
export function observeOutbox(metrics: RelayMetrics, stats: () => Promise<OutboxStats>, now: () => number = Date.now): void {
  observeQueue(
    metrics,
    {
      pending: "relay_outbox_pending",
      pendingHelp: "Outbox tasks (dispatches, check-run writes) waiting to be sent.",
      age: "relay_outbox_oldest_pending_age_seconds",
      ageHelp: "Age of the oldest outbox task still waiting (0 when none).",
    },
    stats,
    now,
  );
  new Gauge({
    name: "relay_outbox_dead",
    help: "Outbox tasks given up after their maximum age (dead-lettered).",
    registers: [metrics.registry],
    async collect() {
      this.set((await stats()).dead);
    },
  });
}

/** Webhook body bytes held in memory right now, against their shared budget, read at scrape time. */
export function observeWebhookBodies(metrics: RelayMetrics, inUse: () => number): void {
  new Gauge({
    name: "relay_webhook_body_bytes_in_flight",
    help: "Webhook body bytes being read or handled right now (bounded by RELAY_WEBHOOK_INFLIGHT_BYTES).",
    registers: [metrics.registry],
    collect() {
      this.set(inUse());
    },
  });
}

/** Installations whose outbox writes are paused by GitHub's rate limits, read at scrape time. */
export function observePausedInstallations(metrics: RelayMetrics, paused: () => number): void {
  new Gauge({
    name: "relay_github_paused_installations",
    help: "Installations whose outbox writes are paused until GitHub's Retry-After or rate-limit reset.",
    registers: [metrics.registry],
    collect() {
      this.set(paused());
    },
  });
}

/** HUD queue depth and age, read from the store at scrape time. */
export function observeHudQueue(metrics: RelayMetrics, stats: () => Promise<HudQueueStats>, now: () => number = Date.now): void {
  observeQueue(
    metrics,
    {
      pending: "relay_hud_rows_pending",
      pendingHelp: "HUD rows waiting in the store to be written to ClickHouse.",
      age: "relay_hud_oldest_pending_age_seconds",
      ageHelp: "Age of the oldest HUD row waiting to be written (0 when none).",
    },
    stats,
    now,
  );
}

/** The crcr export's queue depth and age, read from the store at scrape time. */
export function observeCrcrQueue(metrics: RelayMetrics, stats: () => Promise<HudQueueStats>, now: () => number = Date.now): void {
  observeQueue(
    metrics,
    {
      pending: "relay_crcr_export_rows_pending",
      pendingHelp: "Results waiting in the store to be exported in the crcr_workflow_job shape.",
      age: "relay_crcr_export_oldest_pending_age_seconds",
      ageHelp: "Age of the oldest result waiting to be exported in the crcr_workflow_job shape (0 when none).",
    },
    stats,
    now,
  );
}

/** Each readiness component as 1 (ready) or 0 (not ready or degraded), read at scrape time. */
export function observeComponents(metrics: RelayMetrics, states: () => Promise<Record<string, string>>): void {
  new Gauge({
    name: "relay_component_ready",
    help: "1 when a component is ready, 0 when it is not ready or degraded (the log says why).",
    labelNames: ["component"],
    registers: [metrics.registry],
    async collect() {
      const current = await states();
      this.reset();
      for (const [component, state] of Object.entries(current)) this.set({ component }, state === "ready" ? 1 : 0);
    },
  });
}
