import { describe, expect, it } from "vitest";
import { capText, CHECK_TEXT_LIMIT } from "../../src/checks/text-limits.js";

describe("capText", () => {
  it("leaves text within the limit alone", () => {
    expect(capText("short", 10)).toBe("short");
  });

  it("cuts to the limit and says so", () => {
    const capped = capText("x".repeat(CHECK_TEXT_LIMIT + 10));
    expect(capped).toHaveLength(CHECK_TEXT_LIMIT);
    expect(capped.endsWith("(truncated)")).toBe(true);
  });

  it("never splits a surrogate pair", () => {
    const text = "a".repeat(20) + "😀".repeat(20);
    for (let limit = 20; limit < 40; limit++) {
      const capped = capText(text, limit);
      expect(capped.length).toBeLessThanOrEqual(limit);
      expect(capped).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
  });
});
