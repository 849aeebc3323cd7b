import { describe, expect, it } from "vitest";
import { ByteBudget } from "../../src/http/byte-budget.js";

describe("ByteBudget", () => {
  it("grants bytes while there is room, refuses a take that would pass the capacity, and frees a lease's bytes at once", () => {
    const budget = new ByteBudget(100);
    const a = budget.lease();
    const b = budget.lease();
    expect(a.take(60)).toBe(true);
    expect(b.take(30)).toBe(true);
    expect(b.take(11)).toBe(false);
    expect(budget.inUse).toBe(90);
    a.release();
    expect(budget.inUse).toBe(30);
    expect(b.take(70)).toBe(true);
    b.release();
    b.release(); // a second release gives back nothing more
    expect(budget.inUse).toBe(0);
  });
});
