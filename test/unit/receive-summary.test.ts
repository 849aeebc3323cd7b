import { describe, expect, it } from "vitest";
import type { OutboxTaskInput } from "../../src/store/store.js";
import type { DispatchLogEntry } from "../../src/domain/dispatches.js";
import { receiveSummary } from "../../src/upstream/receive-summary.js";

const task = (kind: OutboxTaskInput["kind"], repo: string) => ({ kind, repo }) as OutboxTaskInput;
const skipped = (downstreamRepo: string, reason: string) => ({ outcome: "skipped", downstreamRepo, reason }) as DispatchLogEntry;

describe("receiveSummary", () => {
  it("names the backends with a stored dispatch, the check-run writes queued and the skipped backends", () => {
    const work = {
      tasks: [task("dispatch", "acme/npu-backend")],
      log: [skipped("beta/tpu-backend", "not_installed")],
    };
    expect(receiveSummary({ deliveryId: "d1", outcome: "accepted", work, checkRunWrites: 1 }, "/data")).toBe(
      "stored 1 dispatch task for acme/npu-backend and 1 check-run write in /data (skipped beta/tpu-backend (not_installed)); " +
        "nothing is sent under probot receive — start the relay on this DATA_DIR to send them",
    );
  });

  it("says why nothing was stored", () => {
    const none = { tasks: [], log: [] };
    expect(receiveSummary({ deliveryId: "d1", outcome: "ignored", ignoredBecause: "branch deleted", work: none, checkRunWrites: 0 }, "/data")).toBe(
      "stored nothing (branch deleted)",
    );
    expect(receiveSummary({ deliveryId: "d1", outcome: "duplicate", work: none, checkRunWrites: 0 }, "/data")).toBe("stored nothing: delivery d1 is already in /data");
  });
});
