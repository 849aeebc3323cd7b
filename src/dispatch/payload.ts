// Dispatch payload v1: the `client_payload` of the `repository_dispatch` a downstream receives. This schema
// is the downstream contract (published as docs/schemas/dispatch-payload.v1.json); changing a field's meaning
// needs schema version 2. GitHub accepts at most 10 top-level keys and < 64 KB: every field is bounded, the
// PR body is never sent, and the title and label list are capped.
import { z } from "zod";
import { BackendNameSchema } from "../allowlist/schema.js";
import { LEVELS } from "../allowlist/types.js";
import type { Level } from "../allowlist/types.js";
import { RepoSlugSchema } from "../github/repo-name.js";
import { describeIssues } from "../validation/describe-issues.js";
import { MAX_TICKET_LENGTH } from "./ticket.js";

export const MAX_LABELS = 50;
/** GitHub's own limit on label names; longer names cannot come from github.com and are dropped. */
export const MAX_LABEL_LENGTH = 50;
export const MAX_TITLE_LENGTH = 256;

const MAX_REF_LENGTH = 255;
const MAX_URL_LENGTH = 2048;
const TITLE_ELLIPSIS = "…";

const Sha = z.string().regex(/^[0-9a-f]{40}$/, { message: "must be a 40-character lowercase hex commit sha" });
const Repo = RepoSlugSchema.max(140);
const Ref = z.string().min(1).max(MAX_REF_LENGTH);
const Login = z.string().min(1).max(100);
const HttpUrl = z.url({ protocol: /^https?$/, message: "must be an absolute http(s) URL" }).max(MAX_URL_LENGTH);

const Upstream = z
  .object({
    repo: Repo.describe("The upstream repository (owner/repo) the event came from."),
    ref: Ref.describe("Branch name of the PR head, or the pushed branch (without refs/heads/)."),
    base_ref: Ref.nullable().describe("Base branch of the PR; null for push."),
    base_sha: Sha.nullable().describe("Base commit sha of the PR when the event was sent; null for push."),
    head_repo: Repo.nullable().describe(
      "Repository (owner/repo) holding the PR head; differs from repo for forks. Null for push, and for a PR whose fork was deleted (fetch refs/pull/<pr_number>/head from repo instead).",
    ),
    url: HttpUrl.describe("Web URL of the PR, or of the pushed commit, as GitHub reported it."),
    title: z
      .string()
      .max(MAX_TITLE_LENGTH)
      .nullable()
      .describe(`PR title, cut to ${MAX_TITLE_LENGTH} characters (ending in "${TITLE_ELLIPSIS}" when cut); null for push.`),
    author: Login.describe("Login of the PR author, or of the user who pushed."),
    draft: z.boolean().describe("Whether the PR is a draft; false for push."),
    labels: z
      .array(z.string().max(MAX_LABEL_LENGTH))
      .max(MAX_LABELS)
      .describe(
        `Names of the PR's labels in GitHub's order: the first ${MAX_LABELS} of at most ${MAX_LABEL_LENGTH} characters. Empty for push.`,
      ),
    labels_truncated: z.boolean().describe("True when some of the PR's labels were left out of labels."),
  })
  .describe("Coordinates of the upstream change. The PR body is never included.");

const Backend = z
  .object({
    name: BackendNameSchema.describe("The backend's short name from the allowlist (as in ciflow/oot/<name>)."),
    level: z.enum(LEVELS).describe("The backend's level in the allowlist."),
    shows_check_run: z
      .boolean()
      .describe("Whether the relay shows this backend's check runs on this PR."),
    blocks_pr: z
      .boolean()
      .describe(
        "Whether this backend's aggregate check run can be a required check: it exists from dispatch on and fails when the backend fails or never reports.",
      ),
  })
  .describe("The downstream backend this dispatch is for, as the allowlist describes it.");

const Event = z
  .object({
    name: z.enum(["pull_request", "push"]).describe("The upstream webhook event."),
    action: z.string().min(1).max(64).nullable().describe("The pull_request action (opened, synchronize, …); null for push."),
  })
  .describe("The upstream event that caused this dispatch.");

const PayloadFields = z.object({
  schema_version: z.literal(1).describe("Version of this payload schema."),
  delivery_id: z
    .string()
    .min(1)
    .max(100)
    .describe("GitHub's delivery id (X-GitHub-Delivery) of the upstream webhook; one dispatch per delivery and backend."),
  event: Event,
  pr_number: z.int().positive().nullable().describe("Upstream PR number; null for push."),
  head_sha: Sha.describe("Commit to test: the PR head, or the pushed commit."),
  upstream: Upstream,
  backend: Backend,
  callback_url: HttpUrl.describe("Where report-ci-result sends results (the relay's /relay/callback)."),
  ticket: z
    .string()
    .min(1)
    .max(MAX_TICKET_LENGTH)
    .describe("Relay-signed ticket binding this dispatch; send it back unchanged with every callback."),
});

/** `client_payload` of the `repository_dispatch` the relay sends to a downstream repository. */
export const DispatchPayloadV1 = PayloadFields.superRefine(checkEventShape);

