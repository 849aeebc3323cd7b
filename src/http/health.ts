// Liveness, readiness and Prometheus routes. /readyz is public, so it answers one word per component;
// the details (error text, repo names) go to the log when a component's state changes.
import type { Logger } from "pino";
import { observeComponents, type RelayMetrics } from "../metrics.js";
import { sendJson, type Route } from "./router.js";

export interface ReadinessReport {
  /** False makes /readyz answer 503. */
  ready: boolean;
  /** Working, but not all of it (e.g. a backend without the App): reported, /readyz still answers 200. */
  degraded?: boolean;
  /** For the log only, never served: may hold error text and repo names. */
  details: Record<string, unknown>;
}

/** A component's view of whether the relay can do its work; read on every /readyz request and scrape. */
export type ReadinessCheck = () => ReadinessReport | Promise<ReadinessReport>;

export type ComponentState = "ready" | "not ready" | "degraded";

export function healthRoutes(checks: Record<string, ReadinessCheck>, metrics: RelayMetrics, log: Logger): Route[] {
  const readiness = readinessMonitor(checks, log);
  observeComponents(metrics, async () => (await readiness()).states);
  return [
    {
      method: "GET",
      path: "/healthz",
      handler: (_req, res) => sendJson(res, 200, { status: "ok" }),
    },
    {
      method: "GET",
      path: "/readyz",
      handler: async (_req, res) => {
        const { ready, states } = await readiness();
        sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks: states });
      },
    },
    {
      method: "GET",
      path: "/metrics",
      handler: async (_req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(text);
      },
    },
  ];
}

/** Evaluates every check; logs a component's details once each time its state changes. */
function readinessMonitor(checks: Record<string, ReadinessCheck>, log: Logger) {
  // Components start out "ready", so a healthy start logs nothing.
  const previous = new Map<string, ComponentState>();
  return async (): Promise<{ ready: boolean; states: Record<string, ComponentState> }> => {
    const states: Record<string, ComponentState> = {};
    let ready = true;
    for (const [component, check] of Object.entries(checks)) {
      const report = await reportOf(check);
      const state = stateOf(report);
      states[component] = state;
      ready &&= report.ready;
      if (state === (previous.get(component) ?? "ready")) continue;
      previous.set(component, state);
      const line = { component, state, details: report.details };
      if (state === "ready") log.info(line, `${component} is ready again`);
      else log.warn(line, `${component} is ${state}`);
    }
    return { ready, states };
  };
}

/** A check that throws (say, its store read failed) is a component that is not ready. */
async function reportOf(check: ReadinessCheck): Promise<ReadinessReport> {
  try {
    return await check();
  } catch (error) {
    return { ready: false, details: { error: error instanceof Error ? error.message : String(error) } };
  }
}

function stateOf(report: ReadinessReport): ComponentState {
  if (!report.ready) return "not ready";
  return report.degraded ? "degraded" : "ready";
}
