// A small runner for periodic jobs: each runs once at start, then every interval, on unref'd timers (they
// never keep the process alive). A failing job is logged and keeps its schedule; a job still running when
// its next turn comes is not started again (a periodic job never overlaps itself). A job can also be run on
// demand (say, when a new allowlist arrives): then once more right after a run in progress. stop() clears
// every timer.
import type { Logger } from "pino";

export type Job = () => Promise<unknown>;

export interface Scheduler {
  /**
   * Runs `job` now and every `ms` milliseconds until stop(). `name` labels its failures in the log.
   * Returns how to run it on demand: now, or once more as soon as the run in progress ends.
   */
  every(name: string, ms: number, job: Job): () => void;
  /** Clears every timer; a run in progress finishes on its own. */
  stop(): void;
}

export function createScheduler(log: Pick<Logger, "warn">): Scheduler {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  return {
    every(name, ms, job) {
      let running = false;
      let again = false;
      const run = () => {
        running = true;
        // A job that throws instead of rejecting fails the same way.
        void new Promise((resolve) => resolve(job()))
          .catch((error: unknown) => log.warn({ job: name, err: String(error) }, "background job failed"))
          .finally(() => {
            running = false;
            if (again && !stopped) {
              again = false;
              run();
            }
          });
      };
      const onDemand = () => {
        if (stopped) return;
        if (running) again = true;
        else run();
      };
      if (stopped) return onDemand;
      run();
      const timer = setInterval(() => {
        if (!running) run();
      }, ms);
      timer.unref();
      timers.push(timer);
      return onDemand;
    },
    stop() {
      stopped = true;
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
