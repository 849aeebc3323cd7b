// The report-ci-result action's logic: inputs and the runner's environment → a validated callback body v1 →
// POST to the relay with an OIDC token. Everything the outside world provides (environment, fetch, files,
// sleeping, output) is passed in, so tests run it in-process; report-main.ts wires it to the real process.
import path from "node:path";
import { z } from "zod";
import {
  CALLBACK_SCHEMA_VERSION,
  MAX_FAILED_TEST_LENGTH,
  MAX_FAILED_TESTS,
  MAX_SUMMARY_LENGTH,
  parseCallbackBody,
  type CallbackBody,
} from "../callback/schema.js";
import { capLength, TRUNCATION_NOTE } from "../github/text-limits.js";
import { parseRetryAfter } from "../dispatch/retry-policy.js";
import { nodeFileSystem, type FileSystem } from "./files.js";
import { setOutputs } from "./outputs.js";
import { ActionInputError, escapeCommandData, getBooleanInput, getInput, type Env } from "./inputs.js";
import { JUnitError, mergeJUnit, parseJUnit } from "./junit.js";
import { errorMessage, OidcTokenError, requestIdToken } from "./oidc-token.js";
import { readRunReport, readScope, rejectRunInputs } from "./run-scope.js";

export const DEFAULT_AUDIENCE = "cross-repo-ci-relay";
/** Waits before the 2nd, 3rd and 4th attempt after a 5xx or a network error. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000];
/** A Retry-After longer than this is not waited for (the report counts as unreachable). */
export const MAX_RETRY_AFTER_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

export interface ActionDeps {
  env: Env;
  fetch?: typeof fetch;
  fs?: FileSystem;
  /** Working directory for relative paths; GITHUB_WORKSPACE, else process.cwd(). */
  cwd?: string;
  sleep?: (ms: number) => Promise<void>;
  retryDelaysMs?: readonly number[];
  /** One line of the step's log (workflow commands included); console.log by default. */
  log?: (line: string) => void;
}

export type ReportOutcome =
  /** The relay stored the report (200) or accepted and ignored it (202, L1). */
  | "accepted"
  /** The step passes with a warning: relay unreachable, or 409 on an in_progress report. */
  | "warning"
  /** The step fails. */
  | "failed";

export interface ReportResult {
  outcome: ReportOutcome;
  message: string;
  /** The relay's last HTTP status, when it answered. */
  httpStatus?: number;
  /** The relay's answer, when it was JSON. */
  answer?: unknown;
  /** The body sent (or that would have been sent). */
  body?: CallbackBody;
}

export { TRUNCATION_NOTE };

export async function runReport(deps: ActionDeps): Promise<ReportResult> {
  const log = deps.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const result = await report(deps, log);
  await setOutputs({ env: deps.env, fs: deps.fs, log }, reportOutputs(result));
  return result;
}

// The URLs become step outputs: `new URL(...).href` drops any line break a string could smuggle into the outputs file.
const WebUrl = z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).href);

/** The parts of the relay's answer (docs/callback.md) the outputs show; each is read on its own, and a malformed one is left out. */
const RelayAnswer = z.object({
  duplicate: z.boolean().catch(false).default(false),
  check_run_url: WebUrl.optional().catch(undefined),
  checks_url: WebUrl.optional().catch(undefined),
});

/** The step outputs (action.yml): the outcome, and what the relay answered as far as it answered. */
export function reportOutputs(result: ReportResult): Record<string, string | number | boolean> {
  const answer = RelayAnswer.catch({ duplicate: false }).parse(result.answer);
  return {
    accepted: result.outcome === "accepted",
    duplicate: answer.duplicate,
    "status-code": result.httpStatus ?? "",
    "check-run-url": answer.check_run_url ?? "",
    "checks-url": answer.checks_url ?? "",
  };
}

async function report(deps: ActionDeps, log: (line: string) => void): Promise<ReportResult> {
  const fail = (message: string, extra: Partial<ReportResult> = {}): ReportResult => {
    log(`::error::${escapeCommandData(message)}`);
    return { outcome: "failed", message, ...extra };
  };
  let body: CallbackBody;
  let callbackUrl: string;
  let audience: string;
  let failOnUnreachable: boolean;
  try {
    const built = await buildReport(deps, log);
    ({ body, callbackUrl } = built);
    audience = getInput(deps.env, "audience") ?? DEFAULT_AUDIENCE;
    failOnUnreachable = getBooleanInput(deps.env, "fail-on-unreachable", false);
  } catch (error) {
    if (error instanceof ActionInputError || error instanceof JUnitError) return fail(error.message);
    throw error;
  }
  return send(deps, log, { body, callbackUrl, audience, failOnUnreachable }, fail);
}

