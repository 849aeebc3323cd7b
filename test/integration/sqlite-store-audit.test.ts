// The store's replay lookup (deliveries by payload hash) and the callback audit trail, on a real file.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { summarizeCallbackOutcomes } from "../../src/callback/audit.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

const NOW = 1_700_000_000_000;
let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "relay-store-audit-"));
  store = openSqliteStore(dir);
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("deliveryWithPayload", () => {
  it("finds the same payload under another delivery id since a time, never the delivery itself", () => {
    store.acceptDelivery({ id: "d1", event: "push", payloadHash: "h1" }, { tasks: [], log: [] }, NOW);
    store.rememberDelivery({ id: "d2", event: "pull_request", payloadHash: "h2" }, NOW + 10);
    expect(store.deliveryWithPayload("h1", "d9", NOW)).toBe("d1");
    expect(store.deliveryWithPayload("h2", "d9", NOW)).toBe("d2");
    expect(store.deliveryWithPayload("h1", "d1", NOW)).toBeUndefined();
    expect(store.deliveryWithPayload("h1", "d9", NOW + 1)).toBeUndefined();
    expect(store.deliveryWithPayload("h3", "d9", 0)).toBeUndefined();
  });

  it("remembers the latest payload hash of a delivery id", () => {
    store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "pseudo" }, NOW);
    store.rememberDelivery({ id: "d1", event: "check_run", payloadHash: "real" }, NOW);
    expect(store.deliveryWithPayload("real", "d2", NOW)).toBe("d1");
    expect(store.deliveryWithPayload("pseudo", "d2", NOW)).toBeUndefined();
  });
});

describe("callback outcomes", () => {
  it("adds counts per (day, repo, outcome), reads days from a day on, and prunes days before the kept one", () => {
    store.addCallbackOutcomes(
      [
        { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
        { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 1 },
        { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
      ],
      "2026-01-01",
    );
    store.addCallbackOutcomes([{ day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 3 }], "2026-01-01");
    expect(store.callbackOutcomes("2026-01-02")).toEqual([
      { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
      { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 4 },
    ]);
    store.addCallbackOutcomes([], "2026-01-02");
    expect(store.callbackOutcomes("2000-01-01").map((row) => row.day)).toEqual(["2026-01-02", "2026-01-02"]);
  });
});

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
