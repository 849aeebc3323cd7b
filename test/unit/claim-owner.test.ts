// Which outbox claims a starting worker may release: only those of processes of its own host that are gone.
import { describe, expect, it } from "vitest";
import { claimOwner, isGoneLocalOwner, processAlive } from "../../src/dispatch/claim-owner.js";

const here = { host: "relay-1", pid: 1, startedAt: 1_700_000_000_000 };
const alive = (pids: number[]) => (pid: number) => pids.includes(pid);

describe("claim owners", () => {
  it("names host, pid, start time and a per-worker suffix", () => {
    expect(claimOwner(here)).toMatch(/^relay-1:1:1700000000000:[0-9a-f]{8}$/);
    expect(claimOwner(here)).not.toBe(claimOwner(here));
  });

  it("releases a dead pid of this host, and this pid's earlier life (a restarted container's pid 1)", () => {
    expect(isGoneLocalOwner("relay-1:4242:1699999999999:abcd1234", here, alive([]))).toBe(true);
    expect(isGoneLocalOwner("relay-1:1:1699999999999:abcd1234", here, alive([1]))).toBe(true);
  });

  it("keeps a live process of this host, another worker of this process, other hosts and unreadable owners", () => {
    expect(isGoneLocalOwner("relay-1:4242:1699999999999:abcd1234", here, alive([4242]))).toBe(false);
    expect(isGoneLocalOwner("relay-1:1:1700000000000:abcd1234", here, alive([1]))).toBe(false);
    expect(isGoneLocalOwner("relay-2:4242:1699999999999:abcd1234", here, alive([]))).toBe(false);
    expect(isGoneLocalOwner("replica-a", here, alive([]))).toBe(false);
  });

  it("finds this process alive and a pid that cannot exist dead", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 12_345)).toBe(false);
  });
});
