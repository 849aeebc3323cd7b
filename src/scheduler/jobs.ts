// The relay's background jobs (server mode only): installation rechecks, the sweeper, store retention,
// missed-delivery redelivery, the dispatch reconciler, the health audit, and applying each allowlist version
// to the open heads.
import type { Logger } from "pino";
import type { AllowlistSource } from "../allowlist/source.js";
import { callbackSettings } from "../state/settings.js";
import { sweep } from "../callback/sweeper.js";
import type { RelayConfig } from "../config.js";
import type { DispatchService } from "../dispatch/service.js";
import { runHealthAudit, type HealthAuditOptions } from "../levels/audit-job.js";
import type { RelayMetrics } from "../metrics.js";
import { reconcileOpenHeadsPage } from "../state/policy.js";
import type { HeadKey, Store } from "../store/store.js";
import { dispatchReconciler } from "../upstream/dispatch-reconciler.js";
import { redeliverMissed } from "../upstream/redelivery.js";
import { createScheduler, type Scheduler } from "./scheduler.js";
import { leaderOnly, type Leadership } from "./leadership.js";

const SWEEP_INTERVAL_MS = 60_000;
const PRUNE_INTERVAL_MS = 5 * 60_000;
/** Rows deleted per table per prune run: each table's transaction holds the write lock a few milliseconds. */
const PRUNE_ROWS_PER_TABLE = 1000;
/** Open heads reconciled per transaction when an allowlist version is applied. */
const OPEN_HEADS_PER_PAGE = 50;

/**
 * Events whose missed deliveries are worth asking GitHub for again. workflow_run (run tracking) comes last
 * (RUN_EVENTS_LAST): a busy downstream repo's many deliveries must not crowd out a missed PR event.
 * workflow_job is left out: a run's end decides its aggregate, and its job events are by far the most.
 */
export const HANDLED_EVENTS = new Set(["pull_request", "push", "check_run", "check_suite", "installation", "installation_repositories", "workflow_run"]);
const RUN_EVENTS_LAST = new Set(["workflow_run"]);

export interface RelayJobsDeps {
  config: RelayConfig;
  store: Store;
  allowlist: AllowlistSource;
  metrics: RelayMetrics;
  dispatch: Pick<DispatchService, "installations" | "clients" | "worker">;
  log: Logger;
  /** Whether this process runs the jobs now (several replicas: one at a time; src/scheduler/leadership.ts). */
  leadership: Leadership;
  /** The health audit (docs/levels.md), every `intervalMs`; absent when it is off. */
  healthAudit?: Pick<HealthAuditOptions, "repo" | "windows" | "client" | "healthByWeek"> & { intervalMs: number };
}

