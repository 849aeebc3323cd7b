// Check-run and timeout settings shared by callbacks, the sweeper and label handling, from configuration.
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import type { StateContext, StateSettings } from "./context.js";

/** The state core's settings plus the sweeper's timeouts. */
export interface SweepSettings extends StateSettings {
  jobTimeoutMs: number;
  startTimeoutMs: number;
}

/** How callbacks and the sweeper render check runs and time jobs out, from configuration. */
export function callbackSettings(config: RelayConfig): SweepSettings {
  return {
    checkPrefix: config.labels.checkPrefix,
    ...(config.labels.crcrNames && { crcrNames: true }),
    labelPrefix: config.labels.prefix,
    maxJobChecksPerBackend: config.checks.maxJobChecksPerBackend,
    webBaseUrl: config.github.webBaseUrl,
    publicUrl: config.publicUrl,
    checkUpdateDelayMs: config.callback.checkUpdateDelayMs,
    runEndWaitMs: config.callback.runEndWaitMs,
    trackedRunWaitMs: config.callback.jobTimeoutMs,
    jobTimeoutMs: config.callback.jobTimeoutMs,
    startTimeoutMs: config.callback.startTimeoutMs,
    ...(config.callback.nonBlockingFailureConclusion && { nonBlockingFailureConclusion: config.callback.nonBlockingFailureConclusion }),
    ...(config.callback.trunkFailureConclusion === "neutral" && { trunkFailureConclusion: "neutral" as const }),
    ...(config.callback.oncallComments && { oncallComments: true }),
    ...(Object.keys(config.callback.oncallWebhooks).length > 0 && { oncallWebhooks: new Set(Object.keys(config.callback.oncallWebhooks)) }),
    ...(config.crcrExport && { crcrExport: true }),
  };
}

/** The state core's context for an event handled now, with the allowlist in force. */
export function stateContextOf(config: RelayConfig, allowlist: Allowlist | undefined, upstreamInstallationId?: number): StateContext {
  return {
    allowlist,
    settings: callbackSettings(config),
    now: Date.now(),
    ...(upstreamInstallationId !== undefined && { upstreamInstallationId }),
  };
}
