// The one mapping of a job attempt's state to hud.pytorch.org's crcr_workflow_job row, and what each
// destination builds from it: the ClickHouse table row and torchci's results API body.
import { describe, expect, it } from "vitest";
import type { StoredJob } from "../../src/domain/jobs.js";
import { crcrTableRow } from "../../src/export/clickhouse-destination.js";
import { CrcrRow, crcrRow } from "../../src/export/crcr-row.js";
import { torchciEnvelope } from "../../src/export/torchci-envelope.js";
import type { ReportedFields } from "../../src/domain/jobs.js";

const STARTED = Date.parse("2026-05-04T20:48:28.123Z");
const COMPLETED = Date.parse("2026-05-04T21:10:00.000Z");
const RUN_URL = "https://github.com/Acme/npu-backend/actions/runs/555";

const running: StoredJob = {
  deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
  downstreamRepo: "acme/npu-backend", // the relay keeps repos in lower case
  runId: 555,
  runAttempt: 2,
  jobName: "test (npu, 1/2)",
  upstreamRepo: "pytorch/pytorch",
  prNumber: 2,
  headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
  backendName: "npu",
  level: "L3",
  workflowName: "ci",
  status: "in_progress",
  startedAt: STARTED,
  queueMs: 91_500,
  fingerprint: "f1",
  report: {},
  updatedAt: STARTED,
};
const startReport: ReportedFields = {
  workflow: { name: "ci", url: RUN_URL },
  job: { name: "test (npu, 1/2)" },
  // The downstream's own clock, in its own offset.
  started_at: "2026-05-04T22:48:27.5+02:00",
};

const completed: StoredJob = { ...running, status: "completed", conclusion: "failure", completedAt: COMPLETED, executionMs: 1_291_877, updatedAt: COMPLETED };
const endReport: ReportedFields = {
  ...startReport,
  completed_at: "2026-05-04T21:09:59.250Z",
  tests: { total: 800, passed: 771, failed: 2, skipped: 25 },
  failed_tests: ["test_ops.py::TestAdd::test_add_npu", "test_nn.py::TestConv::test_conv2d"],
  artifact_url: "https://artifacts.example.org/555/2",
  environment: { device: "Ascend 910B", sdk: "CANN 8.0" },
};

/** A nightly self-report: completed at once, no dispatch, so no relay start, queue or execution time. */
const { startedAt: _s, queueMs: _q, executionMs: _e, ...completedOnly } = completed;
const nightly: StoredJob = {
  ...completedOnly,
  deliveryId: "self:nightly:9001",
  runId: 9001,
  runAttempt: 1,
  jobName: "nightly-test",
  workflowName: "nightly",
  upstreamRepo: "PyTorch/pytorch", // as UPSTREAM_REPO spells it
  prNumber: null,
  headSha: "0123456789abcdef0123456789abcdef01234567",
  level: "L2",
  conclusion: "success",
};
const nightlyReport: ReportedFields = {
  workflow: { name: "nightly", url: "https://github.com/Acme/npu-backend/actions/runs/9001" },
  job: { name: "nightly-test" },
  tests: { total: 10, passed: 10, failed: 0, skipped: 0 },
};

/** The repo as the allowlist writes it (and torchci compares it). */
const LISTED = "Acme/npu-backend";

/** Same attempt, same key: in_progress and completed update one row (torchci and ReplacingMergeTree alike). */
const KEY = "Acme/npu-backend/72d3162e-cc78-11e3-81ab-4c9367dc0958/ci/test (npu, 1/2)/555-2-565d90197c7e";

