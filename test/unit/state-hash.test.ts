// The state core's hash of a queued check-run state: equal states hash equal whatever their key order.
import { describe, expect, it } from "vitest";
import { stateHash } from "../../src/domain/state-hash.js";

describe("stateHash", () => {
  it("ignores the order of object keys at every depth, but not the order of arrays", () => {
    const a = { name: "oot / npu", output: { title: "t", summary: "s" }, status: "queued" };
    const b = { status: "queued", output: { summary: "s", title: "t" }, name: "oot / npu" };
    expect(stateHash(a)).toBe(stateHash(b));
    expect(stateHash([1, 2])).not.toBe(stateHash([2, 1]));
  });

  it("tells different states apart, including a missing field from an undefined one's neighbour", () => {
    expect(stateHash({ status: "completed", conclusion: "success" })).not.toBe(stateHash({ status: "completed", conclusion: "failure" }));
    expect(stateHash({ status: "queued" })).not.toBe(stateHash({ status: "queued", conclusion: null }));
    expect(stateHash({ status: "queued" })).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
