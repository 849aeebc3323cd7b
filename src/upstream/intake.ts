// Turns a plan into the work the store accepts for a webhook: a dispatch task per target and a
// dispatch-log row for every target considered. Check runs follow from the stored facts (src/state/).
import { buildDispatchPayload, type DispatchPayloadInput } from "../dispatch/payload.js";
import { signTicket, type TicketKeys } from "../dispatch/ticket.js";
import { capLength } from "../github/text-limits.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { AcceptedWork, OutboxTaskInput } from "../store/store.js";
import type { DispatchLogEntry } from "../domain/dispatches.js";
import type { RelayConfig } from "../config.js";
import { ticketKeys } from "../dispatch/ticket.js";
import type { UpstreamEvent } from "./events.js";
import { CLOSED_ACTION, type Plan, type PlannerSettings, type Target } from "./planner.js";

export interface IntakeSettings {
  prEventType: string;
  pushEventType: string;
  /**
   * The closing notice's own event_type: a workflow that listens for PR dispatches only (the RFC's
   * reference workflow, unchanged) must not run CI for a closed PR.
   */
  closedEventType: string;
  callbackUrl: string;
  ticketKeys: TicketKeys;
  ticketTtlSeconds: number;
}

/** How the webhook path and the reconciler build dispatches, from configuration. */
export function intakeSettings(config: RelayConfig): IntakeSettings {
  return {
    prEventType: config.dispatch.prEventType,
    pushEventType: config.dispatch.pushEventType,
    closedEventType: config.dispatch.closedEventType,
    callbackUrl: config.callback.url,
    ticketKeys: ticketKeys(config),
    ticketTtlSeconds: config.dispatch.ticketTtlSeconds,
  };
}

/** How the webhook path and the reconciler decide who is dispatched, from configuration. */
export function plannerSettings(config: RelayConfig): PlannerSettings {
  return {
    labelPrefix: config.labels.prefix,
    drafts: config.dispatch.drafts,
    trustedAssociations: config.dispatch.trustedAssociations,
    trustLabel: config.dispatch.trustLabel,
  };
}

function eventTypeOf(event: UpstreamEvent, settings: IntakeSettings): string {
  if (event.kind === "push") return settings.pushEventType;
  return event.action === CLOSED_ACTION ? settings.closedEventType : settings.prEventType;
}

/** GitHub caps PR titles at 256 characters; commit headlines have no limit. */
const MAX_TITLE_LENGTH = 256;

export function dispatchKey(deliveryId: string, downstreamRepo: string): string {
  return `dispatch:${deliveryId}:${downstreamRepo.toLowerCase()}`;
}

export async function buildWork(
  event: UpstreamEvent,
  plan: Plan,
  settings: IntakeSettings,
  installationOf: (repo: string) => number | undefined,
  now: number,
): Promise<AcceptedWork> {
  const tasks: OutboxTaskInput[] = [];
  const log: DispatchLogEntry[] = plan.skipped.map((target) => logRow(event, target, now, "skipped", target.reason));
  for (const target of plan.dispatch) {
    tasks.push(await dispatchTask(event, target, settings, installationOf(target.entry.repo), now));
    log.push(logRow(event, target, now, "pending"));
  }
  return { tasks, log };
}

async function dispatchTask(
  event: UpstreamEvent,
  target: Target,
  settings: IntakeSettings,
  installationId: number | undefined,
  now: number,
): Promise<OutboxTaskInput> {
  const { entry } = target;
  const headSha = event.kind === "pull_request" ? event.headSha : event.after;
  const ticket = await signTicket(
    {
      deliveryId: event.deliveryId,
      downstreamRepo: entry.repo,
      upstreamRepo: event.repo,
      prNumber: event.kind === "pull_request" ? event.number : null,
      headSha,
      level: entry.level,
    },
    settings.ticketKeys,
    { ttlSeconds: settings.ticketTtlSeconds, now: new Date(now) },
  );
  const common = {
    deliveryId: event.deliveryId,
    upstreamRepo: event.repo,
    backend: { name: entry.name, level: entry.level, showsCheckRun: target.showsCheckRun, blocksPr: entry.policy.block_pr },
    callbackUrl: settings.callbackUrl,
    ticket,
  };
  const input: DispatchPayloadInput =
    event.kind === "pull_request"
      ? {
          ...common,
          event: "pull_request",
          action: event.action,
          pullRequest: event,
        }
      : {
          ...common,
          event: "push",
          push: { branch: event.ref.replace(/^refs\/heads\//, ""), headSha: event.after, commitUrl: event.url, author: event.pusher },
        };
  const { owner, repo } = parseRepoSlug(entry.repo);
  return {
    key: dispatchKey(event.deliveryId, entry.repo),
    kind: "dispatch",
    repo: entry.repo,
    ...(installationId !== undefined && { installationId }),
    request: {
      route: "POST /repos/{owner}/{repo}/dispatches",
      params: {
        owner,
        repo,
        event_type: eventTypeOf(event, settings),
        client_payload: buildDispatchPayload(input),
      },
    },
    dispatch: { deliveryId: event.deliveryId, downstreamRepo: entry.repo },
  };
}

function logRow(
  event: UpstreamEvent,
  target: Target,
  now: number,
  outcome: "pending" | "skipped",
  reason?: string,
): DispatchLogEntry {
  return {
    deliveryId: event.deliveryId,
    downstreamRepo: target.entry.repo,
    upstreamRepo: event.repo,
    event: event.kind,
    ...(event.kind === "pull_request" && { action: event.action, prNumber: event.number }),
    headSha: event.kind === "pull_request" ? event.headSha : event.after,
    backendName: target.entry.name,
    level: target.entry.level,
    outcome,
    ...(reason !== undefined && { reason }),
    attempts: 0,
    createdAt: now,
    ...historyFacts(event),
  };
}

/** Title and author for the HUD's history grid; the title is the uploader's text, so it is capped. */
function historyFacts(event: UpstreamEvent): Pick<DispatchLogEntry, "title" | "author"> {
  const title = event.kind === "pull_request" ? event.title : event.headline;
  return {
    ...(title !== undefined && { title: capLength(title, MAX_TITLE_LENGTH) }),
    author: event.kind === "pull_request" ? event.author : event.pusher,
  };
}
