// One job attempt's state in the shape of hud.pytorch.org's ClickHouse table `default.crcr_workflow_job`
// (pytorch/test-infra clickhouse_db_schema/default.crcr_workflow_job/schema.sql): the one mapping of our
// results to it (docs/pytorch.md, "HUD rows for hud.pytorch.org"). The row is queued in the store with the
// job's state; both destinations build what they send from it: the table row (./clickhouse-destination.ts)
// and torchci's results API body (./torchci-envelope.ts). Pure.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { ReportedFields, StoredJob } from "../domain/jobs.js";
import { uint32 } from "../hud/column-types.js";
import { wellFormed } from "../validation/well-formed.js";

/** What the mapping reads of a stored report. */
export type CrcrReport = Pick<ReportedFields, "started_at" | "completed_at" | "tests" | "failed_tests" | "artifact_url" | "environment"> & {
  workflow: Pick<ReportedFields["workflow"], "url">;
};

const Text = wellFormed(z.string());
const Name = wellFormed(z.string()).min(1);
/** ISO-8601 UTC with milliseconds, as torchci's API takes it and ClickHouse parses it into DateTime64(9). */
const Time = z.iso.datetime();
const Seconds = z.number().nonnegative().nullable();
/** Test counts: null when the report had none (the table gets 0, the API body no test_results). */
const Count = z.int().nonnegative().nullable();

/** The queued row: the table's columns, with null where the report said nothing (the API must know). */
export const CrcrRow = z.strictObject({
  dynamoKey: Name,
  status: z.enum(["in_progress", "completed"]),
  downstream_repo: Name,
  upstream_repo: Name,
  pr_number: z.int().nonnegative(),
  pytorch_head_sha: Name,
  delivery_id: Name,
  workflow_run_url: Text,
  workflow_name: Name,
  job_name: Name,
  check_run_id: Name,
  run_id: Name,
  run_attempt: uint32().positive(),
  conclusion: Text,
  queue_time: Seconds,
  execution_time: Seconds,
  started_at: Time,
  completed_at: Time.nullable(),
  total_tests: Count,
  passed_tests: Count,
  failed_tests: Count,
  skipped_tests: Count,
  failed_tests_json: Text,
  artifact_url: Text,
  environment: Text,
  downstream_repo_level: Text,
  event_type: Name,
});
export type CrcrRow = z.infer<typeof CrcrRow>;

/**
 * Our stand-in for GitHub's check_run_id, stable across the states of one job attempt (torchci keys a row
 * by it, so in_progress and completed must agree): the run, its attempt and a hash of the job name. Only
 * these three are in every report; a job URL naming GitHub's job id is not.
 */
export function checkRunIdOf(job: Pick<StoredJob, "runId" | "runAttempt" | "jobName">): string {
  const hash = createHash("sha256").update(job.jobName).digest("hex").slice(0, 12);
  return `${job.runId}-${job.runAttempt}-${hash}`;
}

/**
 * `job`'s current state as a crcr_workflow_job row. `report` is the job's last accepted report; `eventType`
 * pull_request, push, or a self-report's kind (nightly, periodic, …); `downstreamRepo` the repo as the
 * allowlist writes it (the relay keeps it in lower case; torchci compares the column exactly with the
 * allowlist's spelling). Times: the downstream's own when it reported them, else the relay's; started_at is
 * never empty (torchci's dashboards filter on it).
 */
export function crcrRow(job: StoredJob, report: CrcrReport, eventType: string, downstreamRepo = job.downstreamRepo): CrcrRow {
  const checkRunId = checkRunIdOf(job);
  const completedAt = job.status === "completed" ? (reportedTime(report.completed_at) ?? isoTime(job.completedAt ?? job.updatedAt)) : null;
  const startedAt = reportedTime(report.started_at) ?? (job.startedAt === undefined ? completedAt : isoTime(job.startedAt));
  return {
    dynamoKey: `${downstreamRepo}/${job.deliveryId}/${job.workflowName}/${job.jobName}/${checkRunId}`,
    status: job.status,
    downstream_repo: downstreamRepo,
    // Lower case whatever the path (tickets carry it so, configuration maybe not), like GitHub's pytorch/pytorch.
    upstream_repo: job.upstreamRepo.toLowerCase(),
    pr_number: job.prNumber ?? 0,
    pytorch_head_sha: job.headSha,
    delivery_id: job.deliveryId,
    workflow_run_url: report.workflow.url,
    workflow_name: job.workflowName,
    job_name: job.jobName,
    check_run_id: checkRunId,
    run_id: String(job.runId),
    run_attempt: job.runAttempt,
    conclusion: job.status === "completed" ? (job.conclusion ?? "") : "",
    queue_time: seconds(job.queueMs),
    execution_time: seconds(job.executionMs),
    started_at: startedAt ?? isoTime(job.updatedAt),
    completed_at: completedAt,
    total_tests: report.tests?.total ?? null,
    passed_tests: report.tests?.passed ?? null,
    failed_tests: report.tests?.failed ?? null,
    skipped_tests: report.tests?.skipped ?? null,
    // Empty, like the column's default, when there is nothing to say.
    failed_tests_json: report.failed_tests?.length ? JSON.stringify(report.failed_tests) : "",
    artifact_url: report.artifact_url ?? "",
    environment: report.environment && Object.keys(report.environment).length > 0 ? JSON.stringify(report.environment) : "",
    downstream_repo_level: job.level,
    event_type: eventType,
  };
}

const isoTime = (ms: number) => new Date(ms).toISOString();

/** A reported ISO-8601 time (any offset; the callback schema checked it) in UTC. */
function reportedTime(text: string | undefined): string | undefined {
  return text === undefined ? undefined : isoTime(Date.parse(text));
}

/** The relay's milliseconds as the table's seconds (three decimals, like the production relay's). */
function seconds(ms: number | undefined): number | null {
  return ms === undefined ? null : ms / 1000;
}
