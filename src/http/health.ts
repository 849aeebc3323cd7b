// Liveness, readiness and Prometheus routes.
import type { RelayMetrics } from "../metrics.js";
import { sendJson, type Route } from "./router.js";

export interface ReadinessReport {
  /** False makes /readyz answer 503. */
  ready: boolean;
  details: Record<string, unknown>;
}

/** A component's view of whether the relay can do its work; read on every /readyz request. */
export type ReadinessCheck = () => ReadinessReport;

export function healthRoutes(checks: Record<string, ReadinessCheck>, metrics: RelayMetrics): Route[] {
  return [
    {
      method: "GET",
      path: "/healthz",
      handler: (_req, res) => sendJson(res, 200, { status: "ok" }),
    },
    {
      method: "GET",
      path: "/readyz",
      handler: (_req, res) => {
        const reports = Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, check()]));
        const ready = Object.values(reports).every((report) => report.ready);
        sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks: reports });
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
