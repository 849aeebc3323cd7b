// Prometheus metrics: one registry per relay instance (tests create their own), every metric defined here.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

export interface RelayMetrics {
  registry: Registry;
  allowlistReloads: Counter<"source" | "outcome">;
  allowlistInvalidVersions: Counter<"source">;
  allowlistLastSuccess: Gauge;
  allowlistBackends: Gauge<"level">;
  allowlistChecks: Counter<"conclusion">;
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
  };
}
