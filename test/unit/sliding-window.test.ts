import { describe, expect, it } from "vitest";
import { writeLimiter } from "../../src/limits/sliding-window.js";

describe("writeLimiter", () => {
  it("allows the per-minute budget, then says how long until the oldest send leaves the window", () => {
    const limiter = writeLimiter({ perMinute: 3, perHour: 100 });
    expect([0, 10, 20].map((t) => limiter.tryAcquire(1, t))).toEqual([0, 0, 0]);
    expect(limiter.tryAcquire(1, 30)).toBe(60_000 - 30);
    expect(limiter.tryAcquire(1, 60_000)).toBe(0);
  });

  it("keeps installations apart", () => {
    const limiter = writeLimiter({ perMinute: 1, perHour: 100 });
    expect(limiter.tryAcquire(1, 0)).toBe(0);
    expect(limiter.tryAcquire(2, 0)).toBe(0);
    expect(limiter.tryAcquire(1, 1)).toBeGreaterThan(0);
  });

  it("enforces the hourly budget too", () => {
    const limiter = writeLimiter({ perMinute: 100, perHour: 2 });
    expect(limiter.tryAcquire(1, 0)).toBe(0);
    expect(limiter.tryAcquire(1, 61_000)).toBe(0);
    expect(limiter.tryAcquire(1, 122_000)).toBe(3_600_000 - 122_000);
  });

  it("never lets more than the budget through in any window of a minute", () => {
    const limiter = writeLimiter({ perMinute: 80, perHour: 500 });
    const sent: number[] = [];
    for (let t = 0; t < 5 * 60_000; t += 137) if (limiter.tryAcquire(7, t) === 0) sent.push(t);
    for (const start of sent) expect(sent.filter((t) => t >= start && t < start + 60_000).length).toBeLessThanOrEqual(80);
    expect(sent.length).toBe(80 * 5);
  });
});
