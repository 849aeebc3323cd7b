// The downstream App's deliveries (same webhook URL, its own secret). It subscribes to `workflow_run` and
// `workflow_job` (run tracking, src/run-tracking/); GitHub also sends it `installation` and
// `installation_repositories`, which keep its installations current. Any other event it might be sent is
// ignored: only the primary App's deliveries start dispatches.
import { Webhooks } from "@octokit/webhooks";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import type { RelayMetrics } from "../metrics.js";
import type { WebhookReceiver } from "../http/webhook-route.js";
import type { InstallationDirectory } from "./directory.js";
import { RUN_EVENTS, type RunEventName } from "../run-tracking/webhooks.js";

export interface DownstreamWebhookDependencies {
  config: RelayConfig;
  metrics: RelayMetrics;
  installations: () => InstallationDirectory;
  allowlist: () => Allowlist | undefined;
  /** Handles the downstream repos' workflow_run / workflow_job deliveries. */
  runEvents: (name: RunEventName, payload: unknown) => Promise<void>;
}

/** The downstream App's receiver, or none without DOWNSTREAM_WEBHOOK_SECRET (the periodic recheck then finds its installations). */
export function downstreamWebhookReceivers(deps: DownstreamWebhookDependencies): WebhookReceiver[] {
  const secret = deps.config.downstreamApp?.webhookSecret;
  if (secret === undefined) return [];
  const webhooks = new Webhooks({ secret });
  webhooks.on(["installation", "installation_repositories"], async ({ name, payload }) => {
    await deps.installations().follow(name, payload, (deps.allowlist()?.entries ?? []).map((entry) => entry.repo));
    deps.metrics.webhooks.inc({ event: name, outcome: "accepted" });
  });
  for (const name of RUN_EVENTS) webhooks.on(name, ({ payload }) => deps.runEvents(name, payload));
  return [{ name: "downstream-app", secrets: [secret], webhooks }];
}
