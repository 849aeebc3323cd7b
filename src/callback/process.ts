// What an authenticated callback does: ticket check, policy, job lifecycle, and the effects stored
// atomically with the new job state (check-run desired states, a HUD row). The facts that matter —
// which PR, which sha, which backend — come from the relay-signed ticket, never from the body.
import { collectsResults, findEntry } from "../allowlist/policy.js";
import type { Allowlist, AllowlistEntry } from "../allowlist/types.js";
import { verifyTicket, type TicketClaims, type TicketKeys } from "../dispatch/ticket.js";
import { resultRow } from "../state/result-row.js";
import type { StoredJob } from "../domain/jobs.js";
import type { StateSettings } from "../state/context.js";
import { recordJob } from "../state/reports.js";
import { recordRunReport } from "../state/runs.js";
import type { Store, StoreTx } from "../store/store.js";
import { aggregateCheckKey } from "../checks/aggregate.js";
import { jobCheckKey } from "../checks/job-checks.js";
import { lifecycleReport, storedJobState, transition } from "./lifecycle.js";
import type { CommitChecker } from "../installations/commit-check.js";
import type { CallbackOutcome } from "../domain/callback-audit.js";
import type { OidcIdentity } from "./oidc.js";
import type { CallbackBody } from "./schema.js";

export interface CallbackSettings extends StateSettings {
  ticketKeys: TicketKeys;
}

export interface CallbackDependencies {
  store: Store;
  /** Checks that a self-report's upstream sha exists upstream, on the reporting repo's lookup budget. */
  upstreamCommit: CommitChecker;
  upstreamRepo: string;
  allowlist: () => Allowlist | undefined;
  settings: CallbackSettings;
  /** New outbox work was stored (wakes the worker). */
  onWork: () => void;
  now?: () => number;
}

export interface CallbackAnswer {
  status: number;
  body: Record<string, unknown>;
  /** For the audit trail, where the status alone does not tell (see outcomeOf). */
  outcome?: CallbackOutcome;
}

export async function processCallback(identity: OidcIdentity, body: CallbackBody, deps: CallbackDependencies): Promise<CallbackAnswer> {
  const now = (deps.now ?? Date.now)();
  if (body.ticket === undefined) return recordSelfReport(identity, body, deps, now);
  const verified = await verifyTicket(body.ticket, deps.settings.ticketKeys, { now: new Date(now) });
  if (!verified.ok) return { status: 401, body: { error: `ticket rejected (${verified.reason}): ${verified.message}` } };
  const claims = verified.claims;
  // The token proves who is calling; the ticket says what they may report on. Both must name one repo.
  if (claims.downstreamRepo !== identity.repo) {
    return { status: 403, body: { error: `the ticket was issued to ${claims.downstreamRepo}, but the token is for ${identity.repo}` } };
  }
  const allowlist = deps.allowlist();
  if (!allowlist) return { status: 503, body: { error: "the relay has no allowlist loaded yet; retry later" } };
  const entry = findEntry(allowlist, identity.repo);
  if (!entry) return { status: 403, body: { error: `${identity.repo} is not in the allowlist` }, outcome: "not_allowlisted" };
  if (!collectsResults(entry.policy)) {
    // L1 gives no feedback upstream; the reporting step must not fail for it.
    return { status: 202, body: { accepted: true, ignored: `${identity.repo} is ${entry.level}: results are not shown upstream` } };
  }
  if (body.scope === "run") return recordRunLevelReport(claims, body, deps, now);
  const { checkRun, ...answer } = await recordReport(claims, entry, body, deps, now);
  return checkRun ? { ...answer, body: { ...answer.body, ...checkRun } } : answer;
}

