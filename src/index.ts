// The Probot app function: composition only. Each concern lives in its own module.
import type { ApplicationFunctionOptions, Probot } from "probot";
import { setUpAllowlist } from "./allowlist/control-plane.js";
import { ConfigError, loadConfig } from "./config.js";
import { createDispatchService, type DispatchService } from "./dispatch/service.js";
import { healthRoutes, type ReadinessCheck } from "./http/health.js";
import { createRouter } from "./http/router.js";
import { setUpCallbacks } from "./callback/setup.js";
import { setUpHud } from "./hud/setup.js";
import { createMetrics } from "./metrics.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import type { Store } from "./store/store.js";
import { handleUpstreamEvents } from "./upstream/handlers.js";

export interface AppDependencies {
  /** Environment to configure from (tests pass their own). */
  env?: Record<string, string | undefined>;
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
    const config = loadOrReport(app, deps.env ?? process.env);
    const metrics = createMetrics();
    // Filled in as components are created; /readyz reads it on every request.
    const readiness: Record<string, ReadinessCheck> = {};
    // Opened on first use, so a config-repo workflow step (`probot receive`) never creates DATA_DIR.
    let store: Store | undefined;
    let service: DispatchService | undefined;
    const openStore = () => (store ??= openSqliteStore(config.dataDir));
    const dispatch = () => (service ??= createDispatchService(app, { config, store: openStore(), allowlist, metrics }));

    const callbacks = setUpCallbacks(app, {
      config,
      metrics,
      store: openStore,
      allowlist: () => allowlist.current(),
      upstreamCommit: (sha) => dispatch().upstreamCommit(sha),
      onWork: () => {
        service?.worker.notify();
        hud.notify();
      },
    });
    const hud = setUpHud(app, { config, metrics, store: openStore, allowlist: () => allowlist.current() });
    const serverMode = mountRoutes(addHandler, createRouter([...healthRoutes(readiness, metrics), callbacks, ...hud.routes]));
    const allowlist = setUpAllowlist(app, { config, metrics, serverMode });
    readiness.allowlist = () => allowlist.readiness();
    handleUpstreamEvents(app, {
      config,
      allowlist,
      store: openStore,
      installations: () => dispatch().installations,
      clients: () => dispatch().clients,
      log: app.log.child({ name: "upstream" }),
      metrics,
      onWork: () => service?.worker.notify(),
    });

    if (config.tickets.ephemeral) {
      app.log.warn("RELAY_TICKET_SECRET is not set: using a random secret, so dispatch tickets will not survive a restart");
    }
    if (serverMode) {
      const running = dispatch();
      readiness.dispatch = () => running.readiness();
      readiness.hud = () => hud.readiness();
      running.start();
      hud.start();
      const stop = async () => {
        await running.stop();
        await hud.stop();
      };
      deps.onRunning?.({ dispatch: running, stop });
      if (deps.gracefulShutdown ?? true) {
        // Record the outcome of requests on the wire before exiting, so a deploy is not a crash.
        process.once("SIGTERM", () => void stop().finally(() => process.exit(0)));
      }
      await allowlist.start();
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

/**
 * Mounts the relay's HTTP routes. Under `probot receive` there is no server and Probot's `addHandler`
 * throws; the app then runs handlers only (returns false).
 */
function mountRoutes(addHandler: ApplicationFunctionOptions["addHandler"], router: ReturnType<typeof createRouter>): boolean {
  try {
    addHandler(router);
    return true;
  } catch {
    return false;
  }
}

export default createApp();
