// The background side of dispatch: the outbox worker and what it sends with (installations, clients).
// Runs only in server mode (`probot run`); under `probot receive` work stays in the store. The periodic
// jobs (installation rechecks, sweeper, retention, redelivery, allowlist applied to open heads) are src/scheduler/.
import type { Probot } from "probot";
import type { AllowlistSource } from "../allowlist/source.js";
import type { RelayConfig } from "../config.js";
import { callbackSettings } from "../state/settings.js";
import { recordDispatchOutcome } from "../state/reports.js";
import type { ReadinessReport } from "../http/health.js";
import { downstreamApp } from "../installations/downstream-app.js";
import { installationClients, type InstallationClients } from "../github/installation-clients.js";
import { observeOutbox, observePausedInstallations, type RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import { appInstallations, type InstallationDirectory } from "../installations/directory.js";
import { upstreamCommitChecker, type CommitChecker } from "../installations/commit-check.js";
import { OutboxWorker } from "./outbox-worker.js";
import type { RateBudget } from "../limits/sliding-window.js";

export interface DispatchService {
  installations: InstallationDirectory;
  clients: InstallationClients;
  /** Whether a sha exists in the upstream repo (for self-reports), within the reporting repo's lookup budget. */
  upstreamCommit: CommitChecker;
  worker: OutboxWorker;
  /** Starts the worker (the periodic jobs are src/scheduler/jobs.ts). */
  start(): void;
  stop(): Promise<void>;
  readiness(): Promise<ReadinessReport>;
}

export function createDispatchService(
  app: Probot,
  deps: { config: RelayConfig; store: Store; allowlist: AllowlistSource; metrics: RelayMetrics; writeBudget: RateBudget<number> },
): DispatchService {
  const { config, store, allowlist, metrics } = deps;
  const log = app.log.child({ component: "dispatch" });
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
    limiter: deps.writeBudget,
    metrics,
    log,
    concurrency: config.outbox.concurrency,
    maxAgeMs: config.outbox.maxAgeMs,
    requestTimeoutMs: config.outbox.requestTimeoutMs,
    onDispatchFailed: (tx, dispatch, outcome, reason) =>
      recordDispatchOutcome(tx, dispatch, outcome, reason, { allowlist: allowlist.current(), settings: callbackSettings(config), now: Date.now() }),
    webhookUrl: (repo) => {
      const webhooks = config.callback.oncallWebhooks;
      return Object.hasOwn(webhooks, repo.toLowerCase()) ? webhooks[repo.toLowerCase()] : undefined;
    },
  });
  observeOutbox(metrics, () => store.outboxStats());
  observePausedInstallations(metrics, () => worker.pausedInstallations());
  const allowlisted = () => (allowlist.current()?.entries ?? []).map((entry) => entry.repo);
  return {
    installations,
    clients,
    upstreamCommit: upstreamCommitChecker(clients, installations, config.upstream.repo, { ...config.selfReports, log }),
    worker,
    start() {
      void worker.start();
    },
    async stop() {
      await worker.stop();
    },
    async readiness() {
      // Not ready while the store fails: the worker has paused, and stored tasks wait (docs/dispatch.md).
      const storeFailure = worker.storeFailure();
      if (storeFailure) return { ready: false, details: { storeFailure } };
      const notInstalled = await installations.notInstalled(allowlisted());
      // Degraded while an allowlisted backend lacks the App: its dispatches are skipped.
      return { ready: true, degraded: notInstalled.length > 0, details: { outbox: await store.outboxStats(), notInstalled } };
    },
  };
}
