// The periodic-job runner (src/scheduler/scheduler.ts), on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createScheduler } from "../../src/scheduler/scheduler.js";

const warnings: unknown[][] = [];
const log = { warn: (...args: unknown[]) => void warnings.push(args) } as unknown as Parameters<typeof createScheduler>[0];

beforeEach(() => {
  vi.useFakeTimers();
  warnings.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe("createScheduler", () => {
  it("runs a job at once and then every interval", async () => {
    const scheduler = createScheduler(log);
    const job = vi.fn(() => Promise.resolve());
    scheduler.every("tick", 1000, job);
    expect(job).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(job).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(job).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(job).toHaveBeenCalledTimes(5);
    scheduler.stop();
  });

  it("logs a failing job (rejected or thrown) and keeps its schedule", async () => {
    const scheduler = createScheduler(log);
    const rejects = vi.fn(() => Promise.reject(new Error("boom")));
    const throws = vi.fn((): Promise<unknown> => {
      throw new Error("sync boom");
    });
    scheduler.every("rejects", 1000, rejects);
    scheduler.every("throws", 1000, throws);
    await vi.advanceTimersByTimeAsync(2000);
    expect(rejects).toHaveBeenCalledTimes(3);
    expect(throws).toHaveBeenCalledTimes(3);
    expect(warnings).toHaveLength(6);
    expect(warnings).toContainEqual([{ job: "rejects", err: "Error: boom" }, "background job failed"]);
    expect(warnings).toContainEqual([{ job: "throws", err: "Error: sync boom" }, "background job failed"]);
    scheduler.stop();
  });

  it("stop() stops every job", async () => {
    const scheduler = createScheduler(log);
    const one = vi.fn(() => Promise.resolve());
    const two = vi.fn(() => Promise.resolve());
    scheduler.every("one", 1000, one);
    scheduler.every("two", 5000, two);
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(one).toHaveBeenCalledTimes(1);
    expect(two).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    // A stopped scheduler starts nothing new.
    scheduler.every("late", 1000, one);
    expect(one).toHaveBeenCalledTimes(1);
  });

  it("does not start a job again while its previous run is still going", async () => {
    const scheduler = createScheduler(log);
    let finish = () => {};
    const job = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    scheduler.every("slow", 1000, job);
    await vi.advanceTimersByTimeAsync(3500);
    expect(job).toHaveBeenCalledTimes(1);
    finish();
    await vi.advanceTimersByTimeAsync(500);
    expect(job).toHaveBeenCalledTimes(2);
    scheduler.stop();
  });

  it("uses unref'd timers, which never keep the process alive", () => {
    const unref = vi.spyOn(globalThis, "setInterval");
    const scheduler = createScheduler(log);
    scheduler.every("tick", 1000, () => Promise.resolve());
    const timer = unref.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    unref.mockRestore();
    scheduler.stop();
  });
});
