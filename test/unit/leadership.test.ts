import { describe, expect, it } from "vitest";
import { leaderOnly, SOLE_LEADER, type Leadership } from "../../src/scheduler/leadership.js";

describe("leaderOnly", () => {
  it("runs the job while this process leads and skips the turn while it does not", async () => {
    let leading = false;
    let runs = 0;
    const leadership: Leadership = { isLeader: () => leading, onChange: () => undefined, stop: () => Promise.resolve() };
    const job = leaderOnly(leadership, () => Promise.resolve((runs += 1)));
    expect(await job()).toBeUndefined();
    leading = true;
    expect(await job()).toBe(1);
    expect(runs).toBe(1);
  });

  it("always runs with the sole leader (embedded SQLite: one process)", async () => {
    expect(await leaderOnly(SOLE_LEADER, () => Promise.resolve("ran"))()).toBe("ran");
  });
});
