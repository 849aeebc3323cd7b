// A check run's second send, built by the outbox worker from what the SQLite store recorded of the first:
// the store's part (coalescing desired states, version-guarded markSent, jobs and the HUD queue) is in
// the Store contract (test/contract/store-contract.ts).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requestFor } from "../../src/dispatch/outbox-worker.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { OutboxTaskInput, Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";

const HEAD = { upstreamRepo: "up/stream", headSha: "abc" };
const NOW = 1_800_000_000_000;
let store: Store;

beforeEach(() => {
  store = openSqliteStore(tempDir());
});
afterEach(async () => {
  await store.close();
});

function checkRun(status: string, conclusion?: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key: "check:up/stream:npu:abc:ci/test",
    kind: "check_run",
    repo: "up/stream",
    installationId: 1,
    request: {
      route: "POST /repos/{owner}/{repo}/check-runs",
      params: { owner: "up", repo: "stream", name: "oot / npu / ci / test", head_sha: "abc", status, ...(conclusion && { conclusion }) },
    },
  };
}

describe("check-run desired states", () => {
  /** What the state core does when a desired state differs from the last one queued. */
  const queue = (status: string, at: number, conclusion?: string) => store.queueCheckRun(checkRun(status, conclusion), HEAD, `${status}/${conclusion}`, at);

  it("a state arriving mid-send is sent next as an update of the run the first send created", async () => {
    await queue("in_progress", NOW);
    const [pending] = await store.dueTasks(NOW, 10);
    expect(await requestFor(pending!, store)).toEqual(checkRun("in_progress").request);

    // Sent as version 0 while version 1 (completed) arrives: the task stays pending with the newer state.
    await queue("completed", NOW + 1, "failure");
    await store.markSent(pending!.id, { at: NOW + 2, version: pending!.version, resultId: 4242 });
    const [again] = await store.dueTasks(NOW + 2, 10);
    expect(again).toMatchObject({ id: pending!.id, version: 1 });

    // The second send updates the same run in place.
    expect(await requestFor(again!, store)).toEqual({
      route: "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
      params: { owner: "up", repo: "stream", name: "oot / npu / ci / test", status: "completed", conclusion: "failure", check_run_id: 4242 },
    });
  });
});
