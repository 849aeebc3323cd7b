// The load clients, on a worker thread of their own (bench/load/remote.ts starts it): the relay's thread
// then does only the relay's work (and the GitHub stand-in's), not the clients' fetch calls. Gets one
// LoadJob as workerData, posts "started" as the load begins, then the LoadOutcome; node built-ins only.
import { parentPort, workerData } from "node:worker_threads";
import { closedLoop, steadyRate, type LoopResult } from "./drivers.js";
import { deliverWebhook, nthReport, postCallback, prVariant, unrelatedRunEvent } from "./requests.js";
import { LatencyRecorder, timed } from "./stats.js";

/** What the worker is to send; everything it needs comes in the message. */
export type LoadJob =
  /**
   * Closed loop: one client per ticket, each reporting jobs (in_progress, then completed) on its ticket.
   * With `relayUrls` (replicas), request n goes to relayUrls[n % length] instead of relayUrl.
   */
  | { kind: "callbacks"; relayUrl: string; relayUrls?: string[]; token: string; tickets: string[]; durationMs: number }
  /** One client reporting `count` reports on one ticket, one at a time. */
  | { kind: "reports"; relayUrl: string; token: string; ticket: string; count: number }
  /** `count` PR webhooks at `perSecond`: opened, then a synchronize of the same PR, from `firstPr` on. */
  | { kind: "webhooks"; relayUrl: string; relayUrls?: string[]; secret: string; template: unknown; perSecond: number; count: number; firstPr: number }
  /** Closed loop: `clients` clients delivering a downstream repo's workflow_run / workflow_job events the relay has nothing to do with. */
  | { kind: "unrelatedRuns"; relayUrl: string; secret: string; templates: { run: unknown; job: unknown }; repo: string; clients: number; durationMs: number };

export type LoadMessage =
  | { type: "started" }
  | { type: "done"; latencies: number[]; errors: Record<string, number>; elapsedMs: number; perSecond: number; workerActiveMs: number };

async function run(job: LoadJob): Promise<LoopResult> {
  switch (job.kind) {
    case "callbacks": {
      let sent = 0;
      return closedLoop(job.tickets.length, job.durationMs, (client, seq) =>
        postCallback(pick(job, sent++), job.token, nthReport(job.tickets[client]!, client, seq)),
      );
    }
    case "reports": {
      const recorder = new LatencyRecorder();
      const start = performance.now();
      for (let seq = 0; seq < job.count; seq++) await timed(recorder, () => postCallback(job.relayUrl, job.token, nthReport(job.ticket, 0, seq)));
      const elapsedMs = performance.now() - start;
      return { recorder, elapsedMs, perSecond: recorder.latencies.length / (elapsedMs / 1000) };
    }
    case "unrelatedRuns": {
      const prefix = `bench-runs-${Date.now()}`;
      return closedLoop(job.clients, job.durationMs, (client, seq) => {
        const n = client * 1_000_000 + seq;
        const { name, payload } = unrelatedRunEvent(job.templates, job.repo, n);
        return deliverWebhook(job.relayUrl, job.secret, name, payload, `${prefix}-${n}`);
      });
    }
    case "webhooks": {
      const prefix = `bench-load-${Date.now()}`;
      return steadyRate(job.perSecond, job.count, (seq) => {
        const payload = prVariant(job.template, job.firstPr + Math.floor(seq / 2), seq % 2 === 0 ? "opened" : "synchronize");
        return deliverWebhook(pick(job, seq), job.secret, "pull_request", payload, `${prefix}-${seq}`);
      });
    }
  }
}

/** The relay request `n` goes to: round robin over the replicas, or the one relay. */
function pick(job: { relayUrl: string; relayUrls?: string[] }, n: number): string {
  return job.relayUrls && job.relayUrls.length > 0 ? job.relayUrls[n % job.relayUrls.length]! : job.relayUrl;
}

const port = parentPort;
if (!port) throw new Error("load-worker runs as a worker thread (bench/load/remote.ts)");
const post = (message: LoadMessage) => port.postMessage(message);
const elu = performance.eventLoopUtilization();
post({ type: "started" });
const result = await run(workerData as LoadJob);
post({
  type: "done",
  latencies: result.recorder.latencies,
  errors: result.recorder.errors,
  elapsedMs: result.elapsedMs,
  perSecond: result.perSecond,
  workerActiveMs: performance.eventLoopUtilization(elu).active,
});
