import { describe, expect, it } from "vitest";
import { InstallationPauses, PRIMARY_RESERVE, primaryLimitPauseUntil } from "../../src/limits/installation-pause.js";

describe("InstallationPauses", () => {
  it("pauses one installation until the given time, then forgets it", () => {
    const pauses = new InstallationPauses();
    expect(pauses.pause(1, 5000, 0)).toBe(true);
    expect(pauses.remaining(1, 1000)).toBe(4000);
    expect(pauses.remaining(2, 1000)).toBe(0);
    expect(pauses.active(1000)).toEqual(new Map([[1, 5000]]));
    expect(pauses.remaining(1, 5000)).toBe(0);
    expect(pauses.active(5000).size).toBe(0);
  });

  it("extends a running pause without counting a new one, and never shortens it", () => {
    const pauses = new InstallationPauses();
    expect(pauses.pause(1, 5000, 0)).toBe(true);
    expect(pauses.pause(1, 9000, 100)).toBe(false);
    expect(pauses.remaining(1, 100)).toBe(8900);
    expect(pauses.pause(1, 2000, 200)).toBe(false);
    expect(pauses.remaining(1, 200)).toBe(8800);
    // Once over, the next refusal is a new pause.
    expect(pauses.pause(1, 20_000, 10_000)).toBe(true);
  });

  it("ignores a pause that has already ended", () => {
    const pauses = new InstallationPauses();
    expect(pauses.pause(1, 500, 1000)).toBe(false);
    expect(pauses.active(1000).size).toBe(0);
  });

  it("stays bounded, dropping the pause that ends soonest", () => {
    const pauses = new InstallationPauses(2);
    pauses.pause(1, 9000, 0);
    pauses.pause(2, 3000, 0);
    pauses.pause(3, 6000, 0);
    expect([...pauses.active(0).keys()].sort()).toEqual([1, 3]);
  });
});

describe("primaryLimitPauseUntil", () => {
  const reset = 1_800_000_000;

  it("waits for the reset once the primary limit falls below the reserve", () => {
    expect(primaryLimitPauseUntil({ "x-ratelimit-remaining": String(PRIMARY_RESERVE - 1), "x-ratelimit-reset": String(reset) })).toBe(reset * 1000);
    expect(primaryLimitPauseUntil({ "x-ratelimit-remaining": 0, "x-ratelimit-reset": reset })).toBe(reset * 1000);
  });

  it("does not pause with requests to spare or without the headers", () => {
    expect(primaryLimitPauseUntil({ "x-ratelimit-remaining": String(PRIMARY_RESERVE), "x-ratelimit-reset": String(reset) })).toBeUndefined();
    expect(primaryLimitPauseUntil({})).toBeUndefined();
    expect(primaryLimitPauseUntil({ "x-ratelimit-remaining": "3" })).toBeUndefined();
  });
});
