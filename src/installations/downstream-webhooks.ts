// The downstream App's deliveries (same webhook URL, its own secret). It subscribes to no events; GitHub
// still sends it `installation` and `installation_repositories`, which keep its installations current.
// Any other event it might be sent is ignored: only the primary App's deliveries start relay work.
import { Webhooks } from "@octokit/webhooks";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import type { RelayMetrics } from "../metrics.js";
import type { WebhookReceiver } from "../http/webhook-route.js";
import type { InstallationDirectory } from "./directory.js";

export interface DownstreamWebhookDependencies {
  config: RelayConfig;
  metrics: RelayMetrics;
  installations: () => InstallationDirectory;
  allowlist: () => Allowlist | undefined;
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
  return [{ name: "downstream-app", secrets: [secret], webhooks }];
}