interface Built {
  body: CallbackBody;
  callbackUrl: string;
}

/** Builds and validates the body from the inputs; throws ActionInputError (or JUnitError) on a bad input. */
export async function buildReport(deps: ActionDeps, log: (line: string) => void = () => {}): Promise<Built> {
  const { env } = deps;
  const fs = deps.fs ?? nodeFileSystem;
  const cwd = deps.cwd ?? env.GITHUB_WORKSPACE ?? process.cwd();

  const status = getInput(env, "status") ?? "completed";
  if (status !== "in_progress" && status !== "completed") {
    throw new ActionInputError(`input status: must be in_progress or completed, got ${JSON.stringify(status)}`);
  }
  const scope = readScope(env);
  if (scope === "run" && status !== "completed") {
    throw new ActionInputError("input status: must be completed with scope: run (the run's final report)");
  }
  if (scope === "job") rejectRunInputs(env);

  // Where the report goes and what it is about: the dispatch payload, or the nightly inputs.
  const upstreamSha = getInput(env, "upstream-sha");
  const eventKind = getInput(env, "event-kind");
  let ticket: string | undefined;
  let payloadCallbackUrl: string | undefined;
  if (upstreamSha !== undefined || eventKind !== undefined) {
    if (upstreamSha === undefined || eventKind === undefined) {
      throw new ActionInputError("nightly mode needs both upstream-sha (the upstream commit tested) and event-kind (e.g. nightly)");
    }
  } else {
    ({ ticket, callbackUrl: payloadCallbackUrl } = await readDispatchPayload(env, fs));
    if (ticket) log(`::add-mask::${ticket}`);
  }
  const callbackUrl = getInput(env, "callback-url") ?? payloadCallbackUrl;
  if (!callbackUrl) {
    throw new ActionInputError(
      "no callback URL: set the callback-url input (required in nightly mode) or run from the repository_dispatch the relay sent (client_payload.callback_url)",
    );
  }

  const run = scope === "run" ? readRunReport(env) : undefined;
  const conclusion = status === "completed" ? (run?.conclusion ?? resolveConclusion(env)) : undefined;
  if (status === "in_progress" && getInput(env, "conclusion") !== undefined) {
    throw new ActionInputError("input conclusion: only for status completed");
  }

  const runId = requiredEnv(env, "GITHUB_RUN_ID");
  const runUrl = `${requiredEnv(env, "GITHUB_SERVER_URL")}/${requiredEnv(env, "GITHUB_REPOSITORY")}/actions/runs/${runId}`;
  const jobName = getInput(env, "job-name") ?? env.GITHUB_JOB;
  if (!jobName) throw new ActionInputError("input job-name: required (GITHUB_JOB is not set either)");

  const candidate: Record<string, unknown> = {
    schema_version: CALLBACK_SCHEMA_VERSION,
    ...(ticket !== undefined && { ticket }),
    status,
    ...(conclusion !== undefined && { conclusion }),
    workflow: {
      name: requiredEnv(env, "GITHUB_WORKFLOW"),
      run_id: Number(runId),
      run_attempt: Number(env.GITHUB_RUN_ATTEMPT ?? "1"),
      url: runUrl,
    },
    job: { name: jobName },
    // Only a run-level report carries these: a job report's body is the same as before scope existed.
    ...(run !== undefined && { scope, ...(run.jobs !== undefined && { run: { jobs: run.jobs } }) }),
  };

  const summary = await readSummary(env, fs, cwd);
  if (summary !== undefined) {
    const capped = capSummary(summary);
    if (capped !== summary) log(`::warning::${escapeCommandData(`summary is ${summary.length} characters; trimmed to ${MAX_SUMMARY_LENGTH}`)}`);
    candidate.summary = capped;
  }
  const failureKind = getInput(env, "failure-kind");
  if (failureKind !== undefined) candidate.failure_kind = failureKind;
  Object.assign(candidate, await readTests(env, fs, cwd, log));
  const artifactUrl = getInput(env, "artifact-url");
  if (artifactUrl !== undefined) candidate.artifact_url = artifactUrl;
  const environment = getInput(env, "environment");
  if (environment !== undefined) candidate.environment = parseJsonInput("environment", environment);
  if (upstreamSha !== undefined && eventKind !== undefined) candidate.nightly = { upstream_sha: upstreamSha, event: eventKind };

  const parsed = parseCallbackBody(candidate);
  if (!parsed.ok) throw new ActionInputError(`the report does not match callback schema v${CALLBACK_SCHEMA_VERSION}: ${parsed.message}`);
  return { body: parsed.body, callbackUrl };
}

