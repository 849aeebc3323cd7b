// Who holds an outbox claim: host, process id, process start time and a per-worker suffix. A worker
// starting on a store releases the claims of earlier processes on its own host that are gone — a crash
// on the embedded store would otherwise leave their tasks waiting for the whole lease. Claims of other
// hosts (replicas of a shared store) only expire.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";

export interface ProcessIdentity {
  host: string;
  pid: number;
  /** When the process started (ms since the epoch): tells a restarted container's pid 1 from the last one's. */
  startedAt: number;
}

export function thisProcess(): ProcessIdentity {
  return { host: hostname(), pid: process.pid, startedAt: Math.round(performance.timeOrigin) };
}

export function claimOwner(identity: ProcessIdentity = thisProcess()): string {
  return `${identity.host}:${identity.pid}:${identity.startedAt}:${randomUUID().slice(0, 8)}`;
}

/**
 * Whether `owner` names a process of this host that no longer runs: another pid that is not alive, or
 * this pid in an earlier life (another start time). Owners it cannot read are left to expire.
 */
export function isGoneLocalOwner(owner: string, here: ProcessIdentity, alive: (pid: number) => boolean): boolean {
  const match = /^(.*):(\d+):(\d+):[^:]+$/.exec(owner);
  if (!match || match[1] !== here.host) return false;
  const pid = Number(match[2]);
  if (pid === here.pid) return Number(match[3]) !== here.startedAt;
  return !alive(pid);
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
