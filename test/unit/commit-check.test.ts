import { describe, expect, it, vi } from "vitest";
import type { GitHubClient } from "../../src/github/client.js";
import type { InstallationClients } from "../../src/github/installation-clients.js";
import { commitChecker, upstreamCommitChecker, type CommitLookup } from "../../src/installations/commit-check.js";
import type { InstallationDirectory } from "../../src/installations/directory.js";

const log = { warn: vi.fn(), debug: vi.fn() };
const MINUTE = 60_000;
const sha = (n: number) => n.toString(16).padStart(40, "0");

function counting(answer: (sha: string) => "exists" | "missing"): CommitLookup & { calls: string[] } {
  const calls: string[] = [];
  return Object.assign(
    (value: string) => {
      calls.push(value);
      return Promise.resolve(answer(value));
    },
    { calls },
  );
}

/** A lookup that never answers unless aborted; records each abort. */
function hanging(): CommitLookup & { aborted: number } {
  const lookup = Object.assign(
    (_sha: string, signal: AbortSignal) =>
      new Promise<never>((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          lookup.aborted += 1;
          reject(signal.reason as Error);
        });
      }),
    { aborted: 0 },
  );
  return lookup;
}

describe("commitChecker", () => {
  it("caches found commits for a day and missing ones for 10 minutes", async () => {
    let now = 0;
    const lookup = counting((value) => (value === sha(1) ? "exists" : "missing"));
    const check = commitChecker(lookup, { lookupTimeoutMs: 1000, lookupsPerHour: 100, log, now: () => now });
    expect([await check(sha(1), "a/b"), await check(sha(2), "a/b")]).toEqual(["exists", "missing"]);
    now = 9 * MINUTE;
    expect([await check(sha(1), "a/b"), await check(sha(2), "a/b")]).toEqual(["exists", "missing"]);
    expect(lookup.calls).toHaveLength(2);
    now = 11 * MINUTE;
    await check(sha(1), "a/b");
    await check(sha(2), "a/b");
    expect(lookup.calls).toEqual([sha(1), sha(2), sha(2)]);
    now = 25 * 60 * MINUTE;
    await check(sha(1), "a/b");
    expect(lookup.calls).toHaveLength(4);
  });

  it("answers unknown without asking GitHub once a repo used its hourly lookups; other repos keep theirs", async () => {
    let now = 0;
    const lookup = counting(() => "missing");
    const check = commitChecker(lookup, { lookupTimeoutMs: 1000, lookupsPerHour: 3, log, now: () => now });
    const answers = [];
    for (let n = 0; n < 5; n += 1) answers.push(await check(sha(n), "flood/repo"));
    expect(answers).toEqual(["missing", "missing", "missing", "unknown", "unknown"]);
    expect(await check(sha(0), "flood/repo")).toBe("missing"); // cached answers cost nothing
    expect(await check(sha(9), "other/repo")).toBe("missing");
    expect(lookup.calls).toHaveLength(4);
    now = 61 * MINUTE;
    expect(await check(sha(7), "flood/repo")).toBe("missing");
  });

  it("gives up after the timeout, aborts the request, and does not cache the unknown answer", async () => {
    const lookup = hanging();
    const check = commitChecker(lookup, { lookupTimeoutMs: 50, lookupsPerHour: 10, log });
    const started = Date.now();
    expect(await check(sha(1), "a/b")).toBe("unknown");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lookup.aborted).toBe(1);
    expect(await check(sha(1), "a/b")).toBe("unknown");
    expect(lookup.aborted).toBe(2);
  });

  it("shares one lookup among concurrent checks of the same sha, whoever asks", async () => {
    const lookup = hanging();
    const check = commitChecker(lookup, { lookupTimeoutMs: 50, lookupsPerHour: 1, log });
    const answers = await Promise.all([check(sha(1), "a/b"), check(sha(1), "a/b"), check(sha(1), "c/d")]);
    expect(answers).toEqual(["unknown", "unknown", "unknown"]);
    expect(lookup.aborted).toBe(1);
  });

  it("answers unknown when the lookup fails", async () => {
    const check = commitChecker(() => Promise.reject(new Error("HTTP 502")), { lookupTimeoutMs: 1000, lookupsPerHour: 10, log });
    expect(await check(sha(1), "a/b")).toBe("unknown");
  });
});

describe("upstreamCommitChecker", () => {
  function github(request: (options: { ref: string; request: { signal: AbortSignal } }) => Promise<unknown>) {
    const client = { request: (_route: string, options: { ref: string; request: { signal: AbortSignal } }) => request(options) };
    const clients = { get: () => Promise.resolve(client as unknown as GitHubClient) } as unknown as InstallationClients;
    const installations = { resolve: () => Promise.resolve(7) } as unknown as InstallationDirectory;
    return upstreamCommitChecker(clients, installations, "pytorch/pytorch", { lookupTimeoutMs: 50, lookupsPerHour: 10, log });
  }

  it("maps 200 to exists, 404 and 422 to missing, other errors to unknown", async () => {
    const statuses: Record<string, number> = { [sha(2)]: 404, [sha(3)]: 422, [sha(4)]: 502 };
    const check = github(({ ref }) => (statuses[ref] ? Promise.reject(Object.assign(new Error("HTTP"), { status: statuses[ref] })) : Promise.resolve({})));
    expect(await Promise.all([1, 2, 3, 4].map((n) => check(sha(n), "a/b")))).toEqual(["exists", "missing", "missing", "unknown"]);
  });

  it("passes an abort signal that fires at the timeout", async () => {
    let signal: AbortSignal | undefined;
    const check = github((options) => {
      signal = options.request.signal;
      return new Promise(() => undefined);
    });
    expect(await check(sha(1), "a/b")).toBe("unknown");
    expect(signal?.aborted).toBe(true);
  });
});
