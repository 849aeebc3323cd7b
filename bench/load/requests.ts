// The requests the load clients send, with nothing but node built-ins and global fetch, so that they run
// the same in the bench's main thread and in the load worker (bench/load/load-worker.ts).
import { createHmac, randomBytes } from "node:crypto";
import { REQUEST_TIMEOUT_MS } from "./drivers.js";

export interface JobReport {
  ticket: string;
  runId: number;
  job: string;
  status: "in_progress" | "completed";
}

/** The seq-th report of a client that reports jobs one after another: each job in_progress, then completed. */
export function nthReport(ticket: string, client: number, seq: number): JobReport {
  const job = Math.floor(seq / 2);
  return { ticket, runId: 1 + client * 1_000_000 + job, job: `test (${client}, ${job})`, status: seq % 2 === 0 ? "in_progress" : "completed" };
}

/** POSTs a valid callback to the relay at `relayUrl`; resolves to the status (times out). */
export async function postCallback(relayUrl: string, token: string, report: JobReport): Promise<number> {
  const body = {
    schema_version: 1,
    ticket: report.ticket,
    status: report.status,
    ...(report.status === "completed" && { conclusion: report.runId % 10 === 0 ? "failure" : "success" }),
    workflow: { name: "ci", run_id: report.runId, run_attempt: 1, url: `https://ci.example.org/runs/${report.runId}` },
    job: { name: report.job },
  };
  const answer = await withTimeout(
    fetch(`${relayUrl}/relay/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    }),
  );
  await answer.arrayBuffer();
  return answer.status;
}

// Minimal view of a pull_request webhook payload: the fields the bench varies.
interface PrPayload {
  action: string;
  number: number;
  pull_request: { number: number; head: { sha: string }; author_association: string };
}

/** `template` (a pull_request webhook) as PR `number`'s `action`, with a fresh head sha and a trusted author. */
export function prVariant<T>(template: T, number: number, action: "opened" | "synchronize"): T {
  const pr = structuredClone(template) as T & PrPayload;
  pr.action = action;
  pr.number = number;
  pr.pull_request.number = number;
  pr.pull_request.head.sha = randomBytes(20).toString("hex");
  pr.pull_request.author_association = "MEMBER";
  return pr;
}

/** The three kinds of unrelated downstream run deliveries a busy repo sends, in turn. */
export const UNRELATED_RUN_KINDS = ["workflow_job of a run the relay does not track", "workflow_run of a push", "workflow_run of an unmarked, untracked repository_dispatch"] as const;

/**
 * Delivery `seq` of `repo`'s runs the relay has nothing to do with (UNRELATED_RUN_KINDS[seq % 3]), built from
 * @octokit/webhooks-examples' workflow_job / workflow_run payloads; each run id is new.
 */
export function unrelatedRunEvent(templates: { run: unknown; job: unknown }, repo: string, seq: number): { name: string; payload: unknown } {
  const runId = 10_000_000 + seq;
  if (seq % 3 === 0) {
    const payload = structuredClone(templates.job) as { repository: { full_name: string }; workflow_job: Record<string, unknown> };
    payload.repository.full_name = repo;
    Object.assign(payload.workflow_job, { run_id: runId, run_attempt: 1, name: `lint (${seq})` });
    return { name: "workflow_job", payload };
  }
  const payload = structuredClone(templates.run) as { repository: { full_name: string }; workflow_run: Record<string, unknown> };
  payload.repository.full_name = repo;
  Object.assign(payload.workflow_run, { id: runId, run_attempt: 1, event: seq % 3 === 1 ? "push" : "repository_dispatch", display_title: `nightly ${seq}` });
  return { name: "workflow_run", payload };
}

/** Delivers a webhook the way GitHub does (JSON body signed with `secret`); resolves to the status (times out). */
export async function deliverWebhook(relayUrl: string, secret: string, name: string, payload: unknown, id: string): Promise<number> {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  const answer = await withTimeout(
    fetch(`${relayUrl}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": name, "x-github-delivery": id, "x-hub-signature-256": signature },
      body,
    }),
  );
  await answer.arrayBuffer();
  return answer.status;
}

export function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("no answer in time"), { name: "TimeoutError" })), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
