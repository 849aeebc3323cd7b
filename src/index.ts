// The Probot app function: composition only. Each concern lives in its own module.
import type { ApplicationFunctionOptions, Probot } from "probot";
import { setUpAllowlist } from "./allowlist/control-plane.js";
import { ConfigError, loadConfig } from "./config.js";
import { healthRoutes, type ReadinessCheck } from "./http/health.js";
import { createRouter } from "./http/router.js";
import { createMetrics } from "./metrics.js";

export interface AppDependencies {
  /** Environment to configure from (tests pass their own). */
  env?: Record<string, string | undefined>;
}

export function createApp(deps: AppDependencies = {}) {
  return async (app: Probot, { addHandler }: ApplicationFunctionOptions): Promise<void> => {
    const config = loadOrReport(app, deps.env ?? process.env);
    const metrics = createMetrics();
    // Filled in as components are created; /readyz reads it on every request.
    const readiness: Record<string, ReadinessCheck> = {};
    const serverMode = mountRoutes(addHandler, createRouter(healthRoutes(readiness, metrics)));
    const allowlist = setUpAllowlist(app, { config, metrics, serverMode });
    readiness.allowlist = () => allowlist.readiness();
    if (config.tickets.ephemeral) {
      app.log.warn("RELAY_TICKET_SECRET is not set: using a random secret, so dispatch tickets will not survive a restart");
    }
    if (serverMode) await allowlist.start();
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
