// Latency and outcome recording for the load benchmark: every request's time and how it ended.

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** Answers other than 2xx, and failures without an answer, by status (or error name). */
  errors: Record<string, number>;
}

/** Nearest-rank percentile of ascending `sorted` (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(latencies: readonly number[], errors: Record<string, number> = {}): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { count: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? 0), errors };
}

export class LatencyRecorder {
  /** Milliseconds per request, in the order they finished. */
  readonly latencies: number[] = [];
  readonly errors: Record<string, number> = {};

  /** `outcome`: the HTTP status, or the name of the failure when there was no answer. */
  record(ms: number, outcome: number | string): void {
    this.latencies.push(ms);
    const ok = typeof outcome === "number" && outcome >= 200 && outcome < 300;
    if (!ok) this.errors[String(outcome)] = (this.errors[String(outcome)] ?? 0) + 1;
  }

  summary(): LatencySummary {
    return summarize(this.latencies, this.errors);
  }
}

/** Times `request` into `recorder`; a thrown error counts under its name (e.g. TimeoutError). */
export async function timed(recorder: LatencyRecorder, request: () => Promise<number>): Promise<void> {
  const start = performance.now();
  let outcome: number | string;
  try {
    outcome = await request();
  } catch (error) {
    outcome = error instanceof Error ? error.name : "error";
  }
  recorder.record(performance.now() - start, outcome);
}
