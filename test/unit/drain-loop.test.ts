// The rhythm shared by the HUD writer and the crcr export (src/hud/drain-loop.ts), on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DrainLoop } from "../../src/hud/drain-loop.js";

interface Result {
  drained: number;
  error?: string;
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("DrainLoop", () => {
  it("drains every flushMs, backs off (doubling, capped) while drains fail, and reports the failure until one gets through", async () => {
    const at: number[] = [];
    const outcomes = ["fail", "fail", "fail", "ok", "ok"];
    const loop: DrainLoop<Result> = new DrainLoop<Result>(
      { flushMs: 1000, maxBackoffMs: 5000, now: () => Date.now() },
      () => {
        at.push(Date.now());
        if (outcomes.shift() === "fail") {
          loop.failed("down");
          return Promise.resolve({ drained: 0, error: "down" });
        }
        loop.recovered();
        return Promise.resolve({ drained: 1 });
      },
      () => ({ drained: 0 }),
    );
    const start = Date.now();
    loop.start();
    await vi.advanceTimersByTimeAsync(1000); // first drain fails
    expect(loop.health()).toEqual({ failing: true, failingSince: start + 1000, lastError: "down" });
    await vi.advanceTimersByTimeAsync(2000 + 4000 + 5000 + 1000);
    // Waits after each: 2 s, 4 s, 5 s (capped), then the flush interval again.
    expect(at.map((time) => time - start)).toEqual([1000, 3000, 7000, 12000, 13000]);
    expect(loop.health()).toEqual({ failing: false });
    expect(loop.failures).toBe(0);
    await loop.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(at).toHaveLength(5);
  });

  it("shares a running drain, runs once more for a flush asked meanwhile, and drains nothing where it does not lead", async () => {
    let leading = true;
    let release = () => {};
    let drains = 0;
    const loop = new DrainLoop<Result>(
      { flushMs: 1000, leader: () => leading },
      () => {
        drains += 1;
        return new Promise<Result>((resolve) => (release = () => resolve({ drained: drains })));
      },
      () => ({ drained: -1 }),
    );
    loop.start();
    const first = loop.flush();
    const second = loop.flush();
    expect(loop.running).toBe(true);
    release();
    expect(await first).toEqual({ drained: 1 });
    expect(await second).toEqual({ drained: 1 });
    // The flush asked during the first drain runs right after it.
    await vi.advanceTimersByTimeAsync(0);
    expect(drains).toBe(2);
    release();
    await vi.advanceTimersByTimeAsync(0);
    leading = false;
    expect(await loop.flush()).toEqual({ drained: -1 });
    expect(drains).toBe(2);
    await loop.stop();
  });
});
