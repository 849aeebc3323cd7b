// POST /github/callback: the production Python relay's callback body (pytorch/test-infra
// aws/lambda/cross_repo_ci_relay, callback_handler.py), accepted during a migration from that relay for
// downstream repos that opt in (`relay: {owner/repo: {legacy_callbacks: true}}`; docs/pytorch.md). It has
// no ticket: the OIDC-verified repository and the dispatch this relay recorded under the body's
// `delivery_id` say which PR and commit a report is about (the body's echoed PR payload is never read).
// The report is then translated into callback body v1 and goes through the one v1 validation and the
// same job lifecycle; its summary says it was not bound by a ticket.
import { z } from "zod";
import { collectsResults, findEntry } from "../allowlist/policy.js";
import type { TicketClaims } from "../dispatch/ticket.js";
import type { Level } from "../allowlist/types.js";
import type { OidcIdentity } from "./oidc.js";
import { recordReport, type CallbackAnswer, type CallbackDependencies } from "./process.js";
import { CALLBACK_SCHEMA_VERSION, parseCallbackBody } from "./schema.js";

/** Shown with every report that came this way (check run summary, HUD row). */
export const UNBOUND_NOTE =
  "Reported through the production relay's callback (no ticket): matched to its dispatch by delivery id and the OIDC-verified repository only.";

/** A number, or a string of digits (the production action sends run ids and attempts as strings). */
const Digits = z.union([z.int().positive(), z.string().regex(/^[1-9]\d{0,18}$/, { error: "must be a positive integer" })]).transform(Number);

const LegacyBody = z.object({
  delivery_id: z.string().min(1).max(100),
  event_type: z.string().max(50).optional(),
  workflow: z.object({
    status: z.enum(["in_progress", "completed"], { error: "must be in_progress or completed" }),
    conclusion: z.string().nullish(),
    name: z.string().min(1),
    url: z.string().optional(),
    run_id: Digits,
    run_attempt: Digits.optional(),
    job_name: z.string().nullish(),
    started_at: z.string().nullish(),
    completed_at: z.string().nullish(),
    test_results: z
      .object({ passed: z.int().nonnegative(), failed: z.int().nonnegative(), skipped: z.int().nonnegative() })
      .partial()
      .optional(),
    artifact_url: z.string().nullish(),
  }),
});

export interface LegacyDependencies extends CallbackDependencies {
  /** Web base URL of the GitHub host, for a run URL the body does not give. */
  webBaseUrl: string;
}

export async function processLegacyCallback(identity: OidcIdentity, json: unknown, deps: LegacyDependencies): Promise<CallbackAnswer> {
  const allowlist = deps.allowlist();
  if (!allowlist) return { status: 503, body: { error: "the relay has no allowlist loaded yet; retry later" } };
  const entry = findEntry(allowlist, identity.repo);
  if (!entry) return { status: 403, body: { error: `${identity.repo} is not in the allowlist` }, outcome: "not_allowlisted" };
  if (!entry.legacyCallbacks) {
    return {
      status: 403,
      body: { error: `${identity.repo} reports with the production relay's callback, which the allowlist does not allow for it (relay: {${entry.repo}: {legacy_callbacks: true}}); use /relay/callback with the dispatch's ticket` },
      outcome: "forbidden",
    };
  }
  const parsed = LegacyBody.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 10).map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`);
    return { status: 400, body: { error: `not a production relay callback body: ${problems.join("; ")}` }, outcome: "invalid_body" };
  }
  const legacy = parsed.data;
  if (legacy.event_type === "nightly" || legacy.event_type === "periodic") {
    return { status: 400, body: { error: "self-reports (nightly, periodic) are accepted on /relay/callback only, with `nightly`" }, outcome: "invalid_body" };
  }
  if (!collectsResults(entry.policy)) {
    return { status: 202, body: { accepted: true, ignored: `${identity.repo} is ${entry.level}: results are not shown upstream` } };
  }
  // The dispatch is the binding a ticket would carry: found by the upstream delivery and the verified repo.
  const dispatch = (await deps.store.dispatchLog(legacy.delivery_id)).find((row) => row.downstreamRepo.toLowerCase() === identity.repo.toLowerCase());
  if (!dispatch || dispatch.prNumber === undefined) {
    return { status: 400, body: { error: "callback rejected: no matching dispatch record (a pull request dispatch of this delivery to this repository)" }, outcome: "bad_ticket" };
  }
  const v1 = parseCallbackBody(toV1(legacy, identity.repo, deps.webBaseUrl), { ticketless: true });
  if (!v1.ok) return { status: 400, body: { error: v1.message }, outcome: "invalid_body" };
  const claims: TicketClaims = {
    deliveryId: dispatch.deliveryId,
    downstreamRepo: identity.repo.toLowerCase(),
    upstreamRepo: dispatch.upstreamRepo.toLowerCase(),
    prNumber: dispatch.prNumber,
    headSha: dispatch.headSha,
    level: dispatch.level as Level,
  };
  // Answered as the production relay answers: without the check run's link that /relay/callback adds.
  const { checkRun: _link, ...answer } = await recordReport(claims, entry, v1.body, deps, (deps.now ?? Date.now)());
  return answer;
}

/** The same report as callback body v1 (without a ticket: the claims come from the dispatch record). */
function toV1(legacy: z.output<typeof LegacyBody>, repo: string, webBaseUrl: string): Record<string, unknown> {
  const { workflow } = legacy;
  const tests = workflow.test_results;
  const counts = tests && { passed: tests.passed ?? 0, failed: tests.failed ?? 0, skipped: tests.skipped ?? 0 };
  return {
    schema_version: CALLBACK_SCHEMA_VERSION,
    status: workflow.status,
    ...(workflow.status === "completed" && { conclusion: workflow.conclusion ?? "failure" }),
    workflow: {
      name: workflow.name,
      run_id: workflow.run_id,
      run_attempt: workflow.run_attempt ?? 1,
      url: workflow.url ?? `${webBaseUrl}/${repo}/actions/runs/${workflow.run_id}`,
    },
    job: { name: workflow.job_name || workflow.name },
    summary: UNBOUND_NOTE,
    ...(counts && { tests: { ...counts, total: counts.passed + counts.failed + counts.skipped } }),
    ...(workflow.artifact_url && { artifact_url: workflow.artifact_url }),
    ...(workflow.started_at && { started_at: workflow.started_at }),
    ...(workflow.completed_at && { completed_at: workflow.completed_at }),
  };
}
