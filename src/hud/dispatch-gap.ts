// Why a backend has no jobs where it was expected (pure), from its dispatch rows: shared by the
// history grids and the PR view, so "dispatched but never reported" reads the same everywhere.
import type { DispatchRow } from "./queries/rows.js";
import type { DispatchGap } from "./views.js";

const NOT_EXPECTED: DispatchGap = { kind: "not_expected", detail: "a forward-only backend: it receives the event and reports no results" };

/**
 * null when there is no dispatch row to explain anything. Worst news first. `collectsResults` says
 * whether a backend is expected to report at all (not when the allowlist says it only receives events).
 */
export function dispatchGap(dispatches: readonly DispatchRow[], collectsResults: (downstreamRepo: string) => boolean = () => true): DispatchGap | null {
  if (dispatches.length === 0) return null;
  const expected = dispatches.filter((dispatch) => dispatch.reason !== "reports_not_expected" && collectsResults(dispatch.downstreamRepo));
  if (expected.length === 0) return NOT_EXPECTED;
  return expectedGap(expected);
}

function expectedGap(dispatches: readonly DispatchRow[]): DispatchGap {
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
