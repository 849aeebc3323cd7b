// A clock that moves only when a test says so, for code that takes its time and its timers as options
// (the outbox worker's `now` and `schedule`, the leader election's `schedule`): time is `now()`, a timer
// is a wake recorded by `schedule`, and `advance(ms)` moves time on and fires the wakes that fall due.
//
// Why not vi.useFakeTimers: it replaces the process's globals, and these tests share the process with
// real I/O that must keep its real time. Faking Date or setTimeout also freezes the GitHub stand-in (its
// scripted delays are setTimeout, its receivedAt and write window are Date.now), node-postgres's
// connection timeouts and the HTTP client's timers; faking setImmediate stalls the worker itself (notify()
// looks on the next turn). `toFake` can narrow that to a few globals, but any global faked is faked for
// every one of those, and a request that happens to wait on one would hang until a test advanced it.
// Injected, the simulated time reaches the code under test and nothing else.
//
// Nothing here runs by itself: a wake fires only inside advance() (advance(0) fires those due now), never
// when it is scheduled, so a test sees the state between two wakes. What a wake starts asynchronously (a
// look at the store, a request) runs on the real event loop afterwards: wait for its outcome, or for the
// code to be done with it (the worker's `idle`; a loop that schedules its next turn when a turn is over
// shows it in `pending`).
import type { Schedule } from "../../src/dispatch/outbox-worker.js";

interface Wake {
  at: number;
  /** Scheduling order: wakes due at the same instant fire in the order they were scheduled. */
  seq: number;
  wake: () => void;
}

/** More wakes than this in one advance means a wake keeps scheduling another for the same instant. */
const MAX_WAKES_PER_ADVANCE = 10_000;

export class ManualClock {
  #now: number;
  #wakes: Wake[] = [];
  #seq = 0;

  /** Starts at `start` (epoch ms; default the real time now). */
  constructor(start: number = Date.now()) {
    if (!Number.isFinite(start)) throw new RangeError(`ManualClock: start must be a finite epoch ms, not ${start}`);
    this.#now = start;
  }

  /** The simulated time (epoch ms). A bound function: pass it as it is (`now: clock.now`). */
  readonly now = (): number => this.#now;

  /**
   * Records `wake` to fire `delayMs` from now (a negative or non-finite delay counts as 0); returns how to
   * cancel it (idempotent; harmless after it fired). A bound function, of the worker's Schedule type.
   */
  readonly schedule: Schedule = (wake, delayMs) => {
    const entry: Wake = { at: this.#now + (Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0), seq: this.#seq++, wake };
    this.#wakes.push(entry);
    return () => {
      this.#wakes = this.#wakes.filter((other) => other !== entry);
    };
  };

  /**
   * Moves time forward by `ms` and fires every wake due by then, earliest first (same instant: in the order
   * they were scheduled), with now() at each wake's due time while it runs; a wake that a wake schedules
   * within the span fires too. Ends at now + ms and returns how many wakes fired. A wake that throws stops
   * the advance there (the clock stays at that wake's time, later wakes stay pending) and the error propagates.
   */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`ManualClock: cannot advance by ${ms} ms`);
    return this.advanceTo(this.#now + ms);
  }

  /** advance() to the epoch ms `at` (not before now). */
  advanceTo(at: number): number {
    if (!Number.isFinite(at) || at < this.#now) throw new RangeError(`ManualClock: cannot move from ${this.#now} back to ${at}`);
    let fired = 0;
    for (let next = this.#earliest(); next !== undefined && next.at <= at; next = this.#earliest()) {
      if (fired >= MAX_WAKES_PER_ADVANCE) throw new Error(`ManualClock: more than ${MAX_WAKES_PER_ADVANCE} wakes in one advance (a wake keeps rescheduling itself?)`);
      const due = next;
      this.#wakes = this.#wakes.filter((other) => other !== due);
      this.#now = Math.max(this.#now, due.at);
      fired += 1;
      due.wake();
    }
    this.#now = at;
    return fired;
  }

  /** When the earliest pending wake is due; undefined when none is pending. */
  nextWakeAt(): number | undefined {
    return this.#earliest()?.at;
  }

  /** Wakes scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.#wakes.length;
  }

  #earliest(): Wake | undefined {
    let earliest: Wake | undefined;
    for (const wake of this.#wakes) if (!earliest || wake.at < earliest.at || (wake.at === earliest.at && wake.seq < earliest.seq)) earliest = wake;
    return earliest;
  }
}
