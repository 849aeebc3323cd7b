// The HUD's results row for one job attempt (pure). Rows wait in the store's HUD queue until the
// ClickHouse writer exports them; `version` lets a later state of the same attempt replace an earlier one.
import { capLength } from "../github/text-limits.js";
import type { ReportedFields, StoredJob } from "../domain/jobs.js";

/** The HUD shows a short summary (tooltips, PR boxes); the full text is in the job's check run. */
const HUD_SUMMARY_LENGTH = 2000;

/**
 * `eventType`: pull_request, push, or a self-report's kind (nightly, periodic, …). Times are epoch ms;
 * `first_report_at` never changes for a job attempt (first in_progress, else its completion), so the
 * ClickHouse sorting key built on it keeps every version of the attempt in one place.
 */
export function resultRow(job: StoredJob, body: ReportedFields, eventType: string): Record<string, unknown> {
  return {
    upstream_repo: job.upstreamRepo.toLowerCase(),
    pr_number: job.prNumber,
    head_sha: job.headSha,
    delivery_id: job.deliveryId,
    downstream_repo: job.downstreamRepo.toLowerCase(),
    backend_name: job.backendName,
    level: job.level,
    event_type: eventType,
    workflow_name: body.workflow.name,
    workflow_url: body.workflow.url,
    run_id: job.runId,
    run_attempt: job.runAttempt,
    job_name: job.jobName,
    job_url: body.job.url ?? null,
    status: job.status,
    conclusion: job.conclusion ?? null,
    failure_kind: body.failure_kind ?? null,
    summary: body.summary === undefined ? null : capLength(body.summary, HUD_SUMMARY_LENGTH),
    queue_ms: job.queueMs ?? null,
    execution_ms: job.executionMs ?? null,
    first_report_at: job.startedAt ?? job.completedAt ?? job.updatedAt,
    relay_started_at: job.startedAt ?? null,
    relay_completed_at: job.completedAt ?? null,
    reported_started_at: body.started_at ?? null,
    reported_completed_at: body.completed_at ?? null,
    tests_total: body.tests?.total ?? null,
    tests_passed: body.tests?.passed ?? null,
    tests_failed: body.tests?.failed ?? null,
    tests_skipped: body.tests?.skipped ?? null,
    failed_tests: body.failed_tests ?? [],
    artifact_url: body.artifact_url ?? null,
    environment: body.environment ?? {},
    version: job.updatedAt,
  };
}
