// The merge-gate answer (GET /api/gate/<owner>/<repo>/pull/<n>): what any merge bot needs to gate a pull
// request on the out-of-tree backends without parsing check-run names. Published as
// docs/schemas/gate.v1.json (src/schemas/export.ts).
import { z } from "zod";

export const GATE_SCHEMA_VERSION = 1;

export const GateJobSchema = z
  .object({
    workflowName: z.string(),
    jobName: z.string(),
    conclusion: z.string(),
    alsoOnTrunk: z
      .boolean()
      .nullable()
      .describe("true: the same job (and every failed test it names) also fails on the backend's latest trunk result; false: it passes there, or fails differently; null: no trunk result."),
    trunkSha: z.string().nullable().describe("The trunk commit compared with, if any."),
  })
  .describe("A job of the backend that did not pass on the head (its latest attempt).");

export const GateBackendSchema = z.object({
  name: z.string().describe("The backend's name (check runs and labels carry it)."),
  downstreamRepo: z.string(),
  level: z.string(),
  blocksMerge: z.boolean().describe("Its policy blocks pull requests (block_pr; L4 by default)."),
  state: z
    .enum(["not_dispatched", "pending", "passed", "failed"])
    .describe(
      "not_dispatched: the relay has no dispatch of this head to it (skipped, e.g. an untrusted author, or not yet); pending: dispatched, its result not in yet (queued, running, waiting for the run's end); passed: success, neutral or skipped; failed: any other conclusion (failure, timed_out — never reported —, cancelled, …).",
    ),
  conclusion: z.string().nullable().describe("The conclusion its aggregate check run shows, once completed."),
  title: z.string().nullable().describe("The aggregate check run's title (e.g. \"3 of 4 jobs passed\")."),
  checkRunName: z.string().describe("The aggregate check run's name on the pull request."),
  failedJobs: z.array(GateJobSchema).describe("Jobs that did not pass (at most 50, those the aggregate lists)."),
});

export const GateViewSchema = z
  .object({
    schemaVersion: z.literal(GATE_SCHEMA_VERSION),
    upstreamRepo: z.string(),
    prNumber: z.int().positive(),
    headSha: z.string().describe("The head judged: the pull request's current head, or ?sha="),
    headState: z.enum(["open", "superseded", "closed"]),
    verdict: z.enum(["clear", "blocked"]).describe("blocked when any backend of `blocking` is listed."),
    blocking: z
      .array(GateBackendSchema)
      .describe("Backends whose policy blocks merges and that are pending, failed or not dispatched on this head."),
    nonBlockingFailures: z.array(GateBackendSchema).describe("Backends that do not block merges and failed on this head."),
    backends: z.array(GateBackendSchema).describe("Every backend the allowlist forwards pull requests to, blocking ones first."),
  })
  .describe("GET /api/gate/<owner>/<repo>/pull/<n>[?sha=]: the merge gate of a pull request's head over the out-of-tree backends.");

export type GateView = z.infer<typeof GateViewSchema>;
export type GateBackend = z.infer<typeof GateBackendSchema>;
export type GateJob = z.infer<typeof GateJobSchema>;