const JOB_STATUS_CONCLUSIONS: Record<string, string> = { success: "success", failure: "failure", cancelled: "cancelled" };

function resolveConclusion(env: Env): string {
  const explicit = getInput(env, "conclusion");
  if (explicit !== undefined) return explicit;
  const jobStatus = getInput(env, "job-status");
  if (jobStatus === undefined) throw new ActionInputError("input conclusion: required when status is completed (or pass job-status: ${{ job.status }})");
  const mapped = JOB_STATUS_CONCLUSIONS[jobStatus];
  if (!mapped) throw new ActionInputError(`input job-status: expected success, failure or cancelled, got ${JSON.stringify(jobStatus)}`);
  return mapped;
}

async function readDispatchPayload(env: Env, fs: FileSystem): Promise<{ ticket: string; callbackUrl: string | undefined }> {
  const eventPath = env.GITHUB_EVENT_PATH;
  const hint =
    "report-ci-result reports on a run the relay dispatched (on: repository_dispatch); for a nightly or periodic run, set upstream-sha and event-kind instead";
  if (!eventPath) throw new ActionInputError(`GITHUB_EVENT_PATH is not set; ${hint}`);
  let event: unknown;
  try {
    event = JSON.parse(await fs.readFile(eventPath));
  } catch (error) {
    throw new ActionInputError(`cannot read the event file ${eventPath}: ${errorMessage(error)}`);
  }
  const payload = (event as { client_payload?: { ticket?: unknown; callback_url?: unknown } } | null)?.client_payload;
  if (typeof payload?.ticket !== "string" || payload.ticket === "") {
    throw new ActionInputError(`the event has no client_payload.ticket (event ${env.GITHUB_EVENT_NAME ?? "unknown"}); ${hint}`);
  }
  return { ticket: payload.ticket, callbackUrl: typeof payload.callback_url === "string" ? payload.callback_url : undefined };
}

async function readSummary(env: Env, fs: FileSystem, cwd: string): Promise<string | undefined> {
  const inline = getInput(env, "summary");
  const file = getInput(env, "summary-file");
  if (inline !== undefined && file !== undefined) throw new ActionInputError("give summary or summary-file, not both");
  if (file === undefined) return inline;
  try {
    return await fs.readFile(resolvePath(cwd, file));
  } catch (error) {
    throw new ActionInputError(`input summary-file: cannot read ${file}: ${errorMessage(error)}`);
  }
}

/** Cuts a summary to MAX_SUMMARY_LENGTH including the truncation note, never inside a surrogate pair. */
export function capSummary(summary: string): string {
  return capLength(summary, MAX_SUMMARY_LENGTH);
}

async function readTests(env: Env, fs: FileSystem, cwd: string, log: (line: string) => void): Promise<Record<string, unknown>> {
  const counts = getInput(env, "tests");
  const junit = getInput(env, "junit");
  if (counts !== undefined && junit !== undefined) throw new ActionInputError("give tests (JSON counts) or junit (JUnit XML files), not both");
  if (counts !== undefined) return { tests: parseJsonInput("tests", counts) };
  if (junit === undefined) return {};
  const files = await fs.glob(junit, cwd);
  if (files.length === 0) throw new ActionInputError(`input junit: no file matches ${JSON.stringify(junit)} (relative to ${cwd})`);
  const results = [];
  for (const file of files) {
    let xml: string;
    try {
      xml = await fs.readFile(file);
    } catch (error) {
      throw new ActionInputError(`input junit: cannot read ${file}: ${errorMessage(error)}`);
    }
    results.push(parseJUnit(xml, file));
  }
  const merged = mergeJUnit(results);
  const failedTests = merged.failedTests.slice(0, MAX_FAILED_TESTS).map((name) => (name.length <= MAX_FAILED_TEST_LENGTH ? name : `${name.slice(0, MAX_FAILED_TEST_LENGTH - 1)}…`));
  if (merged.failedTests.length > MAX_FAILED_TESTS) {
    log(`::notice::${escapeCommandData(`${merged.failedTests.length} tests failed; the report lists the first ${MAX_FAILED_TESTS}`)}`);
  }
  const { errors, ...tests } = merged.tests;
  return { tests: errors > 0 ? { ...tests, errors } : tests, ...(failedTests.length > 0 && { failed_tests: failedTests }) };
}

