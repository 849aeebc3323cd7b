// Why a backend has no jobs where it was expected (pure), from its dispatch rows: shared by the
// history grids and the PR view, so "dispatched but never reported" reads the same everywhere.
import type { DispatchRow } from "./queries/rows.js";
import type { DispatchGap } from "./views.js";

/** null when there is no dispatch row to explain anything. Worst news first. */
export function dispatchGap(dispatches: readonly DispatchRow[]): DispatchGap | null {
  if (dispatches.length === 0) return null;
  const newest = [...dispatches].sort((a, b) => b.createdAt - a.createdAt);
  if (newest.some((dispatch) => dispatch.reason === "never_reported")) {
    return { kind: "never_reported", detail: "dispatched, but no job started before the start timeout (an infrastructure failure)" };
  }
  const sent = newest.find((dispatch) => dispatch.outcome === "sent" || dispatch.outcome === "pending");
  if (sent) return { kind: "waiting", detail: sent.outcome === "sent" ? "dispatched, waiting for the first report" : "waiting to be dispatched" };
  const failed = newest.find((dispatch) => dispatch.outcome === "failed" || dispatch.outcome === "dead");
  if (failed) return { kind: "dispatch_failed", detail: `the relay could not deliver it (${failed.reason || failed.outcome})` };
  return { kind: "not_dispatched", detail: `skipped (${newest[0]!.reason || "no reason recorded"})` };
}
