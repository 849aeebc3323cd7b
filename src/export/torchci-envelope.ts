// A queued crcr row as the body of torchci's results API (`POST <HUD>/api/crcr/results`), in the production
// relay's envelope: `trusted` is what the relay vouches for, `untrusted.callback_payload` a callback body as
// the production callback action builds it (pytorch/test-infra report_callback.py). torchci maps it back to
// the same crcr_workflow_job row (its dynamoKey included) the ClickHouse destination writes. Pure.
import type { CrcrRow } from "./crcr-row.js";

export function torchciEnvelope(row: CrcrRow) {
  const tests = row.total_tests !== null && {
    test_results: { total: row.total_tests, passed: row.passed_tests, failed: row.failed_tests, skipped: row.skipped_tests },
  };
  return {
    trusted: {
      verified_repo: row.downstream_repo,
      downstream_repo_level: row.downstream_repo_level,
      ci_metrics: { queue_time: row.queue_time, execution_time: row.execution_time },
    },
    untrusted: {
      callback_payload: {
        event_type: row.event_type,
        delivery_id: row.delivery_id,
        // torchci reads the PR and sha from here: pull_request for a PR, head_sha otherwise (pr_number 0).
        payload:
          row.pr_number > 0
            ? { repository: { full_name: row.upstream_repo }, pull_request: { number: row.pr_number, head: { sha: row.pytorch_head_sha } } }
            : { repository: { full_name: row.upstream_repo }, head_sha: row.pytorch_head_sha },
        workflow: {
          schema_version: "1",
          status: row.status,
          conclusion: row.conclusion === "" ? null : row.conclusion,
          name: row.workflow_name,
          url: row.workflow_run_url,
          run_id: row.run_id,
          run_attempt: String(row.run_attempt),
          job_name: row.job_name,
          check_run_id: row.check_run_id,
          started_at: row.started_at,
          completed_at: row.completed_at,
          ...tests,
          ...(row.artifact_url !== "" && { artifact_url: row.artifact_url }),
        },
      },
    },
  };
}