export type DispatchPayload = z.infer<typeof DispatchPayloadV1>;

// Cross-field rules: PR-only fields are set exactly for pull_request events.
function checkEventShape(payload: z.infer<typeof PayloadFields>, ctx: z.RefinementCtx): void {
  const isPr = payload.event.name === "pull_request";
  const prOnly: Array<[string[], unknown]> = [
    [["event", "action"], payload.event.action],
    [["pr_number"], payload.pr_number],
    [["upstream", "base_ref"], payload.upstream.base_ref],
    [["upstream", "base_sha"], payload.upstream.base_sha],
    [["upstream", "title"], payload.upstream.title],
  ];
  for (const [path, value] of prOnly) {
    if ((value !== null) !== isPr) {
      ctx.addIssue({ code: "custom", path, message: isPr ? "required for pull_request" : "must be null for push" });
    }
  }
  if (!isPr && payload.upstream.head_repo !== null) {
    ctx.addIssue({ code: "custom", path: ["upstream", "head_repo"], message: "must be null for push" });
  }
}

export interface BackendInput {
  name: string;
  level: Level;
  showsCheckRun: boolean;
  blocksPr: boolean;
}

/** Fields of `pull_request` in the webhook payload, flattened. */
export interface PullRequestInput {
  number: number;
  headSha: string;
  headRef: string;
  /** `head.repo.full_name`; null when the fork was deleted. */
  headRepo: string | null;
  baseRef: string;
  baseSha: string;
  htmlUrl: string;
  title: string;
  author: string;
  draft: boolean;
  labels: readonly string[];
}

export interface PushInput {
  /** Branch name without `refs/heads/`. */
  branch: string;
  /** The pushed `after` sha. */
  headSha: string;
  /** `head_commit.url`, or the compare URL when the push has no head commit. */
  commitUrl: string;
  /** Login of the user who pushed (`sender.login`). */
  author: string;
}

interface CommonInput {
  deliveryId: string;
  upstreamRepo: string;
  backend: BackendInput;
  callbackUrl: string;
  ticket: string;
}

export type DispatchPayloadInput = CommonInput &
  ({ event: "pull_request"; action: string; pullRequest: PullRequestInput } | { event: "push"; push: PushInput });

/** Builds and validates the payload; throws an Error naming each invalid field. */
export function buildDispatchPayload(input: DispatchPayloadInput): DispatchPayload {
  const common = {
    schema_version: 1,
    delivery_id: input.deliveryId,
    backend: {
      name: input.backend.name,
      level: input.backend.level,
      shows_check_run: input.backend.showsCheckRun,
      blocks_pr: input.backend.blocksPr,
    },
    callback_url: input.callbackUrl,
    ticket: input.ticket,
  };
  const specific =
    input.event === "pull_request"
      ? pullRequestFields(input.upstreamRepo, input.action, input.pullRequest)
      : pushFields(input.upstreamRepo, input.push);
  return validate({ ...common, ...specific }, input.deliveryId);
}

function pullRequestFields(upstreamRepo: string, action: string, pr: PullRequestInput) {
  const labels = capLabels(pr.labels);
  return {
    event: { name: "pull_request", action },
    pr_number: pr.number,
    head_sha: pr.headSha,
    upstream: {
      repo: upstreamRepo,
      ref: pr.headRef,
      base_ref: pr.baseRef,
      base_sha: pr.baseSha,
      head_repo: pr.headRepo,
      url: pr.htmlUrl,
      title: capTitle(pr.title),
      author: pr.author,
      draft: pr.draft,
      labels: labels.kept,
      labels_truncated: labels.truncated,
    },
  };
}

function pushFields(upstreamRepo: string, push: PushInput) {
  return {
    event: { name: "push", action: null },
    pr_number: null,
    head_sha: push.headSha,
    upstream: {
      repo: upstreamRepo,
      ref: push.branch,
      base_ref: null,
      base_sha: null,
      head_repo: null,
      url: push.commitUrl,
      title: null,
      author: push.author,
      draft: false,
      labels: [],
      labels_truncated: false,
    },
  };
}

// Over-long names are dropped rather than cut: a cut name would be a label the PR does not have.
function capLabels(labels: readonly string[]): { kept: string[]; truncated: boolean } {
  const kept = labels.filter((label) => label.length <= MAX_LABEL_LENGTH).slice(0, MAX_LABELS);
  return { kept, truncated: kept.length < labels.length };
}

function capTitle(title: string): string {
  if (title.length <= MAX_TITLE_LENGTH) return title;
  let cut = MAX_TITLE_LENGTH - TITLE_ELLIPSIS.length;
  const code = title.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return title.slice(0, cut) + TITLE_ELLIPSIS;
}

function validate(candidate: unknown, deliveryId: string): DispatchPayload {
  const result = DispatchPayloadV1.safeParse(candidate);
  if (result.success) return result.data;
  throw new Error(`invalid dispatch payload for delivery ${JSON.stringify(deliveryId)}: ${describeIssues(result.error, "(payload)")}`);
}