describe("crcrRow", () => {
  it("maps a PR job in progress: downstream start time, relay queue time in seconds, nothing completed yet", () => {
    const row = crcrRow(running, startReport, "pull_request", LISTED);
    expect(row).toStrictEqual({
      dynamoKey: KEY,
      status: "in_progress",
      downstream_repo: "Acme/npu-backend",
      upstream_repo: "pytorch/pytorch",
      pr_number: 2,
      pytorch_head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
      delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      workflow_run_url: RUN_URL,
      workflow_name: "ci",
      job_name: "test (npu, 1/2)",
      check_run_id: "555-2-565d90197c7e",
      run_id: "555",
      run_attempt: 2,
      conclusion: "",
      queue_time: 91.5,
      execution_time: null,
      started_at: "2026-05-04T20:48:27.500Z",
      completed_at: null,
      total_tests: null,
      passed_tests: null,
      failed_tests: null,
      skipped_tests: null,
      failed_tests_json: "",
      artifact_url: "",
      environment: "",
      downstream_repo_level: "L3",
      event_type: "pull_request",
    });
    expect(CrcrRow.parse(row)).toStrictEqual(row); // what the exporter reads back from the queue
  });

  it("maps the same PR job completed with tests, failed test names and environment as JSON", () => {
    expect(crcrRow(completed, endReport, "pull_request", LISTED)).toStrictEqual({
      ...crcrRow(running, startReport, "pull_request", LISTED),
      status: "completed",
      conclusion: "failure",
      execution_time: 1291.877,
      completed_at: "2026-05-04T21:09:59.250Z",
      total_tests: 800,
      passed_tests: 771,
      failed_tests: 2,
      skipped_tests: 25,
      failed_tests_json: '["test_ops.py::TestAdd::test_add_npu","test_nn.py::TestConv::test_conv2d"]',
      artifact_url: "https://artifacts.example.org/555/2",
      environment: '{"device":"Ascend 910B","sdk":"CANN 8.0"}',
    });
  });

  it("takes the relay's times where the downstream reported none", () => {
    const { started_at: _start, ...bare } = endReport;
    const { completed_at: _end, ...noTimes } = bare;
    expect(crcrRow(completed, noTimes, "pull_request", LISTED)).toMatchObject({ started_at: "2026-05-04T20:48:28.123Z", completed_at: "2026-05-04T21:10:00.000Z" });
  });

  it("maps a nightly self-report: PR 0, its upstream sha, no relay timings, started_at at its completion, repos in lower case unless listed", () => {
    expect(crcrRow(nightly, nightlyReport, "nightly")).toStrictEqual({
      dynamoKey: "acme/npu-backend/self:nightly:9001/nightly/nightly-test/9001-1-95f2e49e9381",
      status: "completed",
      downstream_repo: "acme/npu-backend",
      upstream_repo: "pytorch/pytorch",
      pr_number: 0,
      pytorch_head_sha: "0123456789abcdef0123456789abcdef01234567",
      delivery_id: "self:nightly:9001",
      workflow_run_url: "https://github.com/Acme/npu-backend/actions/runs/9001",
      workflow_name: "nightly",
      job_name: "nightly-test",
      check_run_id: "9001-1-95f2e49e9381",
      run_id: "9001",
      run_attempt: 1,
      conclusion: "success",
      queue_time: null,
      execution_time: null,
      started_at: "2026-05-04T21:10:00.000Z",
      completed_at: "2026-05-04T21:10:00.000Z",
      total_tests: 10,
      passed_tests: 10,
      failed_tests: 0,
      skipped_tests: 0,
      failed_tests_json: "",
      artifact_url: "",
      environment: "",
      downstream_repo_level: "L2",
      event_type: "nightly",
    });
  });

  it("refuses a queued row that does not have the shape (the exporter sets it aside)", () => {
    const row = crcrRow(running, startReport, "pull_request", LISTED);
    expect(CrcrRow.safeParse({ ...row, run_attempt: 0 }).success).toBe(false);
    expect(CrcrRow.safeParse({ ...row, started_at: "yesterday" }).success).toBe(false);
    expect(CrcrRow.safeParse({ ...row, extra: 1 }).success).toBe(false);
  });
});

describe("the ClickHouse table row", () => {
  it("fills the columns without nulls: no completion is the DateTime64 zero, no tests are 0", () => {
    expect(crcrTableRow(crcrRow(running, startReport, "pull_request", LISTED))).toMatchObject({
      completed_at: "1970-01-01T00:00:00.000Z",
      total_tests: 0,
      passed_tests: 0,
      failed_tests: 0,
      skipped_tests: 0,
      queue_time: 91.5,
      execution_time: null,
    });
    const done = crcrRow(completed, endReport, "pull_request", LISTED);
    expect(crcrTableRow(done)).toStrictEqual(done);
  });
});

describe("torchci's results API body", () => {
  it("wraps a PR job in the production relay's envelope, with the callback body its action sends", () => {
    expect(torchciEnvelope(crcrRow(running, startReport, "pull_request", LISTED))).toStrictEqual({
      trusted: { verified_repo: "Acme/npu-backend", downstream_repo_level: "L3", ci_metrics: { queue_time: 91.5, execution_time: null } },
      untrusted: {
        callback_payload: {
          event_type: "pull_request",
          delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
          payload: { repository: { full_name: "pytorch/pytorch" }, pull_request: { number: 2, head: { sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821" } } },
          workflow: {
            schema_version: "1",
            status: "in_progress",
            conclusion: null,
            name: "ci",
            url: RUN_URL,
            run_id: "555",
            run_attempt: "2",
            job_name: "test (npu, 1/2)",
            check_run_id: "555-2-565d90197c7e",
            started_at: "2026-05-04T20:48:27.500Z",
            completed_at: null,
          },
        },
      },
    });
  });

  it("carries test results and the artifact URL once reported, and a nightly's sha as head_sha", () => {
    expect(torchciEnvelope(crcrRow(completed, endReport, "pull_request", LISTED)).untrusted.callback_payload.workflow).toMatchObject({
      status: "completed",
      conclusion: "failure",
      completed_at: "2026-05-04T21:09:59.250Z",
      test_results: { total: 800, passed: 771, failed: 2, skipped: 25 },
      artifact_url: "https://artifacts.example.org/555/2",
    });
    const body = torchciEnvelope(crcrRow(nightly, nightlyReport, "nightly"));
    expect(body.trusted).toStrictEqual({ verified_repo: "acme/npu-backend", downstream_repo_level: "L2", ci_metrics: { queue_time: null, execution_time: null } });
    expect(body.untrusted.callback_payload).toMatchObject({
      event_type: "nightly",
      delivery_id: "self:nightly:9001",
      payload: { repository: { full_name: "pytorch/pytorch" }, head_sha: "0123456789abcdef0123456789abcdef01234567" },
    });
    expect(body.untrusted.callback_payload.payload).not.toHaveProperty("pull_request");
    expect(body.untrusted.callback_payload.workflow).not.toHaveProperty("artifact_url");
  });
});
