// Runs a LoadJob on a worker thread (bench/load/load-worker.ts, bundled here with esbuild the way
// scripts/run-ts.mjs bundles the bench) and measures what the relay's process spent meanwhile.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { bundleTs } from "../../scripts/bundle-ts.mjs";
import type { LoopResult } from "./drivers.js";
import type { LoadJob, LoadMessage } from "./load-worker.js";
import { LatencyRecorder } from "./stats.js";

export type { LoadJob };

const WORKER_SOURCE = "bench/load/load-worker.ts";

/** What the relay process and the harness spent while the load ran (from the worker's "started" to "done"). */
export interface LoadCost {
  /** CPU time of the relay's process (every thread), ms; /proc has 10 ms resolution. */
  relayCpuMs: number;
  /** Event-loop utilization of this thread (the GitHub stand-in and OIDC issuer): near 1 would make the harness the limit. */
  harnessUtilization: number;
  /** The load worker's event-loop active time, ms. */
  workerActiveMs: number;
}

export interface RemoteResult extends LoopResult {
  cost: LoadCost;
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

/** Runs `job` on a fresh load worker against `relay`; the cost figures cover the load itself (from "started" to "done"). */
export async function runLoad(job: LoadJob, relay: { cpuMs(): number }): Promise<RemoteResult> {
  const worker = new Worker(await workerBundle(), { workerData: job });
  return new Promise<RemoteResult>((resolve, reject) => {
    let since: { elu: ReturnType<typeof performance.eventLoopUtilization>; relayCpu: number } | undefined;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(error);
    };
    worker.on("message", (message: LoadMessage) => {
      if (message.type === "started") {
        since = { elu: performance.eventLoopUtilization(), relayCpu: relay.cpuMs() };
        return;
      }
      if (!since) return fail(new Error("load worker finished before it started"));
      const elu = performance.eventLoopUtilization(since.elu);
      const relayCpuMs = relay.cpuMs() - since.relayCpu;
      const recorder = new LatencyRecorder();
      for (const latency of message.latencies) recorder.latencies.push(latency);
      Object.assign(recorder.errors, message.errors);
      settled = true;
      resolve({
        recorder,
        elapsedMs: message.elapsedMs,
        perSecond: message.perSecond,
        cost: { relayCpuMs, harnessUtilization: elu.utilization, workerActiveMs: message.workerActiveMs },
      });
    });
    worker.once("error", fail);
    worker.once("exit", (code) => fail(new Error(`load worker exited (code ${code}) before it reported`)));
  });
}
