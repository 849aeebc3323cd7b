// Upstream webhook payloads reduced to the facts the planner needs (pure). Only this module reads
// Probot's payload shapes for upstream events.
import type { PullRequestInput } from "../dispatch/payload.js";
import { toWellFormed } from "../validation/well-formed.js";

/** A pull_request event: the PR fields the dispatch payload carries, plus what the planner decides on. */
export interface PullRequestFacts extends PullRequestInput {
  kind: "pull_request";
  deliveryId: string;
  action: string;
  repo: string;
  installationId?: number;
  authorAssociation: string;
  /** The label added or removed, for labeled/unlabeled. */
  label?: string;
  /** The PR is closed (merged or not) after this event. */
  closed: boolean;
}

export interface PushFacts {
  kind: "push";
  deliveryId: string;
  repo: string;
  installationId?: number;
  ref: string;
  after: string;
  deleted: boolean;
  defaultBranch?: string;
  /** head_commit.url, or the compare URL when the push has no head commit. */
  url: string;
  /** Login of the user who pushed (sender.login; pusher.name when there is no sender). */
  pusher: string;
  /** First line of the head commit's message (the HUD's trunk view shows it). */
  headline?: string;
}

export type UpstreamEvent = PullRequestFacts | PushFacts;

interface PullRequestPayload {
  action: string;
  installation?: { id: number };
  repository: { full_name: string };
  label?: { name: string };
  pull_request: {
    number: number;
    state: string;
    html_url: string;
    title: string;
    draft?: boolean;
    author_association: string;
    user: { login: string } | null;
    labels: Array<{ name: string }>;
    head: { sha: string; ref: string; repo: { full_name: string } | null };
    base: { sha: string; ref: string };
  };
}

interface PushPayload {
  installation?: { id: number };
  repository: { full_name: string; default_branch?: string; html_url: string };
  ref: string;
  after: string;
  deleted: boolean;
  compare: string;
  head_commit: { url: string; message?: string } | null;
  pusher: { name: string };
  sender?: { login: string };
}

export function pullRequestFacts(deliveryId: string, payload: PullRequestPayload): PullRequestFacts {
  const pr = payload.pull_request;
  return {
    kind: "pull_request",
    deliveryId,
    action: payload.action,
    repo: payload.repository.full_name,
    ...(payload.installation && { installationId: payload.installation.id }),
    number: pr.number,
    headSha: pr.head.sha,
    headRef: pr.head.ref,
    headRepo: pr.head.repo?.full_name ?? null,
    baseRef: pr.base.ref,
    baseSha: pr.base.sha,
    htmlUrl: pr.html_url,
    // Free text from GitHub users: stored and exported to ClickHouse, so lone surrogates are repaired here.
    title: toWellFormed(pr.title),
    author: pr.user?.login ?? "ghost",
    authorAssociation: pr.author_association,
    draft: pr.draft ?? false,
    labels: pr.labels.map((label) => label.name),
    ...(payload.label && { label: payload.label.name }),
    // The action wins where it says so; otherwise the PR's state (a closed PR can be labeled or edited).
    closed: payload.action === "closed" || (payload.action !== "reopened" && pr.state === "closed"),
  };
}

export function pushFacts(deliveryId: string, payload: PushPayload): PushFacts {
  return {
    kind: "push",
    deliveryId,
    repo: payload.repository.full_name,
    ...(payload.installation && { installationId: payload.installation.id }),
    ref: payload.ref,
    after: payload.after,
    deleted: payload.deleted,
    ...(payload.repository.default_branch && { defaultBranch: payload.repository.default_branch }),
    url: payload.head_commit?.url ?? payload.compare,
    pusher: payload.sender?.login ?? payload.pusher.name,
    ...(payload.head_commit?.message && { headline: toWellFormed(payload.head_commit.message.split("\n", 1)[0] ?? "") }),
  };
}
