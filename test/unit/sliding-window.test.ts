import { describe, expect, it } from "vitest";
import { SlidingWindowLimiter, WRITE_SLOT_MARGIN_MS, writeLimiter } from "../../src/limits/sliding-window.js";

describe("writeLimiter", () => {
  it("allows the per-minute budget, then says how long until the oldest send leaves the window", () => {
    const limiter = writeLimiter({ perMinute: 3, perHour: 100 });
    expect([0, 10, 20].map((t) => limiter.tryAcquire(1, t))).toEqual([0, 0, 0]);
    // A slot is held a little longer than GitHub's minute (it is taken before its request arrives).
    expect(limiter.tryAcquire(1, 30)).toBe(60_000 + WRITE_SLOT_MARGIN_MS - 30);
    expect(limiter.tryAcquire(1, 60_000)).toBeGreaterThan(0);
    expect(limiter.tryAcquire(1, 60_000 + WRITE_SLOT_MARGIN_MS)).toBe(0);
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
    expect(limiter.tryAcquire(1, 122_000)).toBe(3_600_000 + WRITE_SLOT_MARGIN_MS - 122_000);
  });

  it("never lets more than the budget through in any window of a minute, even for requests arriving late", () => {
    const limiter = writeLimiter({ perMinute: 80, perHour: 500 });
    const sent: number[] = [];
    for (let t = 0; t < 5 * 60_000; t += 137) if (limiter.tryAcquire(7, t) === 0) sent.push(t);
    // GitHub counts arrivals: each slot's request arrives up to the margin after the slot was taken.
    const arrivals = sent.map((t, i) => t + (i % 2 === 0 ? 0 : WRITE_SLOT_MARGIN_MS));
    for (const start of arrivals) expect(arrivals.filter((t) => t >= start && t < start + 60_000).length).toBeLessThanOrEqual(80);
    // The whole budget is used: 80 per window of a minute and the margin.
    expect(sent.length).toBe(80 * Math.ceil((5 * 60_000) / (60_000 + WRITE_SLOT_MARGIN_MS)));
  });
});

describe("SlidingWindowLimiter memory", () => {
  const HOUR = 3_600_000;

  it("forgets a key without an event inside the longest window when it is next looked at", () => {
    const limiter = new SlidingWindowLimiter<string>([
      { ms: 60_000, limit: 1 },
      { ms: HOUR, limit: 10 },
    ]);
    limiter.tryAcquire("a", 0);
    expect(limiter.waitFor("a", HOUR - 1)).toBe(0);
    expect(limiter.size).toBe(1);
    expect(limiter.waitFor("a", HOUR)).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it("does not remember keys that were only asked about", () => {
    const limiter = new SlidingWindowLimiter<string>([{ ms: 60_000, limit: 1 }]);
    for (let i = 0; i < 1000; i += 1) limiter.waitFor(`key-${i}`, i);
    expect(limiter.size).toBe(0);
  });

  it("keeps the limits of live keys while idle keys come and go", () => {
    const limiter = new SlidingWindowLimiter<string>([{ ms: 60_000, limit: 2 }]);
    expect([limiter.tryAcquire("live", 0), limiter.tryAcquire("live", 1)]).toEqual([0, 0]);
    for (let t = 2; t < 50_000; t += 1) limiter.tryAcquire(`other-${t}`, t);
    expect(limiter.tryAcquire("live", 50_000)).toBe(10_000);
    expect(limiter.tryAcquire("live", 60_000)).toBe(0);
  });

  it("sweeps idle keys as 1,000,000 distinct keys arrive over time", () => {
    const limiter = new SlidingWindowLimiter<number>([{ ms: 60_000, limit: 1 }]);
    let largest = 0;
    for (let key = 0; key < 1_000_000; key += 1) {
      limiter.tryAcquire(key, key);
      largest = Math.max(largest, limiter.size);
    }
    // At most the keys of one window, plus those that went idle since the last sweep.
    expect(largest).toBeLessThanOrEqual(2 * 60_000 + 1024);
  });

  it("stays within maxKeys under 1,000,000 distinct keys inside one window, dropping the least recently active", () => {
    const limiter = new SlidingWindowLimiter<number>([{ ms: HOUR, limit: 5 }], { maxKeys: 10_000 });
    let largest = 0;
    for (let key = 0; key < 1_000_000; key += 1) {
      limiter.tryAcquire(key, Math.floor(key / 1000));
      largest = Math.max(largest, limiter.size);
    }
    expect(largest).toBe(10_000);
    // The most recent keys are still limited; the oldest were forgotten.
    for (let i = 0; i < 4; i += 1) limiter.tryAcquire(999_999, 1000);
    expect(limiter.tryAcquire(999_999, 1000)).toBeGreaterThan(0);
    expect(limiter.waitFor(0, 1000)).toBe(0);
  });
});
