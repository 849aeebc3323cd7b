// Fair share of one installation's write budget (pure). Every check run on the upstream repo is written
// with the upstream installation's token, so all backends draw on one budget; served oldest first, one
// backend's burst would hold every other backend's results back until it drained. Due tasks are taken
// round-robin across lanes (a check run's backend; a dispatch's downstream repo) instead, and within a
// lane final states go before intermediate ones, which a newer state replaces anyway.
import { checkKeyBackend } from "../checks/aggregate.js";
import type { OutboxTask } from "../store/store.js";

/** Installations remembered with the lane they served last (one per installation in practice). */
const MAX_REMEMBERED = 10_000;

/** Whom a task is sent for: a check run's backend, or a dispatch's downstream repo. */
export function fairShareLane(task: OutboxTask): string {
  const backend = task.kind === "check_run" ? checkKeyBackend(task.key) : undefined;
  return backend === undefined ? `repo:${task.repo.toLowerCase()}` : `backend:${backend}`;
}

export class FairShare {
  /** Installation key → the lane it served last; least recently served installations first. */
  readonly #lastServed = new Map<string, string>();

  /**
   * Due tasks in the order to try them: each installation keeps its places in the list but fills them
   * round-robin across its lanes, starting after the lane it served last.
   */
  order(due: readonly OutboxTask[], installationOf: (task: OutboxTask) => string): OutboxTask[] {
    const keys = due.map(installationOf);
    const queues = new Map<string, OutboxTask[]>();
    for (const [key, tasks] of groupBy(due, (_task, index) => keys[index] ?? "")) {
      queues.set(key, roundRobin(tasks, this.#lastServed.get(key)));
    }
    return keys.flatMap((key) => queues.get(key)?.shift() ?? []);
  }

  /** A task of `installation` was sent: its lane goes to the back of that installation's rotation. */
  served(installation: string, task: OutboxTask): void {
    this.#lastServed.delete(installation);
    this.#lastServed.set(installation, fairShareLane(task));
    if (this.#lastServed.size > MAX_REMEMBERED) this.#lastServed.delete(this.#lastServed.keys().next().value as string);
  }
}

/** One installation's tasks: lanes in name order from the one after `after`, one task per lane per turn. */
function roundRobin(tasks: readonly OutboxTask[], after: string | undefined): OutboxTask[] {
  const lanes = groupBy(tasks, fairShareLane);
  const names = [...lanes.keys()].sort();
  const start = Math.max(0, names.findIndex((name) => after === undefined || name > after));
  const queues = [...names.slice(start), ...names.slice(0, start)].map((name) => finalFirst(lanes.get(name) ?? []));
  const ordered: OutboxTask[] = [];
  for (let turn = 0; ordered.length < tasks.length; turn += 1) {
    for (const queue of queues) {
      const task = queue[turn];
      if (task) ordered.push(task);
    }
  }
  return ordered;
}

function finalFirst(tasks: readonly OutboxTask[]): OutboxTask[] {
  return [...tasks.filter(isFinal), ...tasks.filter((task) => !isFinal(task))];
}

/** Queued and in-progress check-run states are intermediate; a dispatch is always final. */
function isFinal(task: OutboxTask): boolean {
  return task.kind !== "check_run" || task.request.params.status === "completed";
}

function groupBy<T>(items: readonly T[], keyOf: (item: T, index: number) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  items.forEach((item, index) => {
    const key = keyOf(item, index);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  });
  return groups;
}