/** A run-level report (`scope: run`): the run is over; what it leaves unexplained is recorded (src/state/runs.ts). */
async function recordRunLevelReport(claims: TicketClaims, body: CallbackBody, deps: CallbackDependencies, now: number): Promise<CallbackAnswer> {
  const report = {
    runId: body.workflow.run_id,
    runAttempt: body.workflow.run_attempt,
    workflowName: body.workflow.name,
    url: body.workflow.url,
    jobName: body.job.name,
    // The schema requires a conclusion on a completed report, and a run-level report is completed.
    conclusion: body.conclusion ?? "failure",
    ...(body.run?.jobs !== undefined && { jobs: body.run.jobs }),
  };
  const context = { allowlist: deps.allowlist(), settings: deps.settings, now };
  const dispatch = { deliveryId: claims.deliveryId, downstreamRepo: claims.downstreamRepo };
  const { queued, duplicate } = await deps.store.transaction((tx) => recordRunReport(tx, dispatch, report, context));
  if (queued > 0) deps.onWork();
  return { status: 200, body: duplicate ? { accepted: true, duplicate } : { accepted: true, duplicate, run: { conclusion: report.conclusion } } };
}

/** Where the job's check run is (docs/callback.md): its page once GitHub created it, else the PR's checks page. */
export type CheckRunLink = { check_run_url: string } | { checks_url: string };

/**
 * The job's new state, decided and stored in one grouped transaction: the lifecycle check reads the
 * stored state inside it, so two reports of one job arriving together are decided one after the other.
 * `checkRun` is set when the newly stored state has a check run on the PR (POST /relay/callback answers with it).
 */
export async function recordReport(
  claims: TicketClaims,
  entry: AllowlistEntry,
  body: CallbackBody,
  deps: CallbackDependencies,
  now: number,
): Promise<CallbackAnswer & { checkRun?: CheckRunLink }> {
  const { store } = deps;
  const key = {
    deliveryId: claims.deliveryId,
    downstreamRepo: claims.downstreamRepo,
    runId: body.workflow.run_id,
    runAttempt: body.workflow.run_attempt,
    jobName: body.job.name,
  };
  const { ticket: _ticket, ...report } = body;
  const answer = await store.transaction(async (tx): Promise<CallbackAnswer & { queued: number; checkRun?: CheckRunLink }> => {
    const current = await tx.getJob(key);
    // Queue time is dispatch → start; a re-run attempt starts whenever someone re-runs it, so it has none.
    const dispatchedAt = key.runAttempt === 1 ? await tx.dispatchSentAt(claims.deliveryId, claims.downstreamRepo) : undefined;
    const step = transition(current && storedJobState(current), lifecycleReport(body), now, dispatchedAt);
    if (step.kind === "duplicate") return { status: 200, body: { accepted: true, duplicate: true }, queued: 0 };
    if (step.kind === "conflict") return { status: 409, body: { error: step.message }, queued: 0 };
    const job: StoredJob = {
      ...key,
      upstreamRepo: claims.upstreamRepo,
      prNumber: claims.prNumber,
      headSha: claims.headSha,
      backendName: entry.name,
      level: entry.level,
      workflowName: body.workflow.name,
      status: step.next.status,
      ...(step.next.conclusion !== undefined && { conclusion: step.next.conclusion }),
      ...(step.next.startedAt !== undefined && { startedAt: step.next.startedAt }),
      ...(step.next.completedAt !== undefined && { completedAt: step.next.completedAt }),
      ...carriedDurations(current, step),
      fingerprint: step.next.lastReport,
      report,
      updatedAt: now,
    };
    // A ticket without a PR number is a push's: the HUD's trunk views read those rows.
    const hudRow = entry.policy.display_on_hud ? resultRow(job, body, claims.prNumber === null ? "push" : "pull_request") : undefined;
    const queued = await recordJob(tx, job, hudRow, { allowlist: deps.allowlist(), settings: deps.settings, now });
    const shown = { status: job.status, ...(job.conclusion && { conclusion: job.conclusion }) };
    const checkRun = await checkRunLink(tx, job, deps.settings.webBaseUrl);
    return { status: 200, body: { accepted: true, duplicate: false, job: shown }, queued, ...(checkRun && { checkRun }) };
  });
  const { queued, ...answered } = answer;
  if (queued > 0) deps.onWork();
  return answered;
}

/**
 * The job's check run as the state core keeps it (src/state/reconcile.ts: keyed under its backend head's
 * aggregate): none for a job without one (not shown on the PR, past RELAY_MAX_JOB_CHECKS, an earlier
 * dispatch's report); its GitHub id once the outbox created it.
 */
