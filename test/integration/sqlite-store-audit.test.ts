// The callback audit trail's summary (per-downstream totals) of the counts the store keeps. The store's
// side (deliveryWithPayload, addCallbackOutcomes/callbackOutcomes) is in the Store contract
// (test/contract/store-contract.ts).
import { describe, expect, it } from "vitest";
import { summarizeCallbackOutcomes } from "../../src/domain/callback-audit.js";

describe("summarizeCallbackOutcomes", () => {
  it("totals per repo, splits valid from rejected, keeps days in order, busiest repo first", () => {
    const summary = summarizeCallbackOutcomes([
      { day: "2026-01-02", repo: "acme/npu", outcome: "rate_limited", count: 7 },
      { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
      { day: "2026-01-02", repo: "acme/npu", outcome: "duplicate", count: 1 },
      { day: "2026-01-02", repo: "beta/tpu", outcome: "accepted", count: 1 },
    ]);
    expect(summary).toEqual([
      {
        repo: "acme/npu",
        total: 10,
        valid: 3,
        rejected: 7,
        outcomes: { accepted: 2, duplicate: 1, rate_limited: 7 },
        days: [
          { day: "2026-01-01", outcomes: { accepted: 2 } },
          { day: "2026-01-02", outcomes: { rate_limited: 7, duplicate: 1 } },
        ],
      },
      { repo: "beta/tpu", total: 1, valid: 1, rejected: 0, outcomes: { accepted: 1 }, days: [{ day: "2026-01-02", outcomes: { accepted: 1 } }] },
    ]);
  });
});
