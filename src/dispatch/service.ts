// The background side of dispatch: the outbox worker, installation rechecks, missed-delivery
// recovery, the sweeper and store retention. Runs only in server mode (`probot run`); under `probot receive` work stays in the store.
import type { Probot } from "probot";
import type { AllowlistSource } from "../allowlist/source.js";
import type { RelayConfig } from "../config.js";
import { callbackSettings } from "../callback/settings.js";
import { reconcileOpenHeadsPage } from "../state/policy.js";
import { recordDispatchOutcome } from "../state/reports.js";
import type { HeadKey } from "../store/store.js";
import { sweep } from "../callback/sweeper.js";
import type { ReadinessReport } from "../http/health.js";
import { downstreamApp } from "../github/downstream-app.js";
import { installationClients, type InstallationClients } from "../github/installation-clients.js";
import { observeOutbox, observePausedInstallations, type RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { appInstallations, type InstallationDirectory } from "../upstream/installations.js";
import { upstreamCommitChecker, type CommitChecker } from "../upstream/commit-check.js";
import { redeliverMissed } from "../upstream/redelivery.js";
import { OutboxWorker } from "./outbox-worker.js";
import { writeLimiter } from "../limits/sliding-window.js";

const SWEEP_INTERVAL_MS = 60_000;
const PRUNE_INTERVAL_MS = 5 * 60_000;
/** Rows deleted per table per prune run: each table's transaction holds the write lock a few milliseconds. */
const PRUNE_ROWS_PER_TABLE = 1000;
/** Open heads reconciled per transaction when an allowlist version is applied. */
const OPEN_HEADS_PER_PAGE = 50;


/** Events whose missed deliveries are worth asking GitHub for again. */
export const HANDLED_EVENTS = new Set(["pull_request", "push", "check_run", "check_suite", "installation", "installation_repositories"]);

export interface DispatchService {
  installations: InstallationDirectory;
  clients: InstallationClients;
  /** Whether a sha exists in the upstream repo (for self-reports), within the reporting repo's lookup budget. */
  upstreamCommit: CommitChecker;
  worker: OutboxWorker;
  /** Starts the worker and the periodic jobs. */
  start(): void;
  stop(): Promise<void>;
  readiness(): ReadinessReport;
}

export function createDispatchService(
  app: Probot,
  deps: { config: RelayConfig; store: Store; allowlist: AllowlistSource; metrics: RelayMetrics },
): DispatchService {
  const { config, store, allowlist, metrics } = deps;
  const log = app.log.child({ name: "dispatch" });
  // With a downstream App, `clients` picks each installation's App: dispatches and cancels go out as it.
  const { installations, clients } = appInstallations(store, installationClients(app, metrics), {
    log,
    recheckMs: config.installationRecheckMs,
    downstream: downstreamApp(config, metrics, log),
  });
  const worker = new OutboxWorker({
    store,
    clients,
    installations,
    limiter: writeLimiter({ perMinute: config.outbox.writesPerMinute, perHour: config.outbox.writesPerHour }),
    metrics,
    log,
    concurrency: config.outbox.concurrency,
    maxAgeMs: config.outbox.maxAgeMs,
    requestTimeoutMs: config.outbox.requestTimeoutMs,
    onDispatchFailed: (dispatch, outcome, reason) =>
      recordDispatchOutcome(store, dispatch, outcome, reason, { allowlist: allowlist.current(), settings: callbackSettings(config), now: Date.now() }),
  });
  observeOutbox(metrics, () => store.outboxStats());
  observePausedInstallations(metrics, () => worker.pausedInstallations());
  const allowlisted = () => (allowlist.current()?.entries ?? []).map((entry) => entry.repo);
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, job: () => Promise<unknown>) => {
    const run = () => void job().catch((error: unknown) => log.warn({ err: String(error) }, "background job failed"));
    run();
    const timer = setInterval(run, ms);
    timer.unref();
    timers.push(timer);
  };

  /** Reconciles the open heads page by page, yielding between pages; a newer allowlist restarts the walk. */
  let walk = 0;
  async function reconcileOpenHeads(): Promise<void> {
    const mine = ++walk;
    let after: HeadKey | undefined;
    let queued = 0;
    do {
      if (mine !== walk) return;
      const page = reconcileOpenHeadsPage(store, after, OPEN_HEADS_PER_PAGE, { allowlist: allowlist.current(), settings: callbackSettings(config), now: Date.now() });
      queued += page.queued;
      after = page.next;
      await new Promise((resolve) => setImmediate(resolve));
    } while (after);
    if (queued > 0) {
      log.info({ queued }, "allowlist applied to open heads");
      worker.notify();
    }
  }

  return {
    installations,
    clients,
    upstreamCommit: upstreamCommitChecker(clients, installations, config.upstream.repo, { ...config.selfReports, log }),
    worker,
    start() {
      worker.start();
      // Every allowlist version loaded (the first one after a restart too) is applied to every open head.
      const applyAllowlist = () =>
        void reconcileOpenHeads().catch((error: unknown) => log.warn({ err: String(error) }, "could not apply the allowlist to open heads"));
      allowlist.onLoaded((current) => {
        void installations.refresh(current.entries.map((entry) => entry.repo));
        applyAllowlist();
      });
      if (allowlist.current()) applyAllowlist();
      every(config.installationRecheckMs, () => installations.refresh(allowlisted()));
      every(SWEEP_INTERVAL_MS, () => {
        const current = allowlist.current();
        if (!current) return Promise.resolve();
        const swept = sweep(store, current, callbackSettings(config), Date.now());
        if (swept.timedOut + swept.neverReported > 0) {
          log.info(swept, "sweeper concluded silent jobs and backends");
          worker.notify();
        }
        return Promise.resolve();
      });
      every(PRUNE_INTERVAL_MS, () => {
        const pruned = store.prune(Date.now(), { retentionMs: config.stateRetentionMs, maxRowsPerTable: PRUNE_ROWS_PER_TABLE });
        for (const [table, rows] of Object.entries(pruned)) if (rows > 0) metrics.storeRowsPruned.inc({ table }, rows);
        return Promise.resolve();
      });
      if (config.redeliveryIntervalMs > 0) {
        every(config.redeliveryIntervalMs, async () =>
          redeliverMissed(await clients.app(), {
            events: HANDLED_EVENTS,
            maxPerPass: 20,
            accepted: (guid) => store.hasDelivery(guid),
            log,
            metrics,
          }),
        );
      }
    },
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await worker.stop();
    },
    readiness() {
      // Not ready while the store fails: the worker has paused, and stored tasks wait (docs/dispatch.md).
      const storeFailure = worker.storeFailure();
      if (storeFailure) return { ready: false, details: { storeFailure } };
      const notInstalled = installations.notInstalled(allowlisted());
      // Degraded while an allowlisted backend lacks the App: its dispatches are skipped.
      return { ready: true, degraded: notInstalled.length > 0, details: { outbox: store.outboxStats(), notInstalled } };
    },
  };
}
