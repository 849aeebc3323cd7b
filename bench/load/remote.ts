// Runs a LoadJob on a worker thread (bench/load/load-worker.ts, bundled here with esbuild the way
// scripts/run-ts.mjs bundles the bench) and measures what the relay's thread — this one — spent meanwhile.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { bundleTs } from "../../scripts/bundle-ts.mjs";
import type { LoopResult } from "./drivers.js";
import type { LoadJob, LoadMessage } from "./load-worker.js";
import { LatencyRecorder } from "./stats.js";

export type { LoadJob };

const WORKER_SOURCE = "bench/load/load-worker.ts";

export interface RelayThreadUse {
  /** Event-loop active time of this thread (JS, synchronous SQLite included), ms. */
  activeMs: number;
  /** Its share of the wall time. */
  utilization: number;
  /** CPU time of this thread (Linux /proc; null elsewhere), ms. */
  cpuMs: number | null;
  /** CPU time of the whole process (this thread, the load worker, libuv and V8 helpers), ms. */
  processCpuMs: number;
  /** The load worker's event-loop active time, ms. */
  workerActiveMs: number;
}

export interface RemoteResult extends LoopResult {
  relayThread: RelayThreadUse;
}

/** The repository root: the nearest folder up from this module (source or bundle) that holds the worker's source. */
function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, WORKER_SOURCE))) return dir;
    if (path.dirname(dir) === dir) break;
  }
  if (existsSync(path.resolve(WORKER_SOURCE))) return process.cwd();
  throw new Error(`cannot find ${WORKER_SOURCE} above ${fileURLToPath(import.meta.url)} or in ${process.cwd()}`);
}

let bundle: Promise<string> | undefined;

/** Bundles the worker into node_modules/.cache/relay-dev/ (once per run); resolves to the file. */
function workerBundle(): Promise<string> {
  const root = repoRoot();
  bundle ??= bundleTs(root, path.join(root, WORKER_SOURCE));
  return bundle;
}

/** CPU time of this thread (the main thread: its tid is the pid) from /proc, ms; null where there is none. */
function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15, in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * (1000 / CLOCK_TICKS) : null;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

/** Runs `job` on a fresh load worker; the relay-thread figures cover the load itself (from "started" to "done"). */
export async function runLoad(job: LoadJob): Promise<RemoteResult> {
  const worker = new Worker(await workerBundle(), { workerData: job });
  return new Promise<RemoteResult>((resolve, reject) => {
    let since: { elu: ReturnType<typeof performance.eventLoopUtilization>; cpu: number | null; processCpu: NodeJS.CpuUsage } | undefined;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(error);
    };
    worker.on("message", (message: LoadMessage) => {
      if (message.type === "started") {
        since = { elu: performance.eventLoopUtilization(), cpu: mainThreadCpuMs(), processCpu: process.cpuUsage() };
        return;
      }
      if (!since) return fail(new Error("load worker finished before it started"));
      const elu = performance.eventLoopUtilization(since.elu);
      const cpu = mainThreadCpuMs();
      const processCpu = process.cpuUsage(since.processCpu);
      const recorder = new LatencyRecorder();
      for (const latency of message.latencies) recorder.latencies.push(latency);
      Object.assign(recorder.errors, message.errors);
      settled = true;
      resolve({
        recorder,
        elapsedMs: message.elapsedMs,
        perSecond: message.perSecond,
        relayThread: {
          activeMs: elu.active,
          utilization: elu.utilization,
          cpuMs: cpu === null || since.cpu === null ? null : cpu - since.cpu,
          processCpuMs: (processCpu.user + processCpu.system) / 1000,
          workerActiveMs: message.workerActiveMs,
        },
      });
    });
    worker.once("error", fail);
    worker.once("exit", (code) => fail(new Error(`load worker exited (code ${code}) before it reported`)));
  });
}
