// Load drivers: a closed loop (each client awaits its answer before sending again) and a steady open-loop
// rate (requests go out on a schedule, whatever the answers). Both record into a LatencyRecorder.
import { setTimeout as sleep } from "node:timers/promises";
import { LatencyRecorder, timed } from "./stats.js";

/** Every request gives up after this long (it then counts as a TimeoutError). */
export const REQUEST_TIMEOUT_MS = 15_000;

/** `send(client, seq)`: the client's seq-th request; resolves to the HTTP status. */
export type Send = (client: number, seq: number) => Promise<number>;

export interface LoopResult {
  recorder: LatencyRecorder;
  elapsedMs: number;
  /** Completed requests per second over the run. */
  perSecond: number;
}

export async function closedLoop(clients: number, durationMs: number, send: Send): Promise<LoopResult> {
  const recorder = new LatencyRecorder();
  const start = performance.now();
  const deadline = start + durationMs;
  const client = async (id: number) => {
    for (let seq = 0; performance.now() < deadline; seq++) await timed(recorder, () => send(id, seq));
  };
  await Promise.all(Array.from({ length: clients }, (_, id) => client(id)));
  const elapsedMs = performance.now() - start;
  return { recorder, elapsedMs, perSecond: recorder.latencies.length / (elapsedMs / 1000) };
}

/** `count` requests, one every 1000/perSecond ms (by schedule, not drifting), then waits for the last answers. */
export async function steadyRate(perSecond: number, count: number, send: (seq: number) => Promise<number>): Promise<LoopResult> {
  const recorder = new LatencyRecorder();
  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let seq = 0; seq < count; seq++) {
    const due = start + (seq * 1000) / perSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    inFlight.push(timed(recorder, () => send(seq)));
  }
  await Promise.all(inFlight);
  const elapsedMs = performance.now() - start;
  return { recorder, elapsedMs, perSecond: recorder.latencies.length / (elapsedMs / 1000) };
}

/** Polls `ready` every 50 ms; throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, ready: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
