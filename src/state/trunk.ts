// The trunk baseline in the store: each completed job of a push to the upstream default branch becomes
// its job's trunk result, and a PR job that failed is compared with it (src/domain/trunk-baseline.ts).
// Reads are by key and bounded by the failed jobs shown (at most LISTED_JOBS per aggregate).
import { jobIdentity, type JobSummary, type ReportedFields, type StoredJob } from "../domain/jobs.js";
import { isFailing } from "../domain/runs.js";
import { compareWithTrunk, MAX_TRUNK_FAILED_TESTS, type TrunkComparison } from "../domain/trunk-baseline.js";
import type { StoreTx, TrunkJobKey } from "../store/store.js";

/**
 * A completed job of a push dispatch becomes its job's trunk result. Self-reports (nightly runs the relay
 * did not dispatch) have no dispatch time to order them by and are left out.
 */
export async function recordTrunkResult(tx: StoreTx, job: StoredJob, now: number): Promise<void> {
  if (job.prNumber !== null || job.status !== "completed") return;
  const dispatchedAt = await tx.dispatchSentAt(job.deliveryId, job.downstreamRepo);
  if (dispatchedAt === undefined) return;
  const report = reportOf(job);
  const url = report.job?.url ?? report.workflow?.url;
  await tx.putTrunkResult(
    trunkKey(job),
    {
      headSha: job.headSha,
      conclusion: job.conclusion ?? "failure",
      failedTests: failedTestsOf(job).slice(0, MAX_TRUNK_FAILED_TESTS),
      ...(url !== undefined && { url }),
      dispatchedAt,
    },
    now,
  );
}

/** A PR job's failure compared with its trunk result; a job that did not fail costs no read. */
export async function trunkComparison(tx: StoreTx, job: StoredJob): Promise<TrunkComparison | undefined> {
  if (job.status !== "completed" || !isFailing(job.conclusion ?? "failure")) return undefined;
  return compareWithTrunk({ ...(job.conclusion !== undefined && { conclusion: job.conclusion }), failedTests: failedTestsOf(job) }, await tx.trunkResult(trunkKey(job)));
}

/** The failed jobs among `listed` (an aggregate's), compared with trunk, by jobIdentity. */
export async function listedTrunkComparisons(tx: StoreTx, listed: readonly JobSummary[]): Promise<Map<string, TrunkComparison> | undefined> {
  const failed = listed.filter((attempt) => attempt.status === "completed" && isFailing(attempt.conclusion ?? "failure"));
  if (failed.length === 0) return undefined;
  const comparisons = new Map<string, TrunkComparison>();
  for (const attempt of failed) {
    const job = await tx.getJob(attempt);
    const comparison = job && (await trunkComparison(tx, job));
    if (comparison) comparisons.set(jobIdentity(attempt), comparison);
  }
  return comparisons;
}

function trunkKey(job: StoredJob): TrunkJobKey {
  return { upstreamRepo: job.upstreamRepo, downstreamRepo: job.downstreamRepo, workflowName: job.workflowName, jobName: job.jobName };
}

/** What the baseline reads of a stored report: its failed tests and links. */
function reportOf(job: StoredJob): Partial<Pick<ReportedFields, "failed_tests" | "workflow" | "job">> {
  return job.report;
}

function failedTestsOf(job: StoredJob): string[] {
  return [...(reportOf(job).failed_tests ?? [])];
}