/** Starts the relay's background jobs; the returned scheduler's stop() clears their timers. */
export function startRelayJobs(deps: RelayJobsDeps): Scheduler {
  const { config, store, allowlist, metrics, dispatch, log, leadership } = deps;
  const { installations, clients, worker } = dispatch;
  const allowlisted = () => (allowlist.current()?.entries ?? []).map((entry) => entry.repo);
  const scheduler = createScheduler(log);
  /** Each periodic job, run now on demand: a replica that becomes leader runs them all at once. */
  const periodic: Array<() => void> = [];
  /** `job` every `ms` on the leader (counted per run); returns how to run it now. */
  const everyOnLeader = (name: string, ms: number, job: () => Promise<unknown>) => {
    const counted = async () => {
      try {
        await job();
        metrics.backgroundJobRuns.inc({ job: name, outcome: "done" });
      } catch (error) {
        metrics.backgroundJobRuns.inc({ job: name, outcome: "failed" });
        throw error;
      }
    };
    const runNow = scheduler.every(name, ms, leaderOnly(leadership, counted));
    periodic.push(runNow);
    return runNow;
  };

  /** Reconciles the open heads page by page, yielding between pages; a newer allowlist restarts the walk. */
  let walk = 0;
  async function reconcileOpenHeads(): Promise<void> {
    const mine = ++walk;
    let after: HeadKey | undefined;
    let queued = 0;
    do {
      if (mine !== walk) return;
      const page = await reconcileOpenHeadsPage(store, after, OPEN_HEADS_PER_PAGE, { allowlist: allowlist.current(), settings: callbackSettings(config), now: Date.now() });
      queued += page.queued;
      after = page.next;
      await new Promise((resolve) => setImmediate(resolve));
    } while (after);
    if (queued > 0) {
      log.info({ queued }, "allowlist applied to open heads");
      worker.notify();
    }
  }

  // Every allowlist version loaded (the first one after a restart too) is applied to every open head, by
  // the leader; a replica that becomes leader applies the one in force (its predecessor may have died
  // mid-walk).
  const applyAllowlist = () =>
    void leaderOnly(leadership, reconcileOpenHeads)().catch((error: unknown) => log.warn({ err: String(error) }, "could not apply the allowlist to open heads"));
  const recheckNow = everyOnLeader("installation recheck", config.installationRecheckMs, () => installations.refresh(allowlisted()));
  allowlist.onLoaded(() => {
    recheckNow();
    applyAllowlist();
  });
  if (allowlist.current()) applyAllowlist();
  metrics.leader.set(leadership.isLeader() ? 1 : 0);
  leadership.onChange((now) => {
    metrics.leader.set(now ? 1 : 0);
    if (!now) return;
    // The predecessor may have died minutes before its jobs' next turn (a sweep, a redelivery pass): the
    // new leader runs every job now rather than at its own next tick.
    for (const runNow of periodic) runNow();
    if (allowlist.current()) applyAllowlist();
  });

  everyOnLeader("sweeper", SWEEP_INTERVAL_MS, async () => {
    const current = allowlist.current();
    if (!current) return;
    const swept = await sweep(store, current, callbackSettings(config), Date.now());
    if (swept.timedOut + swept.neverReported + swept.runUnconfirmed > 0) {
      log.info(swept, "sweeper concluded silent jobs and backends");
      worker.notify();
    }
  });
  everyOnLeader("retention", PRUNE_INTERVAL_MS, async () => {
    const pruned = await store.prune(Date.now(), { retentionMs: config.stateRetentionMs, maxRowsPerTable: PRUNE_ROWS_PER_TABLE });
    for (const [table, rows] of Object.entries(pruned)) if (rows > 0) metrics.storeRowsPruned.inc({ table }, rows);
  });
  if (config.reconcile.intervalMs > 0) {
    const reconciler = dispatchReconciler({
      config,
      allowlist: () => allowlist.current(),
      store,
      installations,
      clients,
      metrics,
      log,
      onWork: () => worker.notify(),
    });
    const reconcileNow = everyOnLeader("dispatch reconciler", config.reconcile.intervalMs, () => reconciler.pass());
    // A new allowlist version may name backends that open heads never reached (a new or promoted backend).
    allowlist.onLoaded(() => reconcileNow());
  }
  if (deps.healthAudit) {
    const { intervalMs, ...audit } = deps.healthAudit;
    const auditLog = log.child({ component: "health-audit" });
    const auditNow = everyOnLeader("health audit", intervalMs, () => runHealthAudit({ ...audit, allowlist: () => allowlist.current(), metrics, log: auditLog }));
    // The run at start finds no allowlist yet; and a new version (a demotion merged, a requirement changed) may settle an issue.
    allowlist.onLoaded(() => auditNow());
  }
  if (config.redeliveryIntervalMs > 0) {
    everyOnLeader("redelivery", config.redeliveryIntervalMs, async () =>
      redeliverMissed(await clients.app(), {
        events: HANDLED_EVENTS,
        last: RUN_EVENTS_LAST,
        maxPerPass: 20,
        accepted: (guid) => store.hasDelivery(guid),
        log,
        metrics,
      }),
    );
  }
  return scheduler;
}
