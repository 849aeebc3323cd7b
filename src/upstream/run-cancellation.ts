// A closed PR's downstream runs still in progress are cancelled through the outbox: durable across
// restarts, retried on 5xx and paced with every other write of the installation (a direct call made when
// the PR closed was lost on any failure). The runs are the ones the relay knows from run tracking and job reports.
import { runOver } from "../domain/runs.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { OutboxTaskInput, StoreTx } from "../store/store.js";

/** The cancellation of one downstream run; its key makes a second close of the PR a no-op for it. */
export function cancelRunTask(downstreamRepo: string, runId: number): OutboxTaskInput {
  const { owner, repo } = parseRepoSlug(downstreamRepo);
  return {
    key: `cancel:${downstreamRepo.toLowerCase()}:${runId}`,
    kind: "cancel",
    repo: downstreamRepo,
    request: { route: "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", params: { owner, repo, run_id: runId } },
  };
}

/**
 * Cancellations of a head's downstream runs that are not over (read inside the closing delivery's
 * transaction): those run tracking knows of, queued or running (src/domain/runs.ts), and those with a
 * job that reported its start.
 */
export async function cancelTasksForHead(tx: Pick<StoreTx, "shaJobs" | "backendHeads">, upstreamRepo: string, headSha: string): Promise<OutboxTaskInput[]> {
  const runs = new Map<string, OutboxTaskInput>();
  for (const backend of await tx.backendHeads({ upstreamRepo, headSha })) {
    for (const run of backend.runs ?? []) {
      if (runOver(run)) continue;
      const task = cancelRunTask(backend.downstreamRepo, run.runId);
      runs.set(task.key, task);
    }
  }
  for (const job of await tx.shaJobs(upstreamRepo, headSha)) {
    if (job.status !== "in_progress") continue;
    const task = cancelRunTask(job.downstreamRepo, job.runId);
    runs.set(task.key, task);
  }
  return [...runs.values()];
}
