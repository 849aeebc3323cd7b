import { describe, expect, it } from "vitest";
import { capText, CHECK_TEXT_LIMIT } from "../../src/github/text-limits.js";

describe("capText", () => {
  it("leaves text within the limit alone", () => {
    expect(capText("short", 10)).toBe("short");
  });

  it("cuts to the byte limit and says so", () => {
    const capped = capText("x".repeat(CHECK_TEXT_LIMIT + 10));
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
    expect(capped.endsWith("(truncated)")).toBe(true);
  });

  it("counts bytes, not characters, and never splits a character", () => {
    const text = "é".repeat(40_000) + "😀".repeat(20_000);
    const capped = capText(text);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(CHECK_TEXT_LIMIT);
    expect(capped).not.toContain("\uFFFD");
    for (let limit = 30; limit < 60; limit++) {
      const small = capText("ab😀😀😀😀😀😀😀😀😀😀😀😀", limit);
      expect(Buffer.byteLength(small)).toBeLessThanOrEqual(limit);
      expect(small).not.toMatch(/\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
  });
});
