// Upstream webhooks → plan → durably stored work. The webhook is answered only after the store has the
// work; sending happens afterwards in the outbox worker, so GitHub's 10 s timeout never depends on the
// number of downstreams. Each delivery is prepared first (planning, ticket signing: no store writes),
// then every store effect it has is applied in one transaction; what reaches outside the store (waking
// the worker, cancelling runs, metrics, logs) happens once that transaction has committed.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Context, Probot } from "probot";
import type { AllowlistSource } from "../allowlist/source.js";
import type { RelayConfig } from "../config.js";
import { sameRepo } from "../github/repo-name.js";
import { ticketKeys } from "../dispatch/ticket.js";
import type { RelayMetrics } from "../metrics.js";
import { REDELIVERY_WINDOW_MS, type AcceptedWork, type DeliveryRecord, type Store } from "../store/store.js";
import type { AllowlistEntry } from "../allowlist/types.js";
import { labelFor } from "../allowlist/policy.js";
import { hideBackendChecks, showBackendChecks } from "../checks/label-checks.js";
import { callbackSettings } from "../callback/settings.js";
import { pullRequestFacts, pushFacts, type PullRequestFacts, type UpstreamEvent } from "./events.js";
import type { InstallationDirectory } from "./installations.js";
import { buildWork } from "./intake.js";
import { concludeHead } from "./pr-closure.js";
import { cancelRuns, parseExternalId, prepareRerequest, type RerequestTarget } from "../checks/rerequest.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { planDispatch, type Plan } from "./planner.js";

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
      const intake = await prepareIntake(context, event, deps);
      const labelChange = labelOnlyBackendChange(event, deps);
      return (store) => {
        const now = Date.now();
        const concluded = concludeOldHead(store, payload, now);
        const relabelled = labelChange ? followLabel(store, event, labelChange, deps.config, now) : 0;
        const outcome = storeIntake(store, event, delivery, intake);
        return () => {
          if (payload.action === "closed") cancelInFlightRuns(payload.repository.full_name, payload.pull_request.head.sha, deps);
          if (concluded + relabelled > 0) deps.onWork();
          reportIntake(context, intake, outcome, deps);
        };
      };
    });
  });
  app.on("push", async (context) => {
    if (!sameRepo(context.payload.repository.full_name, config.upstream.repo)) return;
    await oncePerPayload(context, deps, async (delivery) => {
      const event = pushFacts(context.id, context.payload);
      const intake = await prepareIntake(context, event, deps);
      return (store) => {
        const outcome = storeIntake(store, event, delivery, intake);
        return () => reportIntake(context, intake, outcome, deps);
      };
    });
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

/** What a delivery does once its store effects have committed (wake the worker, metrics, logs). */
type AfterCommit = () => void;
/** Every store effect of one delivery; runs inside one transaction, so it must not await. */
type StoreEffects = (store: Store) => AfterCommit;

/**
 * Handles an upstream delivery once per payload: `prepare` may await but writes nothing; the effects it
 * returns and the delivery's record for the replay guard then commit together, or (on a throw: HTTP 500,
 * and GitHub's redelivery starts afresh) not at all. The same signed payload sent again under another
 * delivery id within the redelivery window (a replay) is answered 200 with no effects. GitHub's own
 * redeliveries keep the delivery id and go through as before.
 */
async function oncePerPayload(context: Context, deps: UpstreamDependencies, prepare: (delivery: DeliveryRecord) => Promise<StoreEffects>): Promise<void> {
  const delivery = { id: context.id, event: context.name, payloadHash: payloadHash(context.payload) };
  const store = deps.store();
  const replayOf = () => store.deliveryWithPayload(delivery.payloadHash, delivery.id, Date.now() - REDELIVERY_WINDOW_MS);
  const ignoreReplay = (original: string) => {
    deps.metrics.webhooks.inc({ event: context.name, outcome: "replayed" });
    context.log.warn({ delivery: delivery.id, original, event: context.name }, "replayed webhook ignored: its payload was accepted under another delivery id");
  };
  // Checked before preparing, so a replay costs no ticket signing; and again inside the transaction, so
  // two copies arriving together cannot both commit.
  const early = replayOf();
  if (early !== undefined) return ignoreReplay(early);
  const effects = await prepare(delivery);
  const outcome = store.atomically((): { replayOf: string } | { afterCommit: () => void } => {
    const original = replayOf();
    if (original !== undefined) return { replayOf: original };
    const afterCommit = effects(store);
    // Also for events that stored no work (ignored, re-requests), so their replays are recognised too.
    store.rememberDelivery(delivery, Date.now());
    return { afterCommit };
  });
  if ("replayOf" in outcome) return ignoreReplay(outcome.replayOf);
  outcome.afterCommit();
}

/** A label-only backend's label, added or removed by a labeled/unlabeled event. */
interface LabelChange {
  entry: AllowlistEntry;
  label: string;
}

function labelOnlyBackendChange(event: PullRequestFacts, deps: UpstreamDependencies): LabelChange | undefined {
  if ((event.action !== "labeled" && event.action !== "unlabeled") || !event.label) return undefined;
  const label = event.label;
  const prefix = deps.config.labels.prefix;
  const entry = deps.allowlist
    .current()
    ?.entries.find((candidate) => candidate.policy.display_on_pr === "label_only" && labelFor(candidate, prefix).toLowerCase() === label.toLowerCase());
  return entry && { entry, label };
}

/** Adding or removing a label-only backend's label shows or hides its check runs on the head. Returns how many changed. */
function followLabel(store: Store, event: PullRequestFacts, { entry, label }: LabelChange, config: RelayConfig, now: number): number {
  return event.action === "labeled"
    ? showBackendChecks(store, entry, event.repo, event.headSha, callbackSettings(config), now)
    : hideBackendChecks(store, entry, event.repo, event.headSha, label, now);
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

async function rerun(context: Context, targets: RerequestTarget[], deps: UpstreamDependencies): Promise<StoreEffects> {
  const { config } = deps;
  const rerequest = await prepareRerequest(targets, context.id, {
    store: deps.store(),
    clients: deps.clients(),
    installations: deps.installations(),
    ticketKeys: ticketKeys(config),
    ticketTtlSeconds: config.dispatch.ticketTtlSeconds,
    log: context.log,
  });
  return (store) => {
    const redispatched = rerequest.store(store);
    return () => {
      if (redispatched) deps.onWork();
      deps.metrics.webhooks.inc({ event: context.name, outcome: "accepted" });
      context.log.info({ done: rerequest.done }, "re-run requested from the pull request");
    };
  };
}

/**
 * A new head supersedes the old one's check runs; closing the PR ends its head's; reopening revives them.
 * Returns how many check runs were concluded.
 */
function concludeOldHead(
  store: Store,
  payload: { action: string; before?: string; after?: string; repository: { full_name: string }; pull_request: { head: { sha: string } } },
  now: number,
): number {
  const repo = payload.repository.full_name;
  if (payload.action === "synchronize" && payload.before) {
    const after = payload.after ?? payload.pull_request.head.sha;
    return concludeHead(store, repo, payload.before, "superseded", `A new commit (${after}) was pushed to this pull request; its results are reported on that commit.`, now);
  }
  if (payload.action === "reopened") store.reopenSha(repo, payload.pull_request.head.sha);
  if (payload.action === "closed") {
    return concludeHead(store, repo, payload.pull_request.head.sha, "closed", "The pull request was closed before this backend finished.", now);
  }
  return 0;
}

/** An upstream event's plan and the work built from it (none when the plan ignores the event). */
interface PreparedIntake {
  plan: Plan;
  work: AcceptedWork;
  /** When the work was built (its tickets' issue time, its rows' creation time). */
  now: number;
}

async function prepareIntake(context: Context, event: UpstreamEvent, deps: UpstreamDependencies): Promise<PreparedIntake> {
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
  const now = Date.now();
  if (plan.ignored) return { plan, work: { tasks: [], log: [] }, now };
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
  return { plan, work, now };
}

/** Stores the prepared work (inside the delivery's transaction). */
function storeIntake(store: Store, event: UpstreamEvent, delivery: DeliveryRecord, { plan, work, now }: PreparedIntake): Intake["outcome"] {
  if (plan.ignored) return "ignored";
  const outcome = store.acceptDelivery(delivery, work, now);
  // A reopened PR may carry the same head as when it closed: its aggregate check runs exist already
  // (concluded cancelled), so set them queued again rather than leave the insert ignored.
  if (outcome === "accepted" && event.kind === "pull_request" && event.action === "reopened") {
    store.syncCheckRuns(work.tasks.filter((task) => task.kind === "check_run"), now);
  }
  return outcome;
}

/** Metrics, log lines, the receive-mode summary and the worker's wake-up for a committed intake. */
function reportIntake(context: Context, { plan, work }: PreparedIntake, outcome: Intake["outcome"], deps: UpstreamDependencies): void {
  const { metrics } = deps;
  metrics.webhooks.inc({ event: context.name, outcome });
  if (plan.ignored) {
    context.log.debug({ reason: plan.ignored }, "upstream event dispatches nothing");
    deps.onIntake?.({ deliveryId: context.id, outcome, ignoredBecause: plan.ignored, work });
    return;
  }
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
