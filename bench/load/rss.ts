// Peak RSS of this process (the relay runs in it) while a scenario runs, sampled every 250 ms.
const SAMPLE_MS = 250;
const MiB = 1024 * 1024;

export interface RssSampler {
  /** Stops sampling; returns the highest RSS seen, in MiB. */
  stop(): number;
}

export function sampleRss(): RssSampler {
  let max = process.memoryUsage().rss;
  const timer = setInterval(() => (max = Math.max(max, process.memoryUsage().rss)), SAMPLE_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.round(Math.max(max, process.memoryUsage().rss) / MiB);
    },
  };
}
