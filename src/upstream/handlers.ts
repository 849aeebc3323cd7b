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
import { REDELIVERY_WINDOW_MS, type AcceptedWork, type DeliveryRecord, type Store, type StoreTx } from "../store/store.js";
import { stateContextOf } from "../state/settings.js";
import type { StateContext } from "../state/context.js";
import { acceptDispatches, applyPullRequest } from "../state/pull-requests.js";
import { pullRequestFacts, pushFacts, type UpstreamEvent } from "./events.js";
import type { InstallationDirectory } from "../installations/directory.js";
import { withoutReconciled } from "./dispatch-reconciler.js";
import { buildWork, intakeSettings, plannerSettings } from "./intake.js";
import { parseCrcrCheckRun, parseExternalId, prepareRerequest, type RerequestTarget } from "./rerequest.js";
import { cancelTasksForHead } from "./run-cancellation.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { CLOSED_ACTION, planDispatch, type Plan } from "./planner.js";

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
  /** Check-run writes the delivery queued (its facts changed what a check run should show). */
  checkRunWrites: number;
}

export function handleUpstreamEvents(app: Probot, deps: UpstreamDependencies): void {
  const { config, metrics } = deps;
  app.on("pull_request", async (context) => {
    const { payload } = context;
    if (!sameRepo(payload.repository.full_name, config.upstream.repo)) return;
    await oncePerPayload(context, deps, async (delivery) => {
      const event = pullRequestFacts(context.id, payload);
      const intake = await prepareIntake(context, event, deps);
      return async (tx) => {
        const state = stateContext(deps, event.installationId);
        // The head's facts first (open, superseding, closed; labels), then the dispatches they caused.
        const queued = await applyPullRequest(
          tx,
          // The PR's state, not the action: a closed PR's labeled/edited events must not reopen its head.
          { upstreamRepo: event.repo, prNumber: event.number, headSha: event.headSha, labels: event.labels, closed: event.closed },
          state,
        );
        // Closing: the runs still in progress are cancelled, stored with the closing notices as one work.
        const cancels = payload.action === "closed" ? await cancelTasksForHead(tx, event.repo, event.headSha) : [];
        const stored = await storeIntake(tx, delivery, { ...intake, work: { ...intake.work, tasks: [...intake.work.tasks, ...cancels] } }, state);
        return () => {
          if (queued > 0) deps.onWork();
          reportIntake(context, intake, { ...stored, queued: stored.queued + queued }, deps);
        };
      };
    });
  });
  app.on("push", async (context) => {
    if (!sameRepo(context.payload.repository.full_name, config.upstream.repo)) return;
    await oncePerPayload(context, deps, async (delivery) => {
      const event = pushFacts(context.id, context.payload);
      const intake = await prepareIntake(context, event, deps);
      return async (tx) => {
        const stored = await storeIntake(tx, delivery, intake, stateContext(deps, event.installationId));
        return () => reportIntake(context, intake, stored, deps);
      };
    });
  });
  app.on("check_run.rerequested", async (context) => {
    const { check_run: run, repository } = context.payload;
    if (!sameRepo(repository.full_name, config.upstream.repo) || !(await headOpen(deps.store(), repository.full_name, run.head_sha))) return;
    const target = parseExternalId(run.external_id) ?? (config.labels.crcrNames ? await crcrTarget(deps, repository.full_name, run) : undefined);
    if (target) await oncePerPayload(context, deps, () => rerun(context, [target], deps));
  });
  app.on("check_suite.rerequested", async (context) => {
    const { check_suite: suite, repository } = context.payload;
    if (!sameRepo(repository.full_name, config.upstream.repo) || !(await headOpen(deps.store(), repository.full_name, suite.head_sha))) return;
    // Each backend's latest run on the head, or its dispatch when no job reported yet.
    const backends = await deps.store().backendHeads({ upstreamRepo: repository.full_name, headSha: suite.head_sha });
    const targets = backends.map((backend): RerequestTarget =>
        backend.newest
          ? { kind: "run", repo: backend.downstreamRepo, runId: backend.newest.runId }
          : { kind: "dispatch", deliveryId: backend.deliveryId, repo: backend.downstreamRepo },
      );
    await oncePerPayload(context, deps, () => rerun(context, targets, deps));
  });
  app.on(["installation", "installation_repositories"], async (context) => {
    await deps.installations().follow(context.name, context.payload, (deps.allowlist.current()?.entries ?? []).map((entry) => entry.repo));
    metrics.webhooks.inc({ event: context.name, outcome: "accepted" });
  });
}

/**
 * The target of a crcr-named check run (the pytorch profile): its downstream run, or, for an aggregate no
 * run reported to yet (run 0), the head's dispatch to that backend. Only backends of the allowlist.
 */
async function crcrTarget(deps: UpstreamDependencies, upstreamRepo: string, run: { name: string; external_id: string | null; head_sha: string }): Promise<RerequestTarget | undefined> {
  const parsed = parseCrcrCheckRun(run.name, run.external_id);
  if (!parsed || !deps.allowlist.current()?.byRepo.has(parsed.repo.toLowerCase())) return undefined;
  if (parsed.runId > 0) return { kind: "run", repo: parsed.repo, runId: parsed.runId };
  const backend = await deps.store().backendHead({ upstreamRepo, headSha: run.head_sha, downstreamRepo: parsed.repo });
  return backend && { kind: "dispatch", deliveryId: backend.deliveryId, repo: backend.downstreamRepo };
}

function payloadHash(payload: unknown): string {
  return createHash("sha256").update(JSON.stringify(payload)).digest("hex");
}

