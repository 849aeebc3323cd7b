// Leadership among replicas by a PostgreSQL advisory lock (src/scheduler/advisory-lock-leadership.ts),
// against the run's throwaway database: one leader at a time, failover when the leader stops or its
// session dies, deployments in other schemas unaffected.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { advisoryLockLeadership, leaderLockKey } from "../../src/scheduler/advisory-lock-leadership.js";
import type { Leadership } from "../../src/scheduler/leadership.js";
import { freshSchema } from "../helpers/postgres.js";
import { testLog } from "../helpers/probot.js";

const RETRY_MS = 50;
let started: Leadership[] = [];

function replica(url: string, scope: string): Leadership {
  const leadership = advisoryLockLeadership({ connectionString: url, scope, retryMs: RETRY_MS, log: testLog });
  started.push(leadership);
  return leadership;
}

afterEach(async () => {
  await Promise.all(started.map((leadership) => leadership.stop()));
  started = [];
});

const leaders = (replicas: Leadership[]) => replicas.filter((candidate) => candidate.isLeader()).length;

describe("advisory-lock leadership", () => {
  it("elects exactly one of three replicas, and another one once the leader stops", async () => {
    const { url, schema } = freshSchema();
    const replicas = [replica(url, schema), replica(url, schema), replica(url, schema)];
    await expect.poll(() => leaders(replicas), { timeout: 10_000 }).toBe(1);
    // It stays one: the followers keep trying the lock and keep failing.
    for (let check = 0; check < 5; check += 1) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      expect(leaders(replicas)).toBe(1);
    }
    const leader = replicas.find((candidate) => candidate.isLeader())!;
    const changes: boolean[] = [];
    leader.onChange((leading) => changes.push(leading));
    await leader.stop();
    expect(leader.isLeader()).toBe(false);
    await expect.poll(() => leaders(replicas.filter((candidate) => candidate !== leader)), { timeout: 10_000 }).toBe(1);
  });

  it("fails over when the leader's session dies (a killed process): its lock is released, it stops leading, another leads", async () => {
    const { url, schema } = freshSchema();
    const first = replica(url, schema);
    await expect.poll(() => first.isLeader(), { timeout: 10_000 }).toBe(true);
    const second = replica(url, schema);
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
    await expect.poll(() => [first.isLeader(), second.isLeader()].filter(Boolean).length, { timeout: 10_000 }).toBe(1);
    expect(first.isLeader() && second.isLeader()).toBe(false);
  });

  it("gives each deployment (schema) its own leader", async () => {
    const a = freshSchema();
    const b = freshSchema();
    const replicas = [replica(a.url, a.schema), replica(b.url, b.schema)];
    await expect.poll(() => leaders(replicas), { timeout: 10_000 }).toBe(2);
  });
});
