// The one line `probot receive` logs for an upstream event: what the handlers stored (pure). Nothing is
// sent under `probot receive`; a relay started on the same DATA_DIR sends the stored tasks.
import type { Intake } from "./handlers.js";

export function receiveSummary(intake: Intake, dataDir: string): string {
  if (intake.outcome === "ignored") return `stored nothing (${intake.ignoredBecause ?? "the event dispatches nothing"})`;
  if (intake.outcome === "duplicate") return `stored nothing: delivery ${intake.deliveryId} is already in ${dataDir}`;
  const { tasks, log } = intake.work;
  const dispatchedTo = tasks.filter((task) => task.kind === "dispatch").map((task) => task.repo);
  const checkRuns = intake.checkRunWrites;
  const skipped = log.filter((row) => row.outcome === "skipped").map((row) => `${row.downstreamRepo} (${row.reason ?? "skipped"})`);
  return [
    `stored ${count(dispatchedTo.length, "dispatch task")}`,
    dispatchedTo.length > 0 ? ` for ${dispatchedTo.join(", ")}` : "",
    checkRuns > 0 ? ` and ${count(checkRuns, "check-run write")}` : "",
    ` in ${dataDir}`,
    skipped.length > 0 ? ` (skipped ${skipped.join(", ")})` : "",
    "; nothing is sent under probot receive — start the relay on this DATA_DIR to send them",
  ].join("");
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
