// The Probot app function: composition only. Each concern lives in its own module.
import type { ApplicationFunctionOptions, Probot } from "probot";
import { promotionReviewer } from "./levels/promotion-review.js";
import { setUpAllowlist } from "./allowlist/control-plane.js";
import { ConfigError, loadConfig, type RelayConfig } from "./config.js";
import { createDispatchService, type DispatchService } from "./dispatch/service.js";
import { healthRoutes, type ReadinessCheck } from "./http/health.js";
import { createRouter } from "./http/router.js";
import { repoClientProvider } from "./github/client.js";
import { startRelayJobs, type RelayJobsDeps } from "./scheduler/jobs.js";
import { setUpCallbacks } from "./callback/setup.js";
import { setUpHud } from "./hud/setup.js";
import { setUpCrcrExport } from "./export/setup.js";
import { gateRoute } from "./gate/route.js";
import { downstreamWebhookReceivers } from "./installations/downstream-webhooks.js";
import { createMetrics, observeWebhookBodies } from "./metrics.js";
import { ByteBudget } from "./http/byte-budget.js";
import { webhookRoute, type WebhookReceiver } from "./http/webhook-route.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import { openPostgresStore } from "./store/postgres-store.js";
import { SOLE_LEADER, type Leadership } from "./scheduler/leadership.js";
import { advisoryLockLeadership } from "./scheduler/advisory-lock-leadership.js";
import { relayBudgets } from "./budgets.js";
import type { Store } from "./store/store.js";
import { handleUpstreamEvents } from "./upstream/handlers.js";
import { RUN_EVENTS, runEventHandler } from "./run-tracking/webhooks.js";
import { receiveSummary } from "./upstream/receive-summary.js";

/**
 * How the app runs. "server" (the relay's server entry): routes mounted, the allowlist kept fresh, the
 * outbox worker and periodic jobs running. "receive" (`probot receive`): handlers only; the allowlist is
 * read once before the event, nothing runs in the background (the process exits when the event is
 * handled), and what the handlers stored is logged in one line: it is sent once a server runs on DATA_DIR.
 */
export type AppMode = "server" | "receive";

export interface AppDependencies {
  /**
   * Unset in the default export, which both `probot receive` and `probot run` (local experiments) load:
   * detected then, "receive" when Probot's `addHandler` throws for want of a server, else "server".
   */
  mode?: AppMode;
  /** Environment to configure from (tests pass their own). */
  env?: Record<string, string | undefined>;
  /** Configuration already loaded from `env` (the relay's server entry loads it first). */
  config?: RelayConfig;
  /** Receives the running relay (tests use it to watch the dispatch worker and to stop everything). */
  onRunning?: (relay: RunningParts) => void;
  /** Finish in-flight GitHub requests on SIGTERM before exiting (default true; tests turn it off). */
  gracefulShutdown?: boolean;
}

export interface RunningParts {
  dispatch: DispatchService;
  /** Stops the background work: in-flight GitHub requests finish, the HUD writes what it can, stores close. */
  stop(): Promise<void>;
}

