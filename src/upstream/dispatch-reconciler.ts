// The dispatch reconciler: level-triggered repair of what webhooks missed. Each pass lists the upstream's
// open pull requests (updated within the lookback window, newest first), plans each head as a webhook
// would with the allowlist in force, and dispatches the backends that never received that head: a
// delivery lost past GitHub's 3-day redelivery window, an App installed on a backend after the PR was
// opened, a backend added to the allowlist while PRs are open. A backend that has a dispatch of the head
// on record (sent, pending, failed) is never dispatched again here, so the webhook path and the
// reconciler cannot both send one head to one backend; the check runs inside the storing transaction.
import type { Logger } from "pino";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { OpenPullsReader, type OpenPull } from "../github/open-pulls.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { InstallationDirectory, InstallationSnapshot } from "../installations/directory.js";
import type { RelayMetrics } from "../metrics.js";
import { acceptDispatches, applyPullRequest } from "../state/pull-requests.js";
import { stateContextOf } from "../state/settings.js";
import type { AcceptedWork, Store, StoreTx } from "../store/store.js";
import { pullRequestFacts, type PullRequestFacts } from "./events.js";
import { buildWork, intakeSettings, plannerSettings } from "./intake.js";
import { planDispatch, RECONCILED_ACTION } from "./planner.js";

/** Pages of open PRs read per pass at most (100 each): the lookback window normally ends far sooner. */
const MAX_PAGES = 30;

export interface DispatchReconcilerDependencies {
  config: RelayConfig;
  allowlist: () => Allowlist | undefined;
  store: Store;
  installations: InstallationDirectory;
  clients: InstallationClients;
  metrics: RelayMetrics;
  log: Logger;
  /** Wakes the outbox worker after dispatches were stored. */
  onWork: () => void;
  now?: () => number;
}

export interface ReconcilePass {
  /** Open PRs looked at (within the lookback window). */
  looked: number;
  /** PR heads that got dispatches. */
  heads: number;
  /** Dispatches stored. */
  dispatches: number;
  /** Pages GitHub answered 304 (no rate limit spent). */
  unchangedPages: number;
}

export interface DispatchReconciler {
  /** One pass; rejects when GitHub or the store fails (the next pass starts over). */
  pass(): Promise<ReconcilePass | undefined>;
}

