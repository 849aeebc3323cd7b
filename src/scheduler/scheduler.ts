// A small runner for periodic jobs: each runs once at start, then every interval, on unref'd timers (they
// never keep the process alive). A failing job is logged and keeps its schedule; a job still running when
// its next turn comes is not started again (a periodic job never overlaps itself). stop() clears every timer.
import type { Logger } from "pino";

export type Job = () => Promise<unknown>;

export interface Scheduler {
  /** Runs `job` now and every `ms` milliseconds until stop(). `name` labels its failures in the log. */
  every(name: string, ms: number, job: Job): void;
  /** Clears every timer; a run in progress finishes on its own. */
  stop(): void;
}

export function createScheduler(log: Pick<Logger, "warn">): Scheduler {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  return {
    every(name, ms, job) {
      if (stopped) return;
      let running = false;
      const run = () => {
        if (running) return;
        running = true;
        // A job that throws instead of rejecting fails the same way.
        void new Promise((resolve) => resolve(job()))
          .catch((error: unknown) => log.warn({ job: name, err: String(error) }, "background job failed"))
          .finally(() => {
            running = false;
          });
      };
      run();
      const timer = setInterval(run, ms);
      timer.unref();
      timers.push(timer);
    },
    stop() {
      stopped = true;
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