async function checkRunLink(tx: StoreTx, job: StoredJob, webBaseUrl: string): Promise<CheckRunLink | undefined> {
  if (job.prNumber === null) return undefined;
  const backend = await tx.backendHeadOfDispatch(job.deliveryId, job.downstreamRepo);
  if (!backend) return undefined;
  const key = jobCheckKey(aggregateCheckKey(backend.upstreamRepo, backend.backendName, backend.headSha), job.workflowName, job.jobName);
  const record = await tx.checkRun(key);
  if (!record) return undefined;
  const repo = `${webBaseUrl}/${backend.upstreamRepo}`;
  return record.githubId === undefined ? { checks_url: `${repo}/pull/${job.prNumber}/checks` } : { check_run_url: `${repo}/runs/${record.githubId}` };
}

/**
 * A nightly/periodic run the relay did not dispatch: no ticket, so the OIDC identity alone says who
 * reports; HUD only (L2 and up), never check runs. A sha GitHub says is missing upstream is refused
 * (422); when the relay cannot tell (lookup budget used up, timeout, GitHub error) the report is
 * recorded unverified (`upstream_verified: false`).
 */
async function recordSelfReport(identity: OidcIdentity, body: CallbackBody, deps: CallbackDependencies, now: number): Promise<CallbackAnswer> {
  const nightly = body.nightly;
  if (!nightly) return { status: 400, body: { error: "a report without a ticket must carry nightly" } };
  const allowlist = deps.allowlist();
  if (!allowlist) return { status: 503, body: { error: "the relay has no allowlist loaded yet; retry later" } };
  const entry = findEntry(allowlist, identity.repo);
  if (!entry) return { status: 403, body: { error: `${identity.repo} is not in the allowlist` }, outcome: "not_allowlisted" };
  if (!entry.policy.display_on_hud) {
    return { status: 403, body: { error: `${identity.repo} is ${entry.level}: self-reports are accepted from backends shown on the HUD (L2 and up)` } };
  }
  const check = await deps.upstreamCommit(nightly.upstream_sha, identity.repo);
  if (check === "missing") {
    return { status: 422, body: { error: `${nightly.upstream_sha} is not a commit of ${deps.upstreamRepo}; report the upstream sha the run tested` } };
  }
  const key = {
    deliveryId: `self:${nightly.event}:${body.workflow.run_id}`,
    downstreamRepo: identity.repo,
    runId: body.workflow.run_id,
    runAttempt: body.workflow.run_attempt,
    jobName: body.job.name,
  };
  const { store } = deps;
  return store.transaction(async (tx): Promise<CallbackAnswer> => {
    const current = await tx.getJob(key);
    const step = transition(current && storedJobState(current), lifecycleReport(body), now);
    if (step.kind === "duplicate") return { status: 200, body: { accepted: true, duplicate: true } };
    if (step.kind === "conflict") return { status: 409, body: { error: step.message } };
    const job: StoredJob = {
      ...key,
      upstreamRepo: deps.upstreamRepo,
      prNumber: null,
      headSha: nightly.upstream_sha,
      backendName: entry.name,
      level: entry.level,
      workflowName: body.workflow.name,
      status: "completed",
      ...(body.conclusion !== undefined && { conclusion: body.conclusion }),
      completedAt: now,
      fingerprint: step.next.lastReport,
      report: { ...body, upstream_verified: check === "exists" },
      updatedAt: now,
    };
    await recordJob(tx, job, resultRow(job, body, nightly.event), { allowlist, settings: deps.settings, now });
    return { status: 200, body: { accepted: true, duplicate: false, upstream_verified: check === "exists" } };
  });
}

/** Queue time is measured at the start and kept; execution time at completion. */
function carriedDurations(current: StoredJob | undefined, step: ReturnType<typeof transition>): Pick<StoredJob, "queueMs" | "executionMs"> {
  const queueMs = "queueMs" in step && step.queueMs !== undefined ? step.queueMs : current?.queueMs;
  const executionMs = "executionMs" in step ? step.executionMs : undefined;
  return { ...(queueMs !== undefined && { queueMs }), ...(executionMs !== undefined && { executionMs }) };
}