export function createApp(deps: AppDependencies = {}) {
  return async (app: Probot, { addHandler }: ApplicationFunctionOptions): Promise<void> => {
    const config = deps.config ?? loadOrReport(app, deps.env ?? process.env);
    const metrics = createMetrics();
    // Filled in as components are created; /readyz reads it on every request.
    const readiness: Record<string, ReadinessCheck> = {};
    // SQLite is opened on first use, so a config-repo workflow step (`probot receive`) never creates
    // DATA_DIR; PostgreSQL (DATABASE_URL) before anything else, since its migrations may wait for another
    // replica's.
    const { database } = config;
    const postgres = database.kind === "postgres" ? await openPostgresStore({ connectionString: database.url, schema: database.schema }) : undefined;
    let store: Store | undefined = postgres;
    let service: DispatchService | undefined;
    const openStore = () => (store ??= openSqliteStore(config.dataDir));
    // Of several replicas, one runs the background jobs and the HUD writer (set in server mode).
    let leadership: Leadership = SOLE_LEADER;
    // Rate budgets: in this process, or shared by every replica on PostgreSQL.
    const budgets = relayBudgets(config, postgres);
    const dispatch = () => (service ??= createDispatchService(app, { config, store: openStore(), allowlist, metrics, writeBudget: budgets.writes }));

    // Reports and GitHub's run events move check runs and add HUD rows.
    const onResults = () => {
      service?.worker.notify();
      hud.notify();
    };
    const runEvents = runEventHandler({ config, metrics, store: openStore, allowlist: () => allowlist.current(), onWork: onResults });
    const callbacks = setUpCallbacks(app, {
      config,
      callbackBudget: budgets.callbacks,
      metrics,
      store: openStore,
      allowlist: () => allowlist.current(),
      upstreamCommit: (sha, reportingRepo) => dispatch().upstreamCommit(sha, reportingRepo),
      onWork: onResults,
    });
    const hud = setUpHud(app, { config, metrics, store: openStore, allowlist: () => allowlist.current(), leader: () => leadership.isLeader() });
    // Results also exported to hud.pytorch.org's crcr_workflow_job (CRCR_CLICKHOUSE_URL or TORCHCI_RESULTS_URL; docs/pytorch.md).
    const crcrExport = setUpCrcrExport({ config, metrics, store: openStore, leader: () => leadership.isLeader(), log: app.log });
    const webhookBodies = new ByteBudget(config.http.webhookInflightBytes);
    observeWebhookBodies(metrics, () => webhookBodies.inUse);
    const webhooks = webhookRoute({
      path: config.webhookPath,
      maxBytes: config.http.webhookMaxBytes,
      budget: webhookBodies,
      receivers: [appReceiver(app, config), ...downstreamWebhookReceivers({ config, metrics, installations: () => dispatch().installations, allowlist: () => allowlist.current(), runEvents })],
      log: app.log.child({ component: "webhooks" }),
      latency: metrics.webhookSeconds,
    });
    const gate = gateRoute({ config, store: openStore, allowlist: () => allowlist.current(), log: app.log.child({ component: "gate" }) });
    const routes = [webhooks, ...healthRoutes(readiness, metrics, app.log.child({ component: "readiness" })), ...callbacks, ...hud.routes, gate];
    const mode = mountRoutes(addHandler, createRouter(routes), deps.mode);
    // A promotion on an allowlist PR is judged by the backend's measured health (server mode: the HUD
    // holds the history; a workflow step under `probot receive` has none).
    const { promotionHealth } = config.allowlist;
    const review = mode === "server" && promotionHealth !== "off" ? promotionReviewer({ health: (days) => hud.health(days), policy: promotionHealth }) : undefined;
    const allowlist = setUpAllowlist(app, { config, metrics, serverMode: mode === "server", ...(review && { review }) });
    readiness.allowlist = () => allowlist.readiness();
    handleUpstreamEvents(app, {
      config,
      allowlist,
      store: openStore,
      installations: () => dispatch().installations,
      clients: () => dispatch().clients,
      log: app.log.child({ component: "upstream" }),
      metrics,
      onWork: () => service?.worker.notify(),
      ...(mode === "receive" && {
        onIntake: (intake) => app.log.info({ delivery: intake.deliveryId, outcome: intake.outcome }, receiveSummary(intake, config.dataDir)),
      }),
    });

    // Downstream repos' runs (the App is installed there to dispatch): run tracking, src/run-tracking/.
    for (const name of RUN_EVENTS) app.on(name, (context) => runEvents(name, context.payload));

    if (database.kind === "postgres" && config.clickhouse.kind === "embedded") {
      app.log.warn(
        "DATABASE_URL is set but CLICKHOUSE_URL is not: each replica's HUD is its own embedded ClickHouse, written only while it leads; with several replicas set CLICKHOUSE_URL (docs/deploy.md)",
      );
    }
    if (config.tickets.ephemeral) {
      app.log.warn("RELAY_TICKET_SECRET is not set: using a random secret, so dispatch tickets will not survive a restart");
    }
    if (mode === "server") {
      if (database.kind === "postgres") {
        leadership = advisoryLockLeadership({
          connectionString: database.url,
          scope: database.schema,
          retryMs: database.leaderCheckMs,
          log: app.log.child({ component: "leadership" }),
        });
      }
      const running = dispatch();
      readiness.dispatch = () => running.readiness();
      readiness.hud = () => hud.readiness();
      if (crcrExport) readiness.crcrExport = () => crcrExport.readiness();
      running.start();
      // The health audit writes issues on its repo with the primary App's installation there (docs/levels.md).
      let healthAudit: RelayJobsDeps["healthAudit"];
      if (config.audit) {
        const auditRepo = repoClientProvider(app, config.audit.repo);
        healthAudit = { ...config.audit, client: () => auditRepo.get(), healthByWeek: (weeks, end) => hud.healthByWeek(weeks, end) };
      }
      // The jobs log under the dispatch logger's name, as they did when they ran inside the dispatch service.
      const jobs = startRelayJobs({ config, store: openStore(), allowlist, metrics, dispatch: running, log: app.log.child({ component: "dispatch" }), leadership, ...(healthAudit && { healthAudit }) });
      hud.start();
      crcrExport?.start();
      const stop = async () => {
        jobs.stop();
        await running.stop();
        await hud.stop();
        await crcrExport?.stop();
        await leadership.stop();
        // A pool of connections would keep the process alive; the SQLite file needs no closing (WAL).
        if (database.kind === "postgres") await store?.close();
      };
      deps.onRunning?.({ dispatch: running, stop });
      if (deps.gracefulShutdown ?? true) {
        // Record the outcome of requests on the wire before exiting, so a deploy is not a crash.
        process.once("SIGTERM", () => void stop().finally(() => process.exit(0)));
      }
      await allowlist.start();
    } else {
      // Read once, before any handler: Probot awaits the app function before it hands over the event.
      await allowlist.reload("probot receive");
    }
  };
}

function loadOrReport(app: Probot, env: Record<string, string | undefined>) {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) app.log.fatal(error.message);
    throw error;
  }
}

type AppWebhookEvent = Parameters<Probot["webhooks"]["receive"]>[0];

/** The App's own deliveries. Probot's fallback secret "development" only outside production. */
function appReceiver(app: Probot, config: RelayConfig): WebhookReceiver {
  const secrets = config.webhookSecrets.length > 0 || config.production ? config.webhookSecrets : ["development"];
  // The route passes any event name GitHub sends; @octokit/webhooks ignores names it has no handler for.
  return { name: "app", secrets, webhooks: { receive: (event) => app.webhooks.receive(event as AppWebhookEvent) } };
}

/** Mounts the relay's HTTP routes unless in receive mode; returns the mode, detected when unset. */
function mountRoutes(addHandler: ApplicationFunctionOptions["addHandler"], router: ReturnType<typeof createRouter>, mode: AppMode | undefined): AppMode {
  if (mode === "receive") return mode;
  if (mode === "server") {
    addHandler(router);
    return mode;
  }
  try {
    addHandler(router);
    return "server";
  } catch {
    return "receive";
  }
}

export default createApp();
