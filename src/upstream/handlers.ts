// Upstream webhooks → plan → durably stored work. The webhook is answered only after the store has the
// work; sending happens afterwards in the outbox worker, so GitHub's 10 s timeout never depends on the
// number of downstreams.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Context, Probot } from "probot";
import type { AllowlistSource } from "../allowlist/source.js";
import type { RelayConfig } from "../config.js";
import { sameRepo } from "../github/repo-name.js";
import { ticketKeys } from "../dispatch/ticket.js";
import type { RelayMetrics } from "../metrics.js";
import { REDELIVERY_WINDOW_MS, type AcceptedWork, type DeliveryRecord, type Store } from "../store/store.js";
import { labelFor } from "../allowlist/policy.js";
import { hideBackendChecks, showBackendChecks } from "../checks/label-checks.js";
import { callbackSettings } from "../callback/settings.js";
import { pullRequestFacts, pushFacts, type PullRequestFacts, type UpstreamEvent } from "./events.js";
import type { InstallationDirectory } from "./installations.js";
import { buildWork } from "./intake.js";
import { concludeHead } from "./pr-closure.js";
import { cancelRuns, parseExternalId, rerequest, type RerequestTarget } from "../checks/rerequest.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { planDispatch } from "./planner.js";

export interface UpstreamDependencies {
  config: RelayConfig;
  allowlist: AllowlistSource;
  store: () => Store;
  installations: () => InstallationDirectory;
  clients: () => InstallationClients;
  metrics: RelayMetrics;
  log: Logger;
  /** Called after new work is stored (wakes the outbox worker). */
  onWork: () => void;
  /** Called with what an upstream event left in the store (`probot receive` reports it). */
  onIntake?: (intake: Intake) => void;
}

/** The outcome of one upstream pull_request or push delivery. */
export interface Intake {
  deliveryId: string;
  outcome: "accepted" | "duplicate" | "ignored";
  /** Why the event dispatches nothing at all (outcome "ignored"). */
  ignoredBecause?: string;
  /** The work built for the delivery; stored when "accepted". */
  work: AcceptedWork;
}

export function handleUpstreamEvents(app: Probot, deps: UpstreamDependencies): void {
  const { config, metrics } = deps;
  app.on("pull_request", async (context) => {
    const { payload } = context;
    if (!sameRepo(payload.repository.full_name, config.upstream.repo)) return;
    await oncePerPayload(context, deps, async (delivery) => {
      const event = pullRequestFacts(context.id, payload);
      concludeOldHead(payload, deps);
      followLabel(event, deps);
      await accept(context, event, delivery, deps);
    });
  });
  app.on("push", async (context) => {
    if (!sameRepo(context.payload.repository.full_name, config.upstream.repo)) return;
    await oncePerPayload(context, deps, (delivery) => accept(context, pushFacts(context.id, context.payload), delivery, deps));
  });
  app.on("check_run.rerequested", async (context) => {
    const { check_run: run, repository } = context.payload;
    if (!sameRepo(repository.full_name, config.upstream.repo) || deps.store().shaClosed(repository.full_name, run.head_sha)) return;
    const target = parseExternalId(run.external_id);
    if (target) await oncePerPayload(context, deps, () => rerun(context, [target], deps));
  });
  app.on("check_suite.rerequested", async (context) => {
    const { check_suite: suite, repository } = context.payload;
    if (!sameRepo(repository.full_name, config.upstream.repo) || deps.store().shaClosed(repository.full_name, suite.head_sha)) return;
    const targets = deps
      .store()
      .checkRunTasks(repository.full_name, suite.head_sha)
      .flatMap((task) => {
        const externalId = task.request.params.external_id;
        return (typeof externalId === "string" && parseExternalId(externalId)) || [];
      });
    await oncePerPayload(context, deps, () => rerun(context, targets, deps));
  });
  app.on(["installation", "installation_repositories"], (context) => {
    deps.installations().follow(context.name, context.payload, (deps.allowlist.current()?.entries ?? []).map((entry) => entry.repo));
    metrics.webhooks.inc({ event: context.name, outcome: "accepted" });
  });
}

function payloadHash(payload: unknown): string {
  return createHash("sha256").update(JSON.stringify(payload)).digest("hex");
}

/**
 * Runs an upstream event's effects once per payload. The same signed payload sent again under another
 * delivery id within the redelivery window (a replay) is answered 200 with no effects. GitHub's own
 * redeliveries keep the delivery id and go through as before.
 */
async function oncePerPayload(context: Context, deps: UpstreamDependencies, effects: (delivery: DeliveryRecord) => Promise<void>): Promise<void> {
  const delivery = { id: context.id, event: context.name, payloadHash: payloadHash(context.payload) };
  const store = deps.store();
  const original = store.deliveryWithPayload(delivery.payloadHash, delivery.id, Date.now() - REDELIVERY_WINDOW_MS);
  if (original !== undefined) {
    deps.metrics.webhooks.inc({ event: context.name, outcome: "replayed" });
    context.log.warn({ delivery: delivery.id, original, event: context.name }, "replayed webhook ignored: its payload was accepted under another delivery id");
    return;
  }
  await effects(delivery);
  // Also for events that stored no work (ignored, re-requests), so their replays are recognised too.
  store.rememberDelivery(delivery, Date.now());
}

