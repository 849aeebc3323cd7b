import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHECK_CONCLUSIONS,
  CallbackBodyV1,
  MAX_ARTIFACT_URL_LENGTH,
  MAX_ENVIRONMENT_KEYS,
  MAX_ENVIRONMENT_KEY_LENGTH,
  MAX_ENVIRONMENT_VALUE_LENGTH,
  MAX_FAILED_TESTS,
  MAX_FAILED_TEST_LENGTH,
  MAX_JOB_NAME_LENGTH,
  MAX_NIGHTLY_EVENT_LENGTH,
  MAX_REPORTED_PROBLEMS,
  MAX_SUMMARY_LENGTH,
  MAX_URL_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
  parseCallbackBody,
} from "../../src/callback/schema.js";
import type { CallbackBody } from "../../src/callback/schema.js";
import { MAX_TICKET_LENGTH } from "../../src/dispatch/ticket.js";
import { UINT32_MAX } from "../../src/hud/column-types.js";
import { toWellFormed } from "../../src/validation/well-formed.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

const inProgress = {
  schema_version: 1,
  ticket: "header.payload.signature",
  status: "in_progress",
  workflow: {
    name: "PyTorch NPU",
    run_id: 12_345_678_901,
    run_attempt: 1,
    url: "https://github.com/acme/torch-npu/actions/runs/12345678901",
  },
  job: { name: "test (npu, 1, 2)", url: "https://github.com/acme/torch-npu/actions/runs/12345678901/job/1" },
} as const;

const completed = {
  ...inProgress,
  status: "completed",
  conclusion: "failure",
  summary: "## Results\n2 failures",
  failure_kind: "test",
  tests: { total: 10, passed: 6, failed: 2, skipped: 1, errors: 1 },
  failed_tests: ["test/test_ops.py::TestOps::test_add", "test/test_nn.py::TestNN::test_conv"],
  artifact_url: "https://example.org/artifacts/1?sig=abc",
  environment: { sdk: "CANN 8.0", device: "Ascend 910B", "driver.version": "24.1" },
  started_at: "2026-01-31T12:00:00Z",
  completed_at: "2026-01-31T12:30:00.123+01:00",
} as const;

const nightly = {
  schema_version: 1,
  status: "completed",
  conclusion: "success",
  workflow: inProgress.workflow,
  job: { name: "nightly-test" },
  nightly: { upstream_sha: SHA, event: "nightly" },
} as const;

type Json = Record<string, unknown>;

function problemsOf(body: unknown): string[] {
  const result = parseCallbackBody(body);
  if (result.ok) throw new Error(`expected ${JSON.stringify(body).slice(0, 200)} to be rejected`);
  expect(result.message).toBe(result.problems.slice(0, MAX_REPORTED_PROBLEMS).join("; ") + moreSuffix(result.problems));
  return result.problems;
}

function moreSuffix(problems: string[]): string {
  const more = problems.length - MAX_REPORTED_PROBLEMS;
  return more > 0 ? `; … and ${more} more problem${more === 1 ? "" : "s"}` : "";
}

function accepts(body: unknown): CallbackBody {
  const result = parseCallbackBody(body);
  if (!result.ok) throw new Error(`expected the body to be accepted: ${result.message}`);
  return result.body;
}

