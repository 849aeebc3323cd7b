// Isolating the rows ClickHouse refuses (src/hud/isolate.ts) and telling refused data from an outage
// (src/hud/insert-errors.ts), with a fake insert. The chDB answers themselves: test/integration/hud-writer.test.ts.
import { ClickHouseError, parseError } from "@clickhouse/client";
import { describe, expect, it } from "vitest";
import { classifyInsertError, describeInsertError } from "../../src/hud/insert-errors.js";
import { insertIsolating } from "../../src/hud/isolate.js";

const refusal = (type: string) => new ClickHouseError({ message: `refused (at row 1)`, code: "1", type });

/** A fake ClickHouse that refuses any insert holding a bad item, recording what it accepted. */
function fakeClickHouse(bad: ReadonlySet<number>, error = () => refusal("CANNOT_PARSE_ESCAPE_SEQUENCE")) {
  const accepted: number[] = [];
  let inserts = 0;
  return {
    accepted,
    inserts: () => inserts,
    insert: (part: readonly number[]): Promise<void> => {
      inserts += 1;
      if (part.some((item) => bad.has(item))) return Promise.reject(error());
      accepted.push(...part);
      return Promise.resolve();
    },
  };
}

const range = (n: number) => Array.from({ length: n }, (_, index) => index);
/** Each refused item: one failed and one successful insert per level of halving, plus the first attempt. */
const insertBound = (n: number, k: number) => 2 * k * (Math.ceil(Math.log2(Math.max(n, 1))) + 1) + 1;

describe("insertIsolating", () => {
  it("isolates 2 refused rows of 40 and inserts the 38 others exactly once, in O(k log n) inserts", async () => {
    const clickhouse = fakeClickHouse(new Set([7, 29]));
    const result = await insertIsolating(range(40), clickhouse.insert);
    expect(result.refused.map(({ item, kind }) => [item, kind])).toEqual([[7, "data"], [29, "data"]]);
    expect(result.stopped).toBeUndefined();
    expect(clickhouse.accepted.sort((a, b) => a - b)).toEqual(range(40).filter((item) => item !== 7 && item !== 29));
    expect(clickhouse.inserts()).toBeLessThanOrEqual(insertBound(40, 2));
  });

  it.each([
    [1, 0],
    [1, 1],
    [2, 1],
    [3, 2],
    [1000, 1],
    [1000, 3],
    [1000, 8],
  ])("keeps within 2k(⌈log₂ n⌉ + 1) + 1 inserts for n = %i, k = %i", async (n, k) => {
    const bad = new Set(range(k).map((index) => Math.floor(((index + 0.5) * n) / k)));
    const clickhouse = fakeClickHouse(bad);
    const result = await insertIsolating(range(n), clickhouse.insert);
    expect(result.refused.map(({ item }) => item)).toEqual([...bad]);
    expect(clickhouse.accepted).toHaveLength(n - k);
    expect(clickhouse.inserts()).toBeLessThanOrEqual(insertBound(n, k));
  });

  it("stops at an outage, leaving the rows not yet written untouched", async () => {
    let calls = 0;
    const accepted: number[] = [];
    const result = await insertIsolating(range(8), (part) => {
      calls += 1;
      if (calls === 1) return Promise.reject(refusal("VIOLATED_CONSTRAINT")); // the batch: bisect
      if (calls === 3) return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8123")); // then ClickHouse goes away
      accepted.push(...part); // the first half is written
      return Promise.resolve();
    });
    expect(accepted).toEqual([0, 1, 2, 3]);
    expect(result.refused).toEqual([]);
    expect(result.stopped).toMatchObject({ reason: "outage", error: expect.objectContaining({ message: expect.stringMatching(/ECONNREFUSED/) }) });
  });

  it("spends a bounded number of failed inserts when ClickHouse refuses every row", async () => {
    const clickhouse = fakeClickHouse(new Set(range(1000)), () => refusal("FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"));
    const result = await insertIsolating(range(1000), clickhouse.insert);
    expect(result.stopped?.reason).toBe("budget");
    expect(result.refused.length).toBeGreaterThanOrEqual(8);
    expect(result.refused.every(({ kind }) => kind === "unknown")).toBe(true);
    expect(clickhouse.inserts()).toBeLessThanOrEqual(8 * (Math.ceil(Math.log2(1000)) + 1) + 1);
  });
});

describe("classifyInsertError", () => {
  it.each([
    ["a refused connection", new Error("connect ECONNREFUSED 127.0.0.1:8123"), "outage"],
    ["a timeout", new Error("Timeout error."), "outage"],
    ["a proxy's 503 page", parseError("<html>503 Service Unavailable</html>"), "outage"],
    ["chDB's data directory held elsewhere", Object.assign(new Error("chdb: only one active data directory per process"), { code: "CHDB_CONNECTION" }), "outage"],
    ["a server out of memory", refusal("MEMORY_LIMIT_EXCEEDED"), "outage"],
    ["too many parts", refusal("TOO_MANY_PARTS"), "outage"],
    ["a lone surrogate", refusal("CANNOT_PARSE_ESCAPE_SEQUENCE"), "data"],
    ["a negative UInt", refusal("CANNOT_PARSE_NUMBER"), "data"],
    ["a failed CHECK", refusal("VIOLATED_CONSTRAINT"), "data"],
    ["anything else ClickHouse says", refusal("FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"), "unknown"],
  ])("%s → %s", (_name, error, kind) => {
    expect(classifyInsertError(error)).toBe(kind);
  });

  it("parses ClickHouse's own wording into a typed refusal", () => {
    const error = parseError("Code: 25. DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair. (CANNOT_PARSE_ESCAPE_SEQUENCE) (version 25.8.1.1)");
    expect(classifyInsertError(error)).toBe("data");
    expect(describeInsertError(error)).toMatch(/^CANNOT_PARSE_ESCAPE_SEQUENCE: Cannot parse escape sequence/);
  });

  it("keeps at most 1000 characters of ClickHouse's message", () => {
    expect(describeInsertError(new ClickHouseError({ message: "x".repeat(5000), code: "27", type: "CANNOT_PARSE_TEXT" }))).toBe(`CANNOT_PARSE_TEXT: ${"x".repeat(981)}…`);
  });
});