/** Adding or removing a label-only backend's label shows or hides its check runs on the head. */
function followLabel(event: PullRequestFacts, deps: UpstreamDependencies): void {
  if ((event.action !== "labeled" && event.action !== "unlabeled") || !event.label) return;
  const { config } = deps;
  const label = event.label.toLowerCase();
  const entry = deps.allowlist
    .current()
    ?.entries.find((candidate) => candidate.policy.display_on_pr === "label_only" && labelFor(candidate, config.labels.prefix).toLowerCase() === label);
  if (!entry) return;
  const now = Date.now();
  const changed =
    event.action === "labeled"
      ? showBackendChecks(deps.store(), entry, event.repo, event.headSha, callbackSettings(config), now)
      : hideBackendChecks(deps.store(), entry, event.repo, event.headSha, event.label, now);
  if (changed > 0) deps.onWork();
}

/** Downstream runs still going for a closed PR's head are cancelled in the background (best effort). */
function cancelInFlightRuns(upstreamRepo: string, headSha: string, deps: UpstreamDependencies): void {
  const runs = new Map<string, { repo: string; runId: number }>();
  for (const job of deps.store().shaJobs(upstreamRepo, headSha)) {
    if (job.status === "in_progress") runs.set(`${job.downstreamRepo}#${job.runId}`, { repo: job.downstreamRepo, runId: job.runId });
  }
  if (runs.size === 0) return;
  const log = deps.log;
  void cancelRuns([...runs.values()], { clients: deps.clients(), installations: deps.installations(), log }).then((cancelled) =>
    log.info({ upstreamRepo, headSha, cancelled }, "cancelled downstream runs of a closed pull request"),
  );
}

async function rerun(context: Context, targets: RerequestTarget[], deps: UpstreamDependencies): Promise<void> {
  const { config } = deps;
  const done = await rerequest(targets, context.id, {
    store: deps.store(),
    clients: deps.clients(),
    installations: deps.installations(),
    ticketKeys: ticketKeys(config),
    ticketTtlSeconds: config.dispatch.ticketTtlSeconds,
    log: context.log,
    onWork: deps.onWork,
  });
  deps.metrics.webhooks.inc({ event: context.name, outcome: "accepted" });
  context.log.info({ done }, "re-run requested from the pull request");
}

/** A new head supersedes the old one's check runs; closing the PR ends its head's; reopening revives them. */
function concludeOldHead(
  payload: { action: string; before?: string; after?: string; repository: { full_name: string }; pull_request: { head: { sha: string } } },
  deps: UpstreamDependencies,
): void {
  const repo = payload.repository.full_name;
  const now = Date.now();
  let concluded = 0;
  if (payload.action === "synchronize" && payload.before) {
    const after = payload.after ?? payload.pull_request.head.sha;
    concluded = concludeHead(deps.store(), repo, payload.before, "superseded", `A new commit (${after}) was pushed to this pull request; its results are reported on that commit.`, now);
  } else if (payload.action === "reopened") {
    deps.store().reopenSha(repo, payload.pull_request.head.sha);
  } else if (payload.action === "closed") {
    const headSha = payload.pull_request.head.sha;
    concluded = concludeHead(deps.store(), repo, headSha, "closed", "The pull request was closed before this backend finished.", now);
    cancelInFlightRuns(repo, headSha, deps);
  }
  if (concluded > 0) deps.onWork();
}

async function accept(context: Context, event: UpstreamEvent, delivery: DeliveryRecord, deps: UpstreamDependencies): Promise<void> {
  const { config, metrics } = deps;
  const allowlist = deps.allowlist.current();
  if (!allowlist) {
    metrics.webhooks.inc({ event: context.name, outcome: "error" });
    // Failing the delivery (HTTP 500) makes GitHub record it as failed; missed-delivery recovery asks for it again.
    throw new Error("no valid allowlist loaded yet; this delivery will be redelivered");
  }
  const installations = deps.installations();
  const plan = planDispatch(event, allowlist, (repo) => installations.known(repo), {
    labelPrefix: config.labels.prefix,
    drafts: config.dispatch.drafts,
    trustedAssociations: config.dispatch.trustedAssociations,
    trustLabel: config.dispatch.trustLabel,
  });
  if (plan.ignored) {
    metrics.webhooks.inc({ event: context.name, outcome: "ignored" });
    context.log.debug({ reason: plan.ignored }, "upstream event dispatches nothing");
    deps.onIntake?.({ deliveryId: context.id, outcome: "ignored", ignoredBecause: plan.ignored, work: { tasks: [], log: [] } });
    return;
  }
  const now = Date.now();
  const work = await buildWork(
    event,
    plan,
    {
      checkPrefix: config.labels.checkPrefix,
      prEventType: config.dispatch.prEventType,
      pushEventType: config.dispatch.pushEventType,
      callbackUrl: config.callback.url,
      webBaseUrl: config.github.webBaseUrl,
      ticketKeys: ticketKeys(config),
      ticketTtlSeconds: config.dispatch.ticketTtlSeconds,
    },
    (repo) => installations.cachedId(repo),
    now,
  );
  const store = deps.store();
  const outcome = store.acceptDelivery(delivery, work, now);
  // A reopened PR may carry the same head as when it closed: its aggregate check runs exist already
  // (concluded cancelled), so set them queued again rather than leave the insert ignored.
  if (outcome === "accepted" && event.kind === "pull_request" && event.action === "reopened") {
    store.syncCheckRuns(work.tasks.filter((task) => task.kind === "check_run"), now);
  }
  metrics.webhooks.inc({ event: context.name, outcome });
  for (const row of work.log) {
    if (row.outcome === "skipped" && outcome === "accepted") metrics.dispatches.inc({ outcome: "skipped", reason: row.reason ?? "" });
  }
  context.log.info(
    { delivery: context.id, outcome, dispatches: plan.dispatch.length, skipped: plan.skipped.length },
    "upstream event accepted",
  );
  deps.onIntake?.({ deliveryId: context.id, outcome, work });
  if (outcome === "accepted") deps.onWork();
}