const withField = (base: Json, path: string[], value: unknown): Json => {
  const copy = structuredClone(base);
  let target: Json = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Json;
  const last = path[path.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
};

describe("parseCallbackBody: valid bodies", () => {
  it("accepts a minimal in_progress report", () => {
    expect(accepts(inProgress)).toEqual(inProgress);
  });

  it("accepts a completed report using every optional field", () => {
    expect(accepts(completed)).toEqual(completed);
  });

  it("accepts a nightly self-report without a ticket", () => {
    expect(accepts(nightly)).toEqual(nightly);
  });

  it.each(CHECK_CONCLUSIONS)("accepts conclusion %s", (conclusion) => {
    expect(accepts({ ...inProgress, status: "completed", conclusion }).conclusion).toBe(conclusion);
  });

  it("accepts every field at its cap", () => {
    const body = {
      ...completed,
      ticket: "t".repeat(MAX_TICKET_LENGTH),
      summary: "s".repeat(MAX_SUMMARY_LENGTH),
      workflow: {
        ...completed.workflow,
        name: "w".repeat(MAX_WORKFLOW_NAME_LENGTH),
        url: `https://example.org/${"u".repeat(MAX_URL_LENGTH - 20)}`,
      },
      job: { name: "j".repeat(MAX_JOB_NAME_LENGTH), url: `https://example.org/${"u".repeat(MAX_URL_LENGTH - 20)}` },
      failed_tests: Array.from({ length: MAX_FAILED_TESTS }, () => "f".repeat(MAX_FAILED_TEST_LENGTH)),
      artifact_url: `https://example.org/${"a".repeat(MAX_ARTIFACT_URL_LENGTH - 20)}`,
      environment: Object.fromEntries(
        Array.from({ length: MAX_ENVIRONMENT_KEYS }, (_, i) => [
          `${i}`.padEnd(MAX_ENVIRONMENT_KEY_LENGTH, "k"),
          "v".repeat(MAX_ENVIRONMENT_VALUE_LENGTH),
        ]),
      ),
      tests: { total: 3, passed: 1, failed: 1, skipped: 1 },
    };
    expect(body.workflow.url).toHaveLength(MAX_URL_LENGTH);
    expect(body.artifact_url).toHaveLength(MAX_ARTIFACT_URL_LENGTH);
    expect(accepts(body)).toEqual(body);
  });
});

describe("parseCallbackBody: each rule names its path", () => {
  const cases: Array<[string, Json, string]> = [
    ["schema_version 2", withField(inProgress, ["schema_version"], 2), "schema_version: must be 1"],
    ["missing schema_version", withField(inProgress, ["schema_version"], undefined), "schema_version: required"],
    ["status unknown", withField(inProgress, ["status"], "queued"), 'status: must be one of "in_progress", "completed"'],
    ["missing status", withField(inProgress, ["status"], undefined), "status: required"],
    ["completed without conclusion", { ...inProgress, status: "completed" }, "conclusion: required when status is completed"],
    [
      "in_progress with a conclusion",
      { ...inProgress, conclusion: "success" },
      "conclusion: must be absent while status is in_progress",
    ],
    ["conclusion not GitHub's", { ...completed, conclusion: "stale" }, "conclusion: must be one of"],
    ["empty ticket", withField(inProgress, ["ticket"], ""), "ticket: must not be empty"],
    ["ticket too long", withField(inProgress, ["ticket"], "t".repeat(MAX_TICKET_LENGTH + 1)), `ticket: too long (max ${MAX_TICKET_LENGTH})`],
    ["ticket not a string", withField(inProgress, ["ticket"], 42), "ticket: expected a string, got an integer"],
    ["missing workflow", withField(inProgress, ["workflow"], undefined), "workflow: required"],
    ["workflow null", withField(inProgress, ["workflow"], null), "workflow: expected an object, got null"],
    ["missing workflow.name", withField(inProgress, ["workflow", "name"], undefined), "workflow.name: required"],
    [
      "workflow.name too long",
      withField(inProgress, ["workflow", "name"], "w".repeat(MAX_WORKFLOW_NAME_LENGTH + 1)),
      `workflow.name: too long (max ${MAX_WORKFLOW_NAME_LENGTH})`,
    ],
    ["workflow.run_id 0", withField(inProgress, ["workflow", "run_id"], 0), "workflow.run_id: must be positive"],
    [
      "workflow.run_id fractional",
      withField(inProgress, ["workflow", "run_id"], 1.5),
      "workflow.run_id: expected an integer, got a fractional number",
    ],
    ["workflow.run_id as a string", withField(inProgress, ["workflow", "run_id"], "1"), "workflow.run_id: expected a number, got a string"],
    ["workflow.run_attempt 0", withField(inProgress, ["workflow", "run_attempt"], 0), "workflow.run_attempt: must be positive"],
    ["workflow.url not http", withField(inProgress, ["workflow", "url"], "javascript:alert(1)"), "workflow.url: must be an absolute http(s) URL"],
    ["workflow.url not a string", withField(inProgress, ["workflow", "url"], 5), "workflow.url: must be an absolute http(s) URL"],
    ["workflow.url relative", withField(inProgress, ["workflow", "url"], "/acme/runs/1"), "workflow.url: must be an absolute http(s) URL"],
    [
      "workflow.url too long",
      withField(inProgress, ["workflow", "url"], `https://example.org/${"u".repeat(MAX_URL_LENGTH)}`),
      `workflow.url: too long (max ${MAX_URL_LENGTH})`,
    ],
    ["missing job", withField(inProgress, ["job"], undefined), "job: required"],
    ["job.name empty", withField(inProgress, ["job", "name"], ""), "job.name: must not be empty"],
    [
      "job.name too long",
      withField(inProgress, ["job", "name"], "j".repeat(MAX_JOB_NAME_LENGTH + 1)),
      `job.name: too long (max ${MAX_JOB_NAME_LENGTH})`,
    ],
    ["job.url not a URL", withField(inProgress, ["job", "url"], "not a url"), "job.url: must be an absolute http(s) URL"],
    [
      "summary too long",
      { ...completed, summary: "s".repeat(MAX_SUMMARY_LENGTH + 1) },
      `summary: too long (max ${MAX_SUMMARY_LENGTH})`,
    ],
    ["failure_kind unknown", { ...completed, failure_kind: "flaky" }, 'failure_kind: must be one of "infra", "test", "upstream", "unknown"'],
    [
      "tests exceed total",
      { ...completed, tests: { total: 3, passed: 2, failed: 1, skipped: 1 } },
      "tests: passed + failed + skipped (4) exceeds total (3)",
    ],
    [
      "tests with errors exceed total",
      { ...completed, tests: { total: 3, passed: 1, failed: 1, skipped: 0, errors: 2 } },
      "tests: passed + failed + skipped + errors (4) exceeds total (3)",
    ],
    ["negative test count", { ...completed, tests: { total: 3, passed: -1, failed: 0, skipped: 0 } }, "tests.passed: must be at least 0"],
    ["missing test count", { ...completed, tests: { total: 3, passed: 1, failed: 0 } }, "tests.skipped: required"],
    [
      "too many failed tests",
      { ...completed, failed_tests: Array.from({ length: MAX_FAILED_TESTS + 1 }, () => "t") },
      `failed_tests: too many items (max ${MAX_FAILED_TESTS})`,
    ],
    [
      "failed test name too long",
      { ...completed, failed_tests: ["ok", "t".repeat(MAX_FAILED_TEST_LENGTH + 1)] },
      `failed_tests[1]: too long (max ${MAX_FAILED_TEST_LENGTH})`,
    ],
    ["failed test name not a string", { ...completed, failed_tests: [7] }, "failed_tests[0]: expected a string, got an integer"],
    ["artifact_url not http", { ...completed, artifact_url: "file:///etc/passwd" }, "artifact_url: must be an absolute http(s) URL"],
    [
      "artifact_url too long",
      { ...completed, artifact_url: `https://example.org/${"a".repeat(MAX_ARTIFACT_URL_LENGTH)}` },
      `artifact_url: too long (max ${MAX_ARTIFACT_URL_LENGTH})`,
    ],
    [
      "job.url too long",
      withField(inProgress, ["job", "url"], `https://example.org/${"u".repeat(MAX_URL_LENGTH)}`),
      `job.url: too long (max ${MAX_URL_LENGTH})`,
    ],
    [
      "too many environment entries",
      { ...completed, environment: Object.fromEntries(Array.from({ length: MAX_ENVIRONMENT_KEYS + 1 }, (_, i) => [`k${i}`, "v"])) },
      `environment: too many entries (max ${MAX_ENVIRONMENT_KEYS})`,
    ],
    [
      "environment key too long",
      { ...completed, environment: { ["k".repeat(MAX_ENVIRONMENT_KEY_LENGTH + 1)]: "v" } },
      `invalid key: too long (max ${MAX_ENVIRONMENT_KEY_LENGTH})`,
    ],
    ["environment key with a space", { ...completed, environment: { "cann version": "8" } }, 'environment."cann version": invalid key: must start with'],
    [
      "environment value too long",
      { ...completed, environment: { sdk: "v".repeat(MAX_ENVIRONMENT_VALUE_LENGTH + 1) } },
      `environment.sdk: too long (max ${MAX_ENVIRONMENT_VALUE_LENGTH})`,
    ],
    ["environment value not a string", { ...completed, environment: { sdk: 8 } }, "environment.sdk: expected a string, got an integer"],
    ["started_at without a time zone", { ...completed, started_at: "2026-01-31T12:00:00" }, "started_at: must be an ISO-8601 timestamp"],
    ["completed_at not a date", { ...completed, completed_at: "yesterday" }, "completed_at: must be an ISO-8601 timestamp"],
    [
      "nightly sha upper-case",
      withField(nightly, ["nightly", "upstream_sha"], SHA.toUpperCase()),
      "nightly.upstream_sha: must be a 40-character lowercase hex commit sha",
    ],
    ["nightly sha short", withField(nightly, ["nightly", "upstream_sha"], SHA.slice(0, 7)), "nightly.upstream_sha: must be a 40-character"],
    [
      "nightly event too long",
      withField(nightly, ["nightly", "event"], "e".repeat(MAX_NIGHTLY_EVENT_LENGTH + 1)),
      `nightly.event: too long (max ${MAX_NIGHTLY_EVENT_LENGTH})`,
    ],
    ["nightly event empty", withField(nightly, ["nightly", "event"], ""), "nightly.event: must start with a letter or digit"],
    ["nightly missing event", withField(nightly, ["nightly", "event"], undefined), "nightly.event: required"],
  ];

  it.each(cases)("%s", (_name, body, expected) => {
    const problems = problemsOf(body);
    expect(problems.some((problem) => problem.startsWith(expected) || problem.includes(expected)), problems.join("\n")).toBe(true);
    // Each case breaks exactly one rule.
    expect(problems, problems.join("\n")).toHaveLength(1);
  });

  it("lists several problems in one message, each as `path: message`", () => {
    const result = parseCallbackBody({ ...inProgress, status: "completed", job: { name: "j".repeat(201) } });
    expect(result).toEqual({
      ok: false,
      message: "job.name: too long (max 200); conclusion: required when status is completed",
      problems: ["job.name: too long (max 200)", "conclusion: required when status is completed"],
    });
  });

  it("still checks the cross-field rules when another field has the wrong type", () => {
    const problems = problemsOf({ ...inProgress, status: "completed", workflow: "ci", ticket: undefined });
    expect(problems).toEqual([
      "workflow: expected an object, got a string",
      "conclusion: required when status is completed",
      "(body): exactly one of ticket and nightly must be present (ticket for a dispatched run, nightly for a self-report without a dispatch); got neither",
    ]);
  });
});

describe("parseCallbackBody: strict objects", () => {
  it.each([
    ["at the top level", { ...inProgress, pr_number: 1 }, "pr_number: unknown field (not in callback schema v1)"],
    ["in workflow", withField(inProgress, ["workflow", "head_sha"], SHA), "workflow.head_sha: unknown field (not in callback schema v1)"],
    ["in job", withField(inProgress, ["job", "matrix"], {}), "job.matrix: unknown field (not in callback schema v1)"],
    ["in tests", { ...completed, tests: { ...completed.tests, flaky: 1 } }, "tests.flaky: unknown field (not in callback schema v1)"],
    ["in nightly", withField(nightly, ["nightly", "pr"], 1), "nightly.pr: unknown field (not in callback schema v1)"],
  ])("rejects an unknown key %s", (_where, body, expected) => {
    expect(problemsOf(body)).toEqual([expected]);
  });

  it("quotes odd keys and cuts long ones instead of echoing them", () => {
    const hugeKey = "x".repeat(100_000);
    const result = parseCallbackBody({ ...inProgress, [hugeKey]: 1, "a b": 2 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message.length).toBeLessThan(400);
    expect(result.problems).toContain('"a b": unknown field (not in callback schema v1)');
    expect(result.problems).toContain(`"${"x".repeat(40)}…": unknown field (not in callback schema v1)`);
  });

  it("rejects __proto__ smuggled in by JSON.parse", () => {
    const body = JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(inProgress).slice(1)}`) as unknown;
    expect(problemsOf(body)).toEqual(["__proto__: unknown field (not in callback schema v1)"]);
    expect(({} as Json).polluted).toBeUndefined();
  });

  it("caps the number of problems listed in the message", () => {
    const body = { ...completed, failed_tests: Array.from({ length: 150 }, () => 7) };
    const result = parseCallbackBody(body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(150);
    expect(result.message.split("; ")).toHaveLength(MAX_REPORTED_PROBLEMS + 1);
    expect(result.message).toMatch(/; … and 130 more problems$/);
  });
});

describe("parseCallbackBody: exactly one of ticket and nightly", () => {
  it("rejects a report with neither", () => {
    expect(problemsOf(withField(inProgress, ["ticket"], undefined))).toEqual([
      "(body): exactly one of ticket and nightly must be present (ticket for a dispatched run, nightly for a self-report without a dispatch); got neither",
    ]);
  });

  it("rejects a report with both", () => {
    expect(problemsOf({ ...nightly, ticket: "header.payload.signature" })).toEqual([
      "(body): exactly one of ticket and nightly must be present (ticket for a dispatched run, nightly for a self-report without a dispatch); got both",
    ]);
  });

  it("requires a nightly self-report to be completed", () => {
    expect(problemsOf({ ...nightly, status: "in_progress", conclusion: undefined })).toEqual([
      "status: must be completed for a nightly self-report",
    ]);
  });
});

describe("strings are stored well-formed", () => {
  const LONE = ["\ud800", "\udfff", "a\ud83d", "\ude00b"];

  it.each(LONE)("toWellFormed replaces the lone surrogate in %j with U+FFFD, keeping the length", (text) => {
    const repaired = toWellFormed(text);
    expect(repaired).toHaveLength(text.length);
    expect(repaired).toContain("\ufffd");
    expect(/[\ud800-\udfff]/.test(repaired.replaceAll(/[\ud800-\udbff][\udc00-\udfff]/g, ""))).toBe(false);
  });

  it("toWellFormed keeps well-formed text, surrogate pairs included", () => {
    expect(toWellFormed("test (npu) 😀 ✓")).toBe("test (npu) 😀 ✓");
  });

  it("accepts a lone surrogate in a job name and stores U+FFFD instead", () => {
    expect(accepts(withField(inProgress, ["job", "name"], "test \ud800 (npu)")).job.name).toBe("test \ufffd (npu)");
  });

  it("repairs every free-text field of the body", () => {
    const lone = "x\udc00";
    const body = accepts({
      ...completed,
      ticket: `t${lone}`,
      summary: lone,
      workflow: { ...completed.workflow, name: lone, url: `https://example.org/${lone}` },
      job: { name: lone, url: `https://example.org/j/${lone}` },
      failed_tests: [lone],
      artifact_url: `https://example.org/a/${lone}`,
      environment: { device: lone },
    });
    expect(stringsOf(body).filter((text) => text !== toWellFormed(text))).toEqual([]);
    expect(body.summary).toBe("x\ufffd");
  });

  it("leaves no lone surrogate in any accepted body (property-based)", () => {
    // fast-check's "binary" unit yields whole code points only: mix in lone surrogates.
    const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
    const anyText = fc.array(fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), loneSurrogate), { minLength: 1, maxLength: 50 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(anyText, anyText, anyText, anyText, (workflow, job, summary, failedTest) => {
        const result = parseCallbackBody({
          ...completed,
          workflow: { ...completed.workflow, name: workflow },
          job: { name: job },
          summary,
          failed_tests: [failedTest],
        });
        expect(result.ok).toBe(true);
        if (result.ok) expect(stringsOf(result.body).every((text) => text === toWellFormed(text))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...stringsOf(inner)]);
}

describe("numbers fit the ClickHouse columns they end in", () => {
  it.each([
    ["tests.total", ["tests", "total"], 2 ** 32 + 5],
    ["tests.passed", ["tests", "passed"], UINT32_MAX + 1],
    ["workflow.run_attempt", ["workflow", "run_attempt"], 2 ** 32],
  ])("refuses %s above UInt32 with a message naming the field", (field, path, value) => {
    const body = path[0] === "tests" ? withField({ ...completed, tests: { ...completed.tests, total: UINT32_MAX } }, path, value) : withField(completed, path, value);
    expect(problemsOf(body)).toContain(`${field}: must be at most ${UINT32_MAX}`);
  });

  it("accepts the largest UInt32 values", () => {
    const body = { ...completed, workflow: { ...completed.workflow, run_attempt: UINT32_MAX }, tests: { total: UINT32_MAX, passed: UINT32_MAX, failed: 0, skipped: 0 } };
    expect(accepts(body).tests?.total).toBe(UINT32_MAX);
  });

  it("refuses a run id beyond the safe integers (UInt64 column, exact in JSON only up to 2^53)", () => {
    expect(problemsOf(withField(completed, ["workflow", "run_id"], 2 ** 64))).toEqual([`workflow.run_id: must be at most ${Number.MAX_SAFE_INTEGER}`]);
  });
});

describe("parseCallbackBody: never throws", () => {
  it.each([
    ["null", null],
    ["undefined", undefined],
    ["a number", 42],
    ["a string", "hello"],
    ["a boolean", true],
    ["an array", [inProgress]],
  ])("answers %s with a message", (_name, value) => {
    const result = parseCallbackBody(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/^\(body\): expected an object, got /);
  });

  it("answers an empty object with every missing field", () => {
    expect(problemsOf({})).toEqual([
      "schema_version: required",
      "status: required",
      "workflow: required",
      "job: required",
      "(body): exactly one of ticket and nightly must be present (ticket for a dispatched run, nightly for a self-report without a dispatch); got neither",
    ]);
  });

  it("handles deeply nested junk in every field", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 5_000; i += 1) deep = i % 2 === 0 ? [deep] : { nested: deep };
    const fields = Object.keys(completed).concat(["unknown"]);
    const body = Object.fromEntries(fields.map((field) => [field, deep]));
    const result = parseCallbackBody(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message.length).toBeLessThan(3_000);
  });

  it("returns a result for any JSON value (property-based)", () => {
    const mutated = fc.record({
      base: fc.constantFrom<Json>(inProgress, completed, nightly),
      key: fc.constantFrom(...Object.keys(completed), "nightly", "extra"),
      value: fc.jsonValue(),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), mutated.map(({ base, key, value }) => ({ ...base, [key]: value }))), (value) => {
        const result = parseCallbackBody(value);
        if (result.ok) {
          expect(CallbackBodyV1.safeParse(value).success).toBe(true);
        } else {
          expect(result.message.length).toBeGreaterThan(0);
          expect(result.message.length).toBeLessThan(5_000);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
