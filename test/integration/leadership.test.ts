// Leadership among replicas by a PostgreSQL advisory lock (src/scheduler/advisory-lock-leadership.ts),
// against the run's throwaway database: one leader at a time, failover when the leader stops or its
// session dies, deployments in other schemas unaffected. The replicas' tries run on a simulated clock
// (test/helpers/manual-clock.ts): a test moves them on round by round and waits for each try to be over,
// rather than sleeping and hoping they tried meanwhile.
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { advisoryLockLeadership, leaderLockKey } from "../../src/scheduler/advisory-lock-leadership.js";
import type { Leadership } from "../../src/scheduler/leadership.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { freshSchema } from "../helpers/postgres.js";
import { testLog } from "../helpers/probot.js";

const RETRY_MS = 1000;
/** For waits on PostgreSQL: generous, so a loaded machine does not fail them. */
const IO = { timeout: 10_000, interval: 10 };
let started: Leadership[] = [];
let clock: ManualClock;

beforeEach(() => {
  clock = new ManualClock();
});

function replica(url: string, scope: string): Leadership {
  const leadership = advisoryLockLeadership({ connectionString: url, scope, retryMs: RETRY_MS, log: testLog, schedule: clock.schedule });
  started.push(leadership);
  return leadership;
}

afterEach(async () => {
  await Promise.all(started.map((leadership) => leadership.stop()));
  started = [];
});

const leaders = (replicas: Leadership[]) => replicas.filter((candidate) => candidate.isLeader()).length;

/**
 * One more try of every running replica: once each has its next try scheduled (which it does when a try is
 * over), moves the clock to it and waits until every one of them is over.
 */
async function nextRound(running: Leadership[]): Promise<void> {
  await expect.poll(() => clock.pending, IO).toBe(running.length);
  expect(clock.advance(RETRY_MS)).toBe(running.length);
  await expect.poll(() => clock.pending, IO).toBe(running.length);
}

/** Rounds of tries until `condition` holds (at most `maxRounds`). */
async function roundsUntil(running: Leadership[], condition: () => boolean, maxRounds = 20): Promise<void> {
  for (let round = 0; !condition(); round += 1) {
    if (round === maxRounds) throw new Error(`still not so after ${maxRounds} rounds of tries`);
    await nextRound(running);
  }
}

describe("advisory-lock leadership", () => {
  it("elects exactly one of three replicas, and another one once the leader stops", async () => {
    const { url, schema } = freshSchema();
    const replicas = [replica(url, schema), replica(url, schema), replica(url, schema)];
    await expect.poll(() => leaders(replicas), IO).toBe(1);
    const leader = replicas.find((candidate) => candidate.isLeader())!;
    // It stays one, the same: the followers keep trying the lock and keep failing, the leader keeps it.
    for (let round = 0; round < 5; round += 1) {
      await nextRound(replicas);
      expect(replicas.map((candidate) => candidate.isLeader())).toEqual(replicas.map((candidate) => candidate === leader));
    }
    const changes: boolean[] = [];
    leader.onChange((leading) => changes.push(leading));
    await leader.stop();
    expect(leader.isLeader()).toBe(false);
    expect(changes).toEqual([false]);
    // The lock is free at the followers' next try: one of them takes it.
    const followers = replicas.filter((candidate) => candidate !== leader);
    expect(leaders(followers)).toBe(0);
    await nextRound(followers);
    expect(leaders(followers)).toBe(1);
  });

  it("fails over when the leader's session dies (a killed process): its lock is released, it stops leading, another leads", async () => {
    const { url, schema } = freshSchema();
    const first = replica(url, schema);
    await expect.poll(() => first.isLeader(), IO).toBe(true);
    const firstChanges: boolean[] = [];
    first.onChange((leading) => firstChanges.push(leading));
    const second = replica(url, schema);
    // The second replica's first try is over (it schedules the next): the lock is taken, it follows.
    await expect.poll(() => clock.pending, IO).toBe(2);
    expect(second.isLeader()).toBe(false);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // What PostgreSQL does when the leader's process is gone: the session holding the lock ends.
      const terminated = await admin.query(
        // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND classid::bigint = (($1::bigint >> 32) & 4294967295) AND objid::bigint = ($1::bigint & 4294967295)`,
        [leaderLockKey(schema)],
      );
      expect(terminated.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    // The old leader notices its session is gone (its connection fails) and stops leading; then one leads again.
    await roundsUntil([first, second], () => firstChanges.includes(false));
    expect(firstChanges[0]).toBe(false);
    await roundsUntil([first, second], () => leaders([first, second]) === 1);
    expect(first.isLeader() && second.isLeader()).toBe(false);
  });

  it("gives each deployment (schema) its own leader", async () => {
    const a = freshSchema();
    const b = freshSchema();
    const replicas = [replica(a.url, a.schema), replica(b.url, b.schema)];
    await expect.poll(() => leaders(replicas), IO).toBe(2);
  });
});
