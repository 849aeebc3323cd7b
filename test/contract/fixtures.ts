// Fixtures of the Store contract (store-contract.ts) on top of the generic ones (test/helpers/store-fixtures.ts):
// check-run tasks, jobs, heads, backend heads and latest attempts, as the state core stores them.
import { UPSTREAM, NOW } from "../helpers/store-fixtures.js";
import type { HeadFacts } from "../../src/domain/heads.js";
import { NO_JOBS, type LatestAttempt, type StoredJob } from "../../src/domain/jobs.js";
import type { BackendHeadKey, OutboxTaskInput, Store, StoredBackendHead } from "../../src/store/store.js";

/** The id of `store`'s pending task `key` (rejects when there is none). */
export async function taskId(store: Store, key: string): Promise<number> {
  const task = (await store.dueTasks(Number.MAX_SAFE_INTEGER, 1000)).find((candidate) => candidate.key === key);
  if (!task) throw new Error(`no pending task ${key}`);
  return task.id;
}

// Deliveries and the outbox: dispatches from pytorch/pytorch.

export function checkRunTask(sha: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key: `check:${UPSTREAM}:oot / npu:${sha}`,
    kind: "check_run",
    repo: UPSTREAM,
    installationId: 1,
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { name: "oot / npu", head_sha: sha } },
  };
}

// Jobs and facts: reports from acme/npu on Up/Stream@abc.
export function job(status: "in_progress" | "completed", jobName = "test"): StoredJob {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 7,
    runAttempt: 1,
    jobName,
    upstreamRepo: "Up/Stream",
    prNumber: 5,
    headSha: "abc",
    backendName: "npu",
    level: "L3",
    workflowName: "ci",
    status,
    fingerprint: status,
    report: { status },
    updatedAt: NOW,
  };
}

export function head(fields: Partial<HeadFacts> = {}): HeadFacts {
  return { upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", labels: ["ciflow/oot/npu"], stateChangedAt: NOW, ...fields };
}

export const KEY: BackendHeadKey = { upstreamRepo: "up/stream", headSha: "abc", downstreamRepo: "acme/npu" };

export function attempt(jobName: string, seq: number, fields: Partial<LatestAttempt> = {}): LatestAttempt {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 10,
    runAttempt: 1,
    jobName,
    prNumber: 7,
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    updatedAt: NOW + seq,
    seq,
    ...fields,
  };
}

export function backendHead(fields: Partial<StoredBackendHead> = {}): StoredBackendHead {
  return {
    upstreamRepo: "up/stream",
    headSha: "abc",
    downstreamRepo: "Acme/NPU",
    backendName: "npu",
    level: "L3",
    deliveryId: "d1",
    dispatchOutcome: "sent",
    counts: NO_JOBS,
    nextSeq: 0,
    ...fields,
  };
}

export function aggregateTask(key: string, status: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key,
    kind: "check_run",
    repo: "Up/Stream",
    installationId: 1,
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "Up", repo: "Stream", head_sha: "abc", status } },
  };
}
