// The relay's server (`node lib/server/main.js`, built by `npm run build`) as a child process, the way it
// runs in production: alone in its process, so its CPU time and memory are its own. Shared by the
// benchmarks that measure the relay rather than their harness (bench/security.ts, bench/relay-load.ts).
// Linux only: CPU and RSS come from /proc.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export const RELAY_HOST = "127.0.0.1";

export interface RelayProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** The relay's stdout and stderr. */
  logFile: string;
  rss: ProcessRss;
  logBytes(): number;
  /** CPU time of the whole process so far (every thread: JS, libuv's pool, V8 helpers, SQLite), ms. */
  cpuMs(): number;
  /** SIGTERM (SIGKILL after 10 s); resolves to how it exited. */
  stop(): Promise<string>;
}

export interface RelayProcessOptions {
  /** The repository root (lib/server/main.js under it). */
  root: string;
  /** The working directory: no .env, allowlist.yml or *.pem of the working tree is picked up. */
  dir: string;
  port: number;
  /** The relay's whole environment besides PATH, HOME, TMPDIR, NODE_ENV, HOST, PORT and the log settings. */
  env: Record<string, string>;
  /** RSS sampling interval (default 100 ms). */
  sampleMs?: number;
}

/** Starts the relay and resolves once /healthz answers 200 (rejects with the log's tail if it exits or hangs). */
export async function startRelayProcess(options: RelayProcessOptions): Promise<RelayProcess> {
  const { dir, port } = options;
  const logFile = path.join(dir, "relay.log");
  const logFd = openSync(logFile, "a");
  const env: Record<string, string> = {
    // A minimal inherited environment: nothing from the caller's shell configures the relay.
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    TMPDIR: process.env.TMPDIR ?? "/tmp",
    NODE_ENV: "production",
    PORT: String(port),
    HOST: RELAY_HOST,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    ...options.env,
  };
  const child = spawn(process.execPath, [path.join(options.root, "lib/server/main.js")], { cwd: dir, env, stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start the relay");
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `exit ${code}`)));
  const rss = new ProcessRss(pid, options.sampleMs ?? 100);
  let stopped: Promise<string> | undefined;
  const relay: RelayProcess = {
    child,
    pid,
    port,
    url: `http://${RELAY_HOST}:${port}`,
    logFile,
    rss,
    logBytes: () => statSync(logFile, { throwIfNoEntry: false })?.size ?? 0,
    cpuMs: () => processCpuMs(pid),
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        const how = await exited;
        clearTimeout(timer);
        rss.stop();
        return how;
      })()),
  };
  try {
    await waitHealthy(relay, exited);
  } catch (error) {
    await relay.stop();
    throw error;
  }
  return relay;
}

async function waitHealthy(relay: RelayProcess, exited: Promise<string>): Promise<void> {
  let gone: string | undefined;
  void exited.then((how) => (gone = how));
  const deadline = performance.now() + 30_000;
  const tail = () => readFileSync(relay.logFile, "utf8").slice(-4000);
  while (performance.now() < deadline) {
    if (gone !== undefined) throw new Error(`the relay exited (${gone}) while starting:\n${tail()}`);
    try {
      const response = await fetch(`${relay.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the relay did not answer /healthz within 30 s:\n${tail()}`);
}

/** USER_HZ: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

/** utime + stime of a process (all its threads) from /proc/<pid>/stat, ms (10 ms resolution). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15, in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
}

/** Reads VmRSS of `pid` from /proc every `sampleMs`; keeps every sample (a few thousand at most). */
export class ProcessRss {
  readonly samples: Array<{ at: number; rss: number }> = [];
  #timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    sampleMs: number,
  ) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), sampleMs);
    this.#timer.unref();
  }

  sample(): void {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    } catch {
      return; // the process is gone
    }
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (match) this.samples.push({ at: performance.now(), rss: Number(match[1]) * 1024 });
  }

  /** The newest sample (taken now). */
  current(): number {
    this.sample();
    return this.samples.at(-1)?.rss ?? 0;
  }

  peakSince(start: number): number {
    return this.samples.reduce((peak, sample) => (sample.at >= start ? Math.max(peak, sample.rss) : peak), 0);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
