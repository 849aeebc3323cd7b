// GitHub's workflow_run and workflow_job events from downstream repos, read into run facts (pure). Busy
// downstream repos send many runs the relay has nothing to do with; these functions decide from the
// payload alone, before any store access, which ones can matter.
import { z } from "zod";
import type { GitHubStatus, JobEvent, RunEvent } from "../domain/runs.js";

/**
 * The marker the reference workflow puts in its `run-name`: `[relay <delivery_id>]`. GitHub sends the run
 * name as `display_title`. A downstream can only name dispatches to its own repository with it: the
 * repository comes from GitHub's signed payload, and the dispatch is looked up under it.
 */
const MARKER = /\[relay ([A-Za-z0-9._:-]{1,128})\]/;

const STATUSES = ["requested", "pending", "waiting", "queued", "in_progress", "completed"] as const satisfies readonly GitHubStatus[];

const time = z.string().nullish();
const Repository = z.object({ full_name: z.string().min(3).max(200) });

const WorkflowRunPayload = z.object({
  repository: Repository,
  workflow_run: z.object({
    id: z.int().positive(),
    run_attempt: z.int().positive().optional(),
    event: z.string(),
    display_title: z.string().max(1024).optional(),
    name: z.string().max(1024).nullish(),
    html_url: z.string().max(2048).optional(),
    status: z.enum(STATUSES).nullish(),
    conclusion: z.string().max(50).nullish(),
    created_at: time,
    run_started_at: time,
    updated_at: time,
  }),
});

const WorkflowJobPayload = z.object({
  repository: Repository,
  workflow_job: z.object({
    run_id: z.int().positive(),
    run_attempt: z.int().positive().optional(),
    name: z.string().min(1).max(1024),
    workflow_name: z.string().max(1024).nullish(),
    status: z.enum(STATUSES),
    conclusion: z.string().max(50).nullish(),
    created_at: time,
    started_at: time,
    completed_at: time,
    runner_name: z.string().nullish(),
  }),
});

export interface ParsedRunEvent {
  downstreamRepo: string;
  /** The dispatch named by the run-name marker, if any. */
  deliveryId?: string;
  event: RunEvent;
}

export interface ParsedJobEvent {
  downstreamRepo: string;
  event: JobEvent;
}

/** A workflow_run event of a run started by repository_dispatch; undefined for any other (or a malformed payload). */
export function parseWorkflowRun(payload: unknown): ParsedRunEvent | undefined {
  const parsed = WorkflowRunPayload.safeParse(payload);
  if (!parsed.success) return undefined;
  const { repository, workflow_run: run } = parsed.data;
  if (run.event !== "repository_dispatch" || !run.status) return undefined;
  const deliveryId = run.display_title?.match(MARKER)?.[1];
  return {
    downstreamRepo: repository.full_name,
    ...(deliveryId && { deliveryId }),
    event: {
      runId: run.id,
      runAttempt: run.run_attempt ?? 1,
      status: run.status,
      ...(run.conclusion && { conclusion: run.conclusion }),
      ...(run.name && { workflowName: run.name }),
      ...(run.html_url && { url: run.html_url }),
      ...optionalTime("createdAt", run.created_at),
      ...optionalTime("startedAt", run.run_started_at),
      ...optionalTime("updatedAt", run.updated_at),
    },
  };
}

/** A workflow_job event; undefined for a malformed payload. */
export function parseWorkflowJob(payload: unknown): ParsedJobEvent | undefined {
  const parsed = WorkflowJobPayload.safeParse(payload);
  if (!parsed.success) return undefined;
  const { repository, workflow_job: job } = parsed.data;
  return {
    downstreamRepo: repository.full_name,
    event: {
      runId: job.run_id,
      runAttempt: job.run_attempt ?? 1,
      name: job.name,
      status: job.status,
      ...(job.conclusion && { conclusion: job.conclusion }),
      ...(job.workflow_name && { workflowName: job.workflow_name }),
      ...(job.runner_name && { runnerName: job.runner_name }),
      ...optionalTime("createdAt", job.created_at),
      ...optionalTime("startedAt", job.started_at),
      ...optionalTime("completedAt", job.completed_at),
    },
  };
}

function optionalTime<K extends string>(key: K, value: string | null | undefined): Partial<Record<K, number>> {
  const ms = value ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ({ [key]: ms } as Record<K, number>) : {};
}