/** What a delivery does once its store effects have committed (wake the worker, metrics, logs). */
type AfterCommit = () => void;
/** Every store effect of one delivery; runs inside one transaction, so it awaits nothing but `tx`. */
type StoreEffects = (tx: StoreTx) => Promise<AfterCommit>;

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
  const replayOf = (reader: StoreTx) => reader.deliveryWithPayload(delivery.payloadHash, delivery.id, Date.now() - REDELIVERY_WINDOW_MS);
  const ignoreReplay = (original: string) => {
    deps.metrics.webhooks.inc({ event: context.name, outcome: "replayed" });
    context.log.warn({ delivery: delivery.id, original, event: context.name }, "replayed webhook ignored: its payload was accepted under another delivery id");
  };
  // Checked before preparing, so a replay costs no ticket signing; and again inside the transaction, so
  // two copies arriving together cannot both commit.
  const early = await replayOf(store);
  if (early !== undefined) return ignoreReplay(early);
  const effects = await prepare(delivery);
  const outcome = await store.transaction(async (tx): Promise<{ replayOf: string } | { afterCommit: () => void }> => {
    const original = await replayOf(tx);
    if (original !== undefined) return { replayOf: original };
    const afterCommit = await effects(tx);
    // Also for events that stored no work (ignored, re-requests), so their replays are recognised too.
    await tx.rememberDelivery(delivery, Date.now());
    return { afterCommit };
  });
  if ("replayOf" in outcome) return ignoreReplay(outcome.replayOf);
  outcome.afterCommit();
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
  return async (tx) => {
    const redispatched = await rerequest.store(tx, stateContext(deps, (context.payload as { installation?: { id: number } }).installation?.id));
    return () => {
      if (redispatched) deps.onWork();
      deps.metrics.webhooks.inc({ event: context.name, outcome: "accepted" });
      context.log.info({ done: rerequest.done }, "re-run requested from the pull request");
    };
  };
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
  const installations = await deps.installations().snapshot(allowlist.entries.map((entry) => entry.repo));
  const plan = planDispatch(event, allowlist, (repo) => installations.known(repo), plannerSettings(config), await receivedHead(event, deps.store()));
  const now = Date.now();
  if (plan.ignored) return { plan, work: { tasks: [], log: [] }, now };
  const work = await buildWork(event, plan, intakeSettings(config), (repo) => installations.cachedId(repo), now);
  return { plan, work, now };
}

/** For a closing PR: the backends (lower-case repos) its head was dispatched to, who get the closing notice. */
async function receivedHead(event: UpstreamEvent, store: Store): Promise<Set<string>> {
  if (event.kind !== "pull_request" || event.action !== CLOSED_ACTION) return new Set();
  const backends = await store.backendHeads({ upstreamRepo: event.repo, headSha: event.headSha });
  return new Set(backends.map((backend) => backend.downstreamRepo.toLowerCase()));
}

/** Stores the prepared work (inside the delivery's transaction). */
async function storeIntake(tx: StoreTx, delivery: DeliveryRecord, { plan, work, now }: PreparedIntake, state: StateContext): Promise<StoredIntake> {
  // An ignored event stores no work: it can still carry tasks (a close's cancellations).
  if (plan.ignored && work.tasks.length === 0) return { outcome: "ignored", queued: 0, work };
  // A head the reconciler already dispatched to a backend is not dispatched again by its late webhook.
  const stored = await withoutReconciled(tx, work);
  return { ...(await acceptDispatches(tx, delivery, stored, { ...state, now })), work: stored };
}

/** What a delivery's transaction stored: its outcome and how many check-run writes it queued. */
interface StoredIntake {
  outcome: Intake["outcome"];
  queued: number;
  /** The work as stored (the prepared work less what the reconciler had already dispatched). */
  work: AcceptedWork;
}

/** The state core's view of the relay's configuration and allowlist at this moment. */
function stateContext(deps: UpstreamDependencies, upstreamInstallationId?: number): StateContext {
  return stateContextOf(deps.config, deps.allowlist.current(), upstreamInstallationId);
}

/** A head the relay knows as closed or superseded is not re-run; one it does not know is left to the re-run's own checks. */
async function headOpen(store: Store, upstreamRepo: string, headSha: string): Promise<boolean> {
  const head = await store.head({ upstreamRepo, headSha });
  return head === undefined || head.state === "open";
}

/** Metrics, log lines, the receive-mode summary and the worker's wake-up for a committed intake. */
function reportIntake(context: Context, { plan }: PreparedIntake, { outcome, queued, work }: StoredIntake, deps: UpstreamDependencies): void {
  const { metrics } = deps;
  metrics.webhooks.inc({ event: context.name, outcome });
  if (outcome === "accepted" || queued > 0) deps.onWork();
  if (plan.ignored) {
    context.log.debug({ reason: plan.ignored }, "upstream event dispatches nothing");
    deps.onIntake?.({ deliveryId: context.id, outcome, ignoredBecause: plan.ignored, work, checkRunWrites: queued });
    return;
  }
  for (const row of work.log) {
    if (row.outcome === "skipped" && outcome === "accepted") metrics.dispatches.inc({ outcome: "skipped", reason: row.reason ?? "" });
  }
  context.log.info(
    { delivery: context.id, outcome, dispatches: work.tasks.filter((task) => task.kind === "dispatch").length, skipped: plan.skipped.length },
    "upstream event accepted",
  );
  deps.onIntake?.({ deliveryId: context.id, outcome, work, checkRunWrites: queued });
}
