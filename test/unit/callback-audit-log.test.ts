import { afterEach, describe, expect, it, vi } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { CallbackAuditLog } from "../../src/callback/audit-log.js";
import { createMetrics } from "../../src/metrics.js";
import type { CallbackOutcomeCount } from "../../src/domain/callback-audit.js";
import type { Store } from "../../src/store/store.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");

function setUp(failures = 0) {
  const writes: Array<{ counts: CallbackOutcomeCount[]; keepFrom: string }> = [];
  const store = {
    addCallbackOutcomes: async (counts: CallbackOutcomeCount[], keepFrom: string) => {
      await Promise.resolve();
      if (failures-- > 0) throw new Error("disk full");
      writes.push({ counts: structuredClone(counts), keepFrom });
    },
    callbackOutcomes: async () => {
      await Promise.resolve();
      return writes.flatMap((write) => write.counts);
    },
  } as unknown as Store;
  const parsed = parseAllowlist(`L2:\n  - acme/npu-backend\n`);
  if (!parsed.ok) throw new Error("fixture allowlist is invalid");
  const metrics = createMetrics({ defaultMetrics: false });
  const log = { error: vi.fn() };
  const audit = new CallbackAuditLog({ store: () => store, metrics, allowlist: () => parsed.allowlist, log, flushMs: 60_000, now: () => NOW });
  return { audit, writes, metrics, log };
}

afterEach(() => vi.useRealTimers());

describe("CallbackAuditLog", () => {
  it("writes a burst as one batch of summed counts and prunes past 90 days", async () => {
    const { audit, writes } = setUp();
    for (let i = 0; i < 1000; i += 1) audit.record(undefined, "bad_token");
    audit.record("acme/npu-backend", "accepted");
    expect(writes).toHaveLength(0);
    await audit.flush();
    expect(writes).toEqual([
      {
        counts: [
          { day: "2026-03-01", repo: "(unverified)", outcome: "bad_token", count: 1000 },
          { day: "2026-03-01", repo: "acme/npu-backend", outcome: "accepted", count: 1 },
        ],
        keepFrom: "2025-12-02",
      },
    ]);
  });

  it("writes pending counts on its own after flushMs, and before a summary is read", async () => {
    vi.useFakeTimers();
    const { audit, writes } = setUp();
    audit.record("acme/npu-backend", "accepted");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(writes).toHaveLength(1);
    audit.record("acme/npu-backend", "duplicate");
    expect((await audit.summary(7)).repos).toMatchObject([{ repo: "acme/npu-backend", outcomes: { accepted: 1, duplicate: 1 } }]);
  });

  it("labels the metric by repo only for allowlisted repos", async () => {
    const { audit, metrics } = setUp();
    audit.record("acme/npu-backend", "accepted");
    audit.record("someone/else", "not_allowlisted");
    audit.record(undefined, "bad_token");
    const values = (await metrics.callbackOutcomes.get()).values.map((value) => [value.labels.repo, value.labels.outcome, value.value]);
    expect(values).toEqual([
      ["acme/npu-backend", "accepted", 1],
      ["(other)", "not_allowlisted", 1],
      ["(unverified)", "bad_token", 1],
    ]);
  });

  it("keeps counts it could not store for the next write", async () => {
    const { audit, writes, log } = setUp(1);
    audit.record(undefined, "bad_token");
    await audit.flush();
    expect(log.error).toHaveBeenCalledOnce();
    audit.record(undefined, "bad_token");
    await audit.flush();
    expect(writes.map((write) => write.counts)).toEqual([[{ day: "2026-03-01", repo: "(unverified)", outcome: "bad_token", count: 2 }]]);
  });
});
