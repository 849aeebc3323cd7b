import { describe, expect, it } from "vitest";
import { backoffDelay, classifyFailure, installationPause } from "../../src/dispatch/retry-policy.js";

const NOW = Date.parse("2026-11-29T10:00:00Z");

describe("classifyFailure", () => {
  it.each([
    [{ status: 502, message: "Bad Gateway" }, "transient", "http_502"],
    [{ status: undefined, message: "fetch failed" }, "transient", "network"],
    [{ status: 404, message: "Not Found" }, "permanent", "http_404: Not Found"],
    [{ status: 422, message: "Invalid request" }, "permanent", "http_422: Invalid request"],
    [{ status: 403, message: "Resource not accessible by integration" }, "permanent", "http_403: Resource not accessible by integration"],
    [{ status: 401, message: "Bad credentials" }, "transient", "http_401"],
  ] as const)("%o is %s (%s)", (failure, kind, reason) => {
    expect(classifyFailure({ ...failure }, NOW)).toMatchObject({ kind, reason });
  });

  it("honours Retry-After in seconds or as an HTTP date", () => {
    expect(classifyFailure({ status: 429, headers: { "retry-after": "7" }, message: "" }, NOW)).toEqual({
      kind: "transient",
      reason: "rate_limited",
      retryAfterMs: 7000,
    });
    const date = new Date(NOW + 30_000).toUTCString();
    expect(classifyFailure({ status: 503, headers: { "retry-after": date }, message: "" }, NOW)).toMatchObject({ retryAfterMs: 30_000 });
  });

  it("treats a secondary-rate-limit 403 as transient, waiting at least a minute without headers", () => {
    expect(classifyFailure({ status: 403, message: "You have exceeded a secondary rate limit" }, NOW)).toEqual({
      kind: "transient",
      reason: "secondary_rate_limit",
      retryAfterMs: 60_000,
    });
    expect(classifyFailure({ status: 403, headers: { "retry-after": "2" }, message: "whatever" }, NOW)).toMatchObject({
      kind: "transient",
      retryAfterMs: 2000,
    });
  });

  it("waits for x-ratelimit-reset when the primary limit is spent", () => {
    const reset = String(Math.floor(NOW / 1000) + 120);
    expect(
      classifyFailure({ status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }, message: "API rate limit exceeded" }, NOW),
    ).toMatchObject({ kind: "transient", reason: "rate_limited", retryAfterMs: 120_000 });
  });
});

describe("backoffDelay", () => {
  it("grows exponentially with jitter between half and the whole step, capped", () => {
    expect(backoffDelay(0, undefined, 0)).toBe(500);
    expect(backoffDelay(0, undefined, 1)).toBe(1000);
    expect(backoffDelay(3, undefined, 0.5)).toBe(6000);
    expect(backoffDelay(30, undefined, 1)).toBe(300_000);
  });

  it("never retries sooner than GitHub asked", () => {
    expect(backoffDelay(0, 45_000, 0)).toBe(45_000);
    expect(backoffDelay(10, 1000, 1)).toBe(300_000);
  });
});

describe("installationPause", () => {
  it("pauses the installation for a rate limit, for as long as GitHub asked or the one-minute floor", () => {
    expect(installationPause(classifyFailure({ status: 403, headers: { "retry-after": "5" }, message: "secondary rate limit" }, NOW))).toEqual({
      reason: "secondary_rate_limit",
      ms: 5000,
    });
    expect(installationPause(classifyFailure({ status: 429, message: "Too Many Requests" }, NOW))).toEqual({ reason: "rate_limited", ms: 60_000 });
  });

  it("leaves the installation alone for other failures", () => {
    expect(installationPause(classifyFailure({ status: 502, headers: { "retry-after": "5" }, message: "Bad Gateway" }, NOW))).toBeUndefined();
    expect(installationPause(classifyFailure({ status: 404, message: "Not Found" }, NOW))).toBeUndefined();
  });
});
