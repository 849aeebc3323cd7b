// An allowlist change that stops showing a backend's checks on PRs (removed, demoted to L1/L2, or
// display_on_pr: never) concludes its open check runs neutral, like removing its label does.
import type { Allowlist } from "../allowlist/types.js";
import type { Store } from "../store/store.js";
import { concludedRequest } from "./conclude.js";

export function concludeUnshownBackends(store: Store, before: Allowlist, after: Allowlist, upstreamRepo: string, now: number): number {
  let concluded = 0;
  for (const entry of before.entries) {
    if (entry.policy.display_on_pr === "never") continue;
    const current = after.byRepo.get(entry.key);
    if (current && current.policy.forward_event && current.policy.display_on_pr !== "never" && current.name === entry.name) continue;
    const open = store.openBackendCheckRuns(upstreamRepo, entry.name);
    for (const task of open) store.setChecksHidden(upstreamRepo, entry.name, String(task.request.params.head_sha), true, now);
    store.syncCheckRuns(
      open.map((task) => ({
        ...task,
        request: concludedRequest(task.request, "neutral", "No longer shown", `The allowlist no longer shows \`${entry.repo}\`'s results on pull requests.`),
      })),
      now,
    );
    concluded += open.length;
  }
  return concluded;
}
