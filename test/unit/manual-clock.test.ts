// The simulated clock of the worker, sweeper and leadership tests (test/helpers/manual-clock.ts).
import { describe, expect, it } from "vitest";
import { ManualClock } from "../helpers/manual-clock.js";

const T0 = Date.parse("2026-03-02T09:00:00Z");

describe("ManualClock", () => {
  it("starts at the given epoch ms, or at the real time when created, and moves only when advanced", () => {
    expect(new ManualClock(T0).now()).toBe(T0);
    const before = Date.now();
    const clock = new ManualClock();
    const after = Date.now();
    expect(clock.now()).toBeGreaterThanOrEqual(before);
    expect(clock.now()).toBeLessThanOrEqual(after);
    const start = clock.now();
    expect(clock.advance(1500)).toBe(0);
    expect(clock.now()).toBe(start + 1500);
    clock.advanceTo(start + 2000);
    expect(clock.now()).toBe(start + 2000);
  });

  it("works detached from the object, as the worker calls its options", () => {
    const clock = new ManualClock(T0);
    const { now, schedule } = clock;
    const fired: number[] = [];
    schedule(() => fired.push(now()), 10);
    clock.advance(10);
    expect(fired).toEqual([T0 + 10]);
  });

  it("fires the wakes due within the advance in time order, each at its own time, and keeps the later ones", () => {
    const clock = new ManualClock(T0);
    const fired: Array<[string, number]> = [];
    const at = (name: string) => () => void fired.push([name, clock.now() - T0]);
    clock.schedule(at("c"), 300);
    clock.schedule(at("a"), 100);
    clock.schedule(at("late"), 1000);
    clock.schedule(at("b"), 200);
    expect(clock.nextWakeAt()).toBe(T0 + 100);
    expect(clock.pending).toBe(4);

    expect(clock.advance(250)).toBe(2);
    expect(fired).toEqual([
      ["a", 100],
      ["b", 200],
    ]);
    expect(clock.now()).toBe(T0 + 250);
    expect(clock.nextWakeAt()).toBe(T0 + 300);

    // A wake exactly at the end of the span fires; one past it does not.
    expect(clock.advance(50)).toBe(1);
    expect(clock.advance(699)).toBe(0);
    expect(clock.nextWakeAt()).toBe(T0 + 1000);
    expect(clock.advance(1)).toBe(1);
    expect(fired.map(([name, when]) => `${name}@${when}`)).toEqual(["a@100", "b@200", "c@300", "late@1000"]);
    expect(clock.nextWakeAt()).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it("fires wakes due at the same instant in the order they were scheduled", () => {
    const clock = new ManualClock(T0);
    const fired: string[] = [];
    for (const name of ["first", "second", "third"]) clock.schedule(() => fired.push(name), 50);
    clock.schedule(() => fired.push("earlier"), 49);
    clock.advance(50);
    expect(fired).toEqual(["earlier", "first", "second", "third"]);
  });

  it("fires a wake that a wake schedules when it falls within the span, and leaves it pending when it does not", () => {
    const clock = new ManualClock(T0);
    const fired: number[] = [];
    // Re-arms itself every 300 ms, as a periodic job or the worker's idle wake does.
    const tick = () => {
      fired.push(clock.now() - T0);
      clock.schedule(tick, 300);
    };
    clock.schedule(tick, 300);
    // A wake scheduled by a wake for an instant before another pending wake still fires first.
    clock.schedule(() => {
      fired.push(clock.now() - T0);
      clock.schedule(() => fired.push(clock.now() - T0), 100);
    }, 400);
    expect(clock.advance(1000)).toBe(5);
    expect(fired).toEqual([300, 400, 500, 600, 900]);
    expect(clock.nextWakeAt()).toBe(T0 + 1200);
    expect(clock.pending).toBe(1);
  });

  it("cancels a wake (idempotently; cancelling one that fired is harmless)", () => {
    const clock = new ManualClock(T0);
    const fired: string[] = [];
    const cancelA = clock.schedule(() => fired.push("a"), 100);
    const cancelB = clock.schedule(() => fired.push("b"), 100);
    clock.schedule(() => fired.push("c"), 200);
    cancelA();
    cancelA();
    expect(clock.pending).toBe(2);
    clock.advance(100);
    expect(fired).toEqual(["b"]);
    cancelB();
    expect(clock.pending).toBe(1);
    clock.advance(100);
    expect(fired).toEqual(["b", "c"]);
    // A wake cancelled by an earlier wake of the same advance does not fire.
    const cancelLater = clock.schedule(() => fired.push("cancelled"), 20);
    clock.schedule(() => cancelLater(), 10);
    clock.advance(30);
    expect(fired).toEqual(["b", "c"]);
  });

  it("never fires a wake when it is scheduled: one due now (delay 0, negative or not a number) fires on the next advance, advance(0) too", () => {
    const clock = new ManualClock(T0);
    const fired: string[] = [];
    clock.schedule(() => fired.push("zero"), 0);
    clock.schedule(() => fired.push("negative"), -5);
    clock.schedule(() => fired.push("nan"), Number.NaN);
    expect(fired).toEqual([]);
    expect(clock.nextWakeAt()).toBe(T0);
    expect(clock.advance(0)).toBe(3);
    expect(fired).toEqual(["zero", "negative", "nan"]);
    expect(clock.now()).toBe(T0);
  });

  it("refuses to go back in time or by a non-finite step, and stops a wake that keeps rescheduling itself at the same instant", () => {
    const clock = new ManualClock(T0);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => clock.advanceTo(T0 - 1)).toThrow(RangeError);
    expect(() => new ManualClock(Number.NaN)).toThrow(RangeError);
    const spin = () => void clock.schedule(spin, 0);
    clock.schedule(spin, 0);
    expect(() => clock.advance(0)).toThrow(/rescheduling itself/);
  });

  it("lets a wake's error through, at that wake's time, with the later wakes still pending", () => {
    const clock = new ManualClock(T0);
    const fired: string[] = [];
    clock.schedule(() => fired.push("before"), 10);
    clock.schedule(() => {
      throw new Error("wake failed");
    }, 20);
    clock.schedule(() => fired.push("after"), 30);
    expect(() => clock.advance(100)).toThrow("wake failed");
    expect(fired).toEqual(["before"]);
    expect(clock.now()).toBe(T0 + 20);
    expect(clock.nextWakeAt()).toBe(T0 + 30);
    clock.advance(80);
    expect(fired).toEqual(["before", "after"]);
    expect(clock.now()).toBe(T0 + 100);
  });
});