export function dispatchReconciler(deps: DispatchReconcilerDependencies): DispatchReconciler {
  const { config } = deps;
  const upstream = config.upstream.repo;
  const reader = new OpenPullsReader(parseRepoSlug(upstream), MAX_PAGES);
  const now = () => (deps.now ?? Date.now)();

  return {
    async pass() {
      const allowlist = deps.allowlist();
      if (!allowlist) {
        deps.metrics.reconcilerPasses.inc({ outcome: "no_allowlist" });
        return undefined;
      }
      try {
        const result = await runPass(allowlist);
        deps.metrics.reconcilerPasses.inc({ outcome: "done" });
        if (result.dispatches > 0) deps.log.info(result, "reconciler dispatched open pull request heads no webhook had dispatched");
        return result;
      } catch (error) {
        deps.metrics.reconcilerPasses.inc({ outcome: "error" });
        throw error;
      }
    },
  };

  async function runPass(allowlist: Allowlist): Promise<ReconcilePass> {
    const installationId = await deps.installations.resolve(upstream);
    if (installationId === undefined) throw new Error(`the App is not installed on ${upstream}`);
    const client = await deps.clients.get(installationId);
    const since = now() - config.reconcile.lookbackMs;
    const result: ReconcilePass = { looked: 0, heads: 0, dispatches: 0, unchangedPages: 0 };
    // What the store knows of the backends' installations, read once per pass (it is the same for every PR).
    const installations = await deps.installations.snapshot(allowlist.entries.map((entry) => entry.repo));
    for (let page = 1; result.heads < config.reconcile.headsPerPass; page++) {
      const read = await reader.page(client, page);
      if (read.unchanged) result.unchangedPages += 1;
      if (read.invalid.length > 0) deps.log.warn({ page, invalid: read.invalid.slice(0, 3) }, "skipped open pull requests of an unexpected shape");
      let pastWindow = false;
      for (const pull of read.pulls) {
        if (Date.parse(pull.updated_at) < since) {
          pastWindow = true;
          break;
        }
        result.looked += 1;
        const stored = await reconcileHead(allowlist, installations, pull, installationId);
        if (stored > 0) {
          result.heads += 1;
          result.dispatches += stored;
          deps.metrics.reconciledDispatches.inc(stored);
          if (result.heads >= config.reconcile.headsPerPass) break;
        }
      }
      if (pastWindow || !read.more) break;
    }
    if (result.dispatches > 0) deps.onWork();
    return result;
  }

  /** Dispatches the PR's head to the backends the plan names that never received it; returns how many. */
  async function reconcileHead(allowlist: Allowlist, snapshot: InstallationSnapshot, pull: OpenPull, installationId: number): Promise<number> {
    const at = now();
    const deliveryId = `reconcile-${pull.head.sha.slice(0, 12)}-${at}`; // see isReconcilerDelivery
    const event = pullRequestFacts(deliveryId, { action: RECONCILED_ACTION, installation: { id: installationId }, repository: { full_name: upstream }, pull_request: pull });
    const plan = planDispatch(event, allowlist, (repo) => snapshot.known(repo), plannerSettings(config));
    if (plan.ignored) return 0;
    const missing = await notDispatched(deps.store, event, plan.dispatch.map((target) => target.entry.repo));
    if (missing.size === 0) return 0;
    const targets = plan.dispatch.filter((target) => missing.has(target.entry.repo.toLowerCase()));
    // Tickets are signed before the transaction, which holds nothing but store work.
    const work = await buildWork(event, { dispatch: targets, skipped: [] }, intakeSettings(config), (repo) => snapshot.cachedId(repo), at);
    return deps.store.transaction(async (tx) => {
      // The list may be older than what webhooks told the relay since: a head that became the PR's open
      // head after this PR was last updated on GitHub is newer than the list, and stays.
      const others = (await tx.openHeadsOfPr(upstream, event.number)).filter((head) => head.headSha !== event.headSha);
      if (others.some((head) => head.stateChangedAt >= Date.parse(pull.updated_at))) return 0;
      // Again inside the transaction: a webhook for this head may have been stored meanwhile.
      const still = await notDispatched(tx, event, [...missing]);
      const remaining = onlyFor(work, still);
      if (remaining.tasks.length === 0) return 0;
      const state = stateContextOf(config, allowlist, installationId);
      await applyPullRequest(tx, { upstreamRepo: upstream, prNumber: event.number, headSha: event.headSha, labels: event.labels, closed: false }, state);
      const delivery = { id: deliveryId, event: "reconcile", payloadHash: `reconcile:${event.headSha}:${at}` };
      await acceptDispatches(tx, delivery, remaining, { ...state, now: at });
      return remaining.tasks.length;
    });
  }
}

/** The reconciler's delivery ids: `reconcile-<head sha prefix>-<time>`. */
export function isReconcilerDelivery(deliveryId: string): boolean {
  return deliveryId.startsWith("reconcile-");
}

/**
 * `work` less the pull-request dispatches whose backend got the same head from the reconciler: the
 * webhook that was missed (or failed) can still arrive later, redelivered, and must not run that
 * backend's CI a second time. Runs inside the webhook's transaction.
 */
export async function withoutReconciled(tx: Pick<StoreTx, "backendHead">, work: AcceptedWork): Promise<AcceptedWork> {
  const done = new Set<string>();
  for (const row of work.log) {
    if (row.event !== "pull_request" || row.outcome !== "pending") continue;
    const existing = await tx.backendHead({ upstreamRepo: row.upstreamRepo, headSha: row.headSha, downstreamRepo: row.downstreamRepo });
    if (existing && isReconcilerDelivery(existing.deliveryId)) done.add(row.downstreamRepo.toLowerCase());
  }
  if (done.size === 0) return work;
  return {
    tasks: work.tasks.filter((task) => task.kind !== "dispatch" || !done.has(task.repo.toLowerCase())),
    log: work.log.filter((row) => !done.has(row.downstreamRepo.toLowerCase())),
  };
}

/** The repos among `repos` (lower-cased) with no dispatch of the event's head on record. */
async function notDispatched(reader: Pick<StoreTx, "backendHead">, event: PullRequestFacts, repos: readonly string[]): Promise<Set<string>> {
  const missing = new Set<string>();
  for (const repo of repos) {
    const existing = await reader.backendHead({ upstreamRepo: event.repo, headSha: event.headSha, downstreamRepo: repo });
    if (!existing) missing.add(repo.toLowerCase());
  }
  return missing;
}

function onlyFor(work: AcceptedWork, repos: ReadonlySet<string>): AcceptedWork {
  return {
    tasks: work.tasks.filter((task) => repos.has(task.repo.toLowerCase())),
    log: work.log.filter((row) => repos.has(row.downstreamRepo.toLowerCase())),
  };
}
