// Wires POST /relay/callback: OIDC verification, the per-repo limit and report processing.
import type { Probot } from "probot";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import { ticketKeys } from "../dispatch/ticket.js";
import type { Route } from "../http/router.js";
import { SlidingWindowLimiter } from "../limits/sliding-window.js";
import type { RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import type { CommitCheck } from "../upstream/commit-check.js";
import { createOidcVerifier } from "./oidc.js";
import { processCallback } from "./process.js";
import { callbackRoute } from "./route.js";
import { callbackSettings } from "./settings.js";

export interface CallbackWiring {
  config: RelayConfig;
  metrics: RelayMetrics;
  store: () => Store;
  allowlist: () => Allowlist | undefined;
  upstreamCommit: (sha: string) => Promise<CommitCheck>;
  /** New outbox work was stored (wakes the worker). */
  onWork: () => void;
}

export function setUpCallbacks(app: Probot, wiring: CallbackWiring): Route {
  const { config } = wiring;
  return callbackRoute({
    verifier: createOidcVerifier({
      github: { issuer: config.callback.oidcIssuer, audience: config.callback.audience },
      ...(config.callback.buildkite && { buildkite: config.callback.buildkite }),
    }),
    limiter: new SlidingWindowLimiter<string>([{ ms: 60_000, limit: config.callback.ratePerMinute }]),
    process: (identity, body) =>
      processCallback(identity, body, {
        store: wiring.store(),
        upstreamCommit: wiring.upstreamCommit,
        upstreamRepo: config.upstream.repo,
        allowlist: wiring.allowlist,
        settings: { ...callbackSettings(config), ticketKeys: ticketKeys(config) },
        onWork: wiring.onWork,
      }),
    metrics: wiring.metrics,
    log: app.log.child({ name: "callback" }),
  });
}
