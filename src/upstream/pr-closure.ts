// When a PR's head moves on (synchronize) or the PR closes, the relay's check runs on the old head
// that are still open conclude `cancelled`, and stop following later reports for that sha.
import { concludedRequest, openCheckRuns } from "../checks/conclude.js";
import type { Store } from "../store/store.js";

export function concludeHead(store: Store, upstreamRepo: string, headSha: string, reason: "superseded" | "closed", detail: string, now: number): number {
  if (!store.closeSha(upstreamRepo, headSha, reason, now)) return 0;
  const open = openCheckRuns(store.checkRunTasks(upstreamRepo, headSha));
  const title = reason === "superseded" ? "Superseded" : "Pull request closed";
  store.syncCheckRuns(
    open.map((task) => ({ ...task, request: concludedRequest(task.request, "cancelled", title, detail) })),
    now,
  );
  return open.length;
}
