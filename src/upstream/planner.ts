// The dispatch planner (pure): upstream event × allowlist × installations × trust → what to send.
import { showsCheckRun } from "../allowlist/policy.js";
import type { Allowlist, AllowlistEntry } from "../allowlist/types.js";
import type { PullRequestFacts, UpstreamEvent } from "./events.js";

export interface PlannerSettings {
  labelPrefix: string;
  /** Dispatch draft PRs too (default: wait for ready_for_review). */
  drafts: boolean;
  /** author_association values whose PRs are dispatched without a maintainer's label. */
  trustedAssociations: readonly string[];
  /** The label a maintainer adds to let an untrusted author's PR through. */
  trustLabel: string;
}

export type SkipReason = "not_forwarded" | "draft" | "untrusted_author" | "not_installed";

export interface Target {
  entry: AllowlistEntry;
  /** Whether this backend's check run is shown on the PR (never for pushes). */
  showsCheckRun: boolean;
}

export interface Plan {
  /** Why the event dispatches nothing at all (no dispatch-log rows), e.g. an action the relay ignores. */
  ignored?: string;
  dispatch: Target[];
  skipped: Array<Target & { reason: SkipReason }>;
}

/**
 * Not a GitHub action: the dispatch reconciler's (src/upstream/dispatch-reconciler.ts) for an open PR's
 * head that a backend never received. Downstreams see it as the payload's `event.action`.
 */
export const RECONCILED_ACTION = "reconciled";

// PR actions that put a new head in front of backends. Others (closed, edited, …) dispatch nothing;
// labeled dispatches only when the label is the trust label that was holding the PR back.
const DISPATCHING_ACTIONS = new Set(["opened", "reopened", "synchronize", "ready_for_review", RECONCILED_ACTION]);

/** PR closed (merged or not): the backends that received its head are told, so they can stop or clean up. */
export const CLOSED_ACTION = "closed";

/**
 * `received`: the downstream repos (lower case) that were dispatched the event's head before. Only a
 * `closed` event reads it: it goes to those backends alone, trusted or not (they already had the PR).
 */
export function planDispatch(
  event: UpstreamEvent,
  allowlist: Allowlist,
  installed: (repo: string) => boolean | undefined,
  settings: PlannerSettings,
  received: ReadonlySet<string> = new Set(),
): Plan {
  if (event.kind === "pull_request" && event.action === CLOSED_ACTION) return planClosed(event, allowlist, installed, settings, received);
  const ignored = ignoredBecause(event, settings);
  if (ignored) return { ignored, dispatch: [], skipped: [] };

  const gate = event.kind === "pull_request" ? prGate(event, settings) : undefined;
  const plan: Plan = { dispatch: [], skipped: [] };
  for (const entry of allowlist.entries) {
    const target: Target = {
      entry,
      showsCheckRun: event.kind === "pull_request" && showsCheckRun(entry, event.labels, settings.labelPrefix),
    };
    // "Unknown" installation (never looked up) is dispatched: the outbox resolves it at send time.
    const reason: SkipReason | undefined = !entry.policy.forward_event
      ? "not_forwarded"
      : (gate ?? (installed(entry.repo) === false ? "not_installed" : undefined));
    if (reason) plan.skipped.push({ ...target, reason });
    else plan.dispatch.push(target);
  }
  return plan;
}

function planClosed(
  event: PullRequestFacts,
  allowlist: Allowlist,
  installed: (repo: string) => boolean | undefined,
  settings: PlannerSettings,
  received: ReadonlySet<string>,
): Plan {
  const plan: Plan = { dispatch: [], skipped: [] };
  for (const entry of allowlist.entries) {
    if (!received.has(entry.repo.toLowerCase())) continue;
    const target: Target = { entry, showsCheckRun: showsCheckRun(entry, event.labels, settings.labelPrefix) };
    const reason: SkipReason | undefined = !entry.policy.forward_event ? "not_forwarded" : installed(entry.repo) === false ? "not_installed" : undefined;
    if (reason) plan.skipped.push({ ...target, reason });
    else plan.dispatch.push(target);
  }
  return plan.dispatch.length + plan.skipped.length === 0 ? { ignored: "pull_request.closed of a head no backend received", ...plan } : plan;
}

function ignoredBecause(event: UpstreamEvent, settings: PlannerSettings): string | undefined {
  if (event.kind === "push") {
    if (event.deleted) return "branch deleted";
    if (!event.defaultBranch || event.ref !== `refs/heads/${event.defaultBranch}`) return "not the default branch";
    return undefined;
  }
  if (DISPATCHING_ACTIONS.has(event.action)) return undefined;
  if (event.action === "labeled" && sameLabel(event.label, settings.trustLabel)) {
    // The label only matters where it lifts the trust gate; a trusted author's PR was dispatched already.
    return isTrustedAuthor(event, settings) ? "trust label on a trusted author's PR" : undefined;
  }
  return `pull_request.${event.action} does not dispatch`;
}

function prGate(event: PullRequestFacts, settings: PlannerSettings): SkipReason | undefined {
  if (event.draft && !settings.drafts) return "draft";
  if (!isTrustedAuthor(event, settings) && !event.labels.some((label) => sameLabel(label, settings.trustLabel))) {
    return "untrusted_author";
  }
  return undefined;
}

function isTrustedAuthor(event: PullRequestFacts, settings: PlannerSettings): boolean {
  return settings.trustedAssociations.includes(event.authorAssociation);
}

/** GitHub label names are unique regardless of case. */
function sameLabel(a: string | undefined, b: string): boolean {
  return a?.toLowerCase() === b.toLowerCase();
}
