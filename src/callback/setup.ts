// Wires POST /relay/callback (OIDC verification, the per-repo limit, report processing) and its audit
// trail, GET /api/audit/callbacks.
import type { Probot } from "probot";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import { ticketKeys } from "../dispatch/ticket.js";
import type { Route } from "../http/router.js";
import type { RateBudget } from "../limits/sliding-window.js";
import type { RelayMetrics } from "../metrics.js";
import type { Store } from "../store/store.js";
import type { CommitChecker } from "../installations/commit-check.js";
import { CallbackAuditLog } from "./audit-log.js";
import { callbackAuditRoute } from "./audit-route.js";
import { createOidcVerifier } from "./oidc.js";
import { processCallback } from "./process.js";
import { callbackRoute } from "./route.js";
import { processLegacyCallback } from "./legacy.js";
import { parseCallbackBody } from "./schema.js";
import { callbackSettings } from "../state/settings.js";

export interface CallbackWiring {
  config: RelayConfig;
  metrics: RelayMetrics;
  store: () => Store;
  /** Per-repo callback budget (shared by replicas on PostgreSQL: src/limits/budgets.ts). */
  callbackBudget: RateBudget<string>;
  allowlist: () => Allowlist | undefined;
  upstreamCommit: CommitChecker;
  /** New outbox work was stored (wakes the worker). */
  onWork: () => void;
}

export function setUpCallbacks(app: Probot, wiring: CallbackWiring): Route[] {
  const { config } = wiring;
  const log = app.log.child({ component: "callback" });
  const audit = new CallbackAuditLog({ store: wiring.store, metrics: wiring.metrics, allowlist: wiring.allowlist, log });
  const processing = () => ({
    store: wiring.store(),
    upstreamCommit: wiring.upstreamCommit,
    upstreamRepo: config.upstream.repo,
    allowlist: wiring.allowlist,
    settings: { ...callbackSettings(config), ticketKeys: ticketKeys(config) },
    onWork: wiring.onWork,
  });
  const verifier = (audience: string) =>
    createOidcVerifier({
      github: { issuer: config.callback.oidcIssuer, audience },
      ...(config.callback.buildkite && { buildkite: config.callback.buildkite }),
    });
  const callback = callbackRoute({
    verifier: verifier(config.callback.audience),
    limiter: wiring.callbackBudget,
    parse: (json) => parseCallbackBody(json),
    process: (identity, body) => processCallback(identity, body, processing()),
    audit,
    answers: wiring.metrics.callbacks,
    latency: { startTimer: () => wiring.metrics.callbackSeconds.startTimer({ route: "relay" }) },
    log,
  });
  // The production relay's body, for repos that opted in (docs/pytorch.md); same limit and audit trail.
  const legacy = callbackRoute<unknown>({
    path: "/github/callback",
    verifier: verifier(config.callback.legacyAudience),
    limiter: wiring.callbackBudget,
    parse: (json) => ({ ok: true, body: json }),
    process: (identity, json) => processLegacyCallback(identity, json, { ...processing(), webBaseUrl: config.github.webBaseUrl }),
    audit,
    answers: wiring.metrics.legacyCallbacks,
    latency: { startTimer: () => wiring.metrics.callbackSeconds.startTimer({ route: "legacy" }) },
    log: log.child({ route: "legacy" }),
  });
  return [callback, legacy, callbackAuditRoute(audit)];
}