function parseJsonInput(name: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new ActionInputError(`input ${name}: not valid JSON`);
  }
}

function requiredEnv(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ActionInputError(`${name} is not set; report-ci-result runs inside a GitHub Actions job`);
  return value;
}

function resolvePath(cwd: string, file: string): string {
  return path.resolve(cwd, file);
}

// ---- sending ----

interface Sending {
  body: CallbackBody;
  callbackUrl: string;
  audience: string;
  failOnUnreachable: boolean;
}

async function send(
  deps: ActionDeps,
  log: (line: string) => void,
  { body, callbackUrl, audience, failOnUnreachable }: Sending,
  fail: (message: string, extra?: Partial<ReportResult>) => ReportResult,
): Promise<ReportResult> {
  const fetchFn = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const delays = deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const unreachable = (message: string, extra: Partial<ReportResult> = {}): ReportResult => {
    if (failOnUnreachable) return fail(`${message} (fail-on-unreachable is true)`, { body, ...extra });
    log(`::warning::${escapeCommandData(`${message}; the report was not delivered, the step passes (set fail-on-unreachable: true to fail it)`)}`);
    return { outcome: "warning", message, body, ...extra };
  };
  const payload = JSON.stringify(body);
  let retriedAfter429 = false;
  let lastProblem = "";
  let lastStatus: number | undefined;
  for (let attempt = 0; ; attempt++) {
    // A fresh token every attempt: OIDC tokens are short-lived.
    let token: string;
    try {
      token = await requestIdToken(deps.env, audience, fetchFn);
    } catch (error) {
      if (error instanceof ActionInputError || error instanceof OidcTokenError) return fail(error.message, { body });
      throw error;
    }
    log(`::add-mask::${token}`);
    let response: Response | undefined;
    try {
      response = await fetchFn(callbackUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
        body: payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      lastProblem = `relay at ${callbackUrl} unreachable: ${errorMessage(error)}`;
    }
    if (response) {
      const text = await response.text().catch(() => "");
      const answer = parseJson(text);
      const relayMessage = describeAnswer(answer, text);
      const status = response.status;
      lastStatus = status;
      if (status === 200 || status === 202) {
        const message = `relay accepted the ${body.scope === "run" ? "run-level " : ""}${body.status} report (HTTP ${status}): ${text.slice(0, 500)}`;
        log(`::notice::${escapeCommandData(message)}`);
        return { outcome: "accepted", message, httpStatus: status, answer, body };
      }
      if (status === 409 && body.status === "in_progress") {
        const message = `relay answered 409 to the in_progress report: ${relayMessage}`;
        log(`::warning::${escapeCommandData(message)}`);
        return { outcome: "warning", message, httpStatus: status, answer, body };
      }
      if (status === 429 && !retriedAfter429) {
        retriedAfter429 = true;
        const waitMs = retryAfterMs(response.headers.get("retry-after")) ?? delays[0] ?? 1000;
        if (waitMs > MAX_RETRY_AFTER_MS) return unreachable(`relay rate-limited the report (HTTP 429, retry after ${Math.round(waitMs / 1000)} s): ${relayMessage}`, { httpStatus: status, answer });
        log(`relay answered 429 (${relayMessage}); retrying in ${Math.round(waitMs / 1000)} s`);
        await sleep(waitMs);
        attempt -= 1; // The Retry-After wait does not use up a retry.
        continue;
      }
      if (status === 429) return unreachable(`relay rate-limited the report again (HTTP 429): ${relayMessage}`, { httpStatus: status, answer });
      if (status < 500) return fail(`relay rejected the report (HTTP ${status}): ${relayMessage}`, { httpStatus: status, answer, body });
      lastProblem = `relay answered HTTP ${status}: ${relayMessage}`;
    }
    const delay = delays[attempt];
    if (delay === undefined) return unreachable(`${lastProblem} (after ${attempt + 1} attempts)`, lastStatus === undefined ? {} : { httpStatus: lastStatus });
    log(`${lastProblem}; retrying in ${delay / 1000} s`);
    await sleep(delay);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeAnswer(answer: unknown, text: string): string {
  const error = (answer as { error?: unknown; reason?: unknown } | undefined)?.error;
  const reason = (answer as { reason?: unknown } | undefined)?.reason;
  if (typeof error === "string") return typeof reason === "string" ? `${error} (${reason})` : error;
  return text.slice(0, 500) || "(empty answer)";
}

function retryAfterMs(header: string | null): number | undefined {
  return header === null ? undefined : parseRetryAfter(header, Date.now());
}
