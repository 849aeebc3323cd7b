// What is specific to the PostgreSQL store (the Store contract covers the rest:
// postgres-store-contract.test.ts): migrations when replicas start together or meet a newer schema,
// claims made by two replicas at once, and read-modify-write transactions racing on one row.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { openPostgresStore, SCHEMA_VERSION } from "../../src/store/postgres-store.js";
import { Transactions } from "../../src/store/postgres/transaction.js";
import type { Store } from "../../src/store/store.js";
import { freshSchema } from "../helpers/postgres.js";
import { delivery, NOW, work } from "../helpers/store-fixtures.js";

let opened: Store[] = [];

async function open(target: { url: string; schema: string }, poolSize = 4): Promise<Store> {
  const store = await openPostgresStore({ connectionString: target.url, schema: target.schema, poolSize });
  opened.push(store);
  return store;
}

/** Runs `query` on the schema with a connection of its own. */
async function query<R extends pg.QueryResultRow>(target: { url: string; schema: string }, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: target.url, options: `-c search_path=${target.schema}` });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  const closing = opened;
  opened = [];
  await Promise.all(closing.map((store) => store.close()));
});

describe("PostgreSQL store: migrations", () => {
  it("creates the schema and migrates it once when several stores open it at the same time", async () => {
    const target = freshSchema();
    const [first, , third] = await Promise.all([open(target), open(target), open(target)]);
        const versions = await query<{ version: number; count: string }>(
      target,
      "SELECT version, count(*) AS count FROM schema_migrations GROUP BY version ORDER BY version",
    );
    expect(versions).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, index) => ({ version: index + 1, count: "1" })));
    // The tables are in the schema asked for, and every store works on them.
    const tables = await query<{ table_name: string }>(target, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [target.schema]);
    expect(tables.map((row) => row.table_name)).toContain("outbox");
    await first.rememberDelivery(delivery("d1"), NOW);
    expect(await third.hasDelivery("d1")).toBe(true);
  });

  it("opens an up-to-date schema again without migrating it", async () => {
    const target = freshSchema();
    await (await open(target)).close();
    const before = await query(target, "SELECT version, applied_at FROM schema_migrations ORDER BY version");
    await open(target);
    expect(await query(target, "SELECT version, applied_at FROM schema_migrations ORDER BY version")).toEqual(before);
  });

  it("refuses a schema newer than it knows, with a clear message", async () => {
    const target = freshSchema();
    await (await open(target)).close();
    await query(target, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", [SCHEMA_VERSION + 1]);
    await expect(open(target)).rejects.toThrow(
      `the database has schema version ${SCHEMA_VERSION + 1}, newer than this relay knows (${SCHEMA_VERSION})`,
    );
  });

  it("refuses a schema name that is not a plain lower-case identifier", async () => {
    const { url } = freshSchema();
    for (const schema of ['x"; DROP TABLE y; --', "Upper", "1abc", ""]) {
      await expect(openPostgresStore({ connectionString: url, schema })).rejects.toThrow(/invalid PostgreSQL schema name/);
    }
  });
});

describe("PostgreSQL store: text it refuses", () => {
  it("stores U+0000 (which PostgreSQL text and jsonb refuse) as U+FFFD, raw or JSON-escaped, and leaves an escaped backslash alone", async () => {
    const store = await open(freshSchema());
    const head = { upstreamRepo: "Up/Stream", headSha: "a".repeat(40), prNumber: 7, state: "superseded" as const, stateChangedAt: 1 };
    await store.putHead({ ...head, supersededBy: "b\u0000c", labels: ["x\u0000y", "literal \\u0000 text"] });
    expect(await store.head(head)).toMatchObject({ supersededBy: "b\uFFFDc", labels: ["x\uFFFDy", "literal \\u0000 text"] });
  });
});

describe("PostgreSQL store: outbox", () => {
  it("dead-letters a stored request it cannot read instead of offering it", async () => {
    const target = freshSchema();
    const store = await open(target);
    await store.acceptDelivery(delivery("d1"), work("d1", ["acme/npu", "beta/xpu"]), NOW);
    await query(target, `UPDATE outbox SET request_json = '{"route": ""}' WHERE repo = 'acme/npu'`);
    expect((await store.dueTasks(NOW, 10)).map((task) => task.repo)).toEqual(["beta/xpu"]);
    expect(await store.outboxStats()).toMatchObject({ pending: 1, dead: 1 });
    expect(await store.dispatchLog("d1")).toMatchObject([{ downstreamRepo: "acme/npu", outcome: "dead", reason: "unreadable_request" }, { outcome: "pending" }]);
  });
});

describe("PostgreSQL store: replicas", () => {
  it("never gives a task to two replicas claiming due tasks at the same time", async () => {
    const target = freshSchema();
    const [a, b] = await Promise.all([open(target), open(target)]);
    const repos = Array.from({ length: 50 }, (_, index) => `acme/r${index}`);
    await a.acceptDelivery(delivery("d1"), work("d1", repos), NOW);

    /** What a replica's outbox worker does: take a window of due tasks, claim them, until nothing is due. */
    async function drain(store: Store, owner: string): Promise<number[]> {
      const mine: number[] = [];
      for (;;) {
        const due = await store.dueTasks(NOW, 7);
        if (due.length === 0) return mine;
        mine.push(...(await store.claimTasks(due.map((task) => task.id), owner, NOW, 60_000)));
      }
    }
    const [byA, byB] = await Promise.all([drain(a, "replica-a"), drain(b, "replica-b")]);
    expect(byA.filter((id) => byB.includes(id))).toEqual([]);
    expect(byA.length + byB.length).toBe(50);
    const owners = await query<{ owner: string; count: string }>(
      target,
      "SELECT lease_owner AS owner, count(*) AS count FROM outbox GROUP BY lease_owner ORDER BY lease_owner",
    );
    expect(owners.reduce((sum, row) => sum + Number(row.count), 0)).toBe(50);
    expect(owners.every((row) => row.owner !== null)).toBe(true);
  });

  it("runs racing read-modify-write transactions as if one after another (serialization failures are retried)", async () => {
    const target = freshSchema();
    const [a, b] = await Promise.all([open(target), open(target)]);
    const key = { upstreamRepo: "up/stream", headSha: "abc" };
    await a.putHead({ ...key, prNumber: 1, state: "open", stateChangedAt: 0 });
    // Each transaction reads the head and writes it back with stateChangedAt one higher: a lost update
    // would leave the count short.
    const bump = (store: Store) =>
      store.transaction(async (tx) => {
        const head = await tx.head(key);
        await tx.putHead({ ...head!, stateChangedAt: head!.stateChangedAt + 1 });
      });
    await Promise.all(Array.from({ length: 10 }, (_, index) => bump(index % 2 === 0 ? a : b)));
    expect((await a.head(key))?.stateChangedAt).toBe(10);
  });

  it("runs a unit that keeps losing to others alone from its fourth run, so it commits", async () => {
    const target = freshSchema();
    await open(target);
    await query(target, "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)");
    const pool = new pg.Pool({ connectionString: target.url, options: `-c search_path=${target.schema}`, max: 4 });
    const transactions = new Transactions(pool);
    try {
      /** Resolves once a unit waits for the gate (a run that holds it alone keeps the others waiting). */
      const someoneWaits = async () => {
        for (;;) {
          const [row] = await query<{ n: string }>(target, "SELECT count(*) AS n FROM pg_locks WHERE relation = 'transaction_gate'::regclass AND NOT granted");
          if (Number(row!.n) > 0) return "waiting" as const;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const others: Array<Promise<unknown>> = [];
      const seen: string[] = [];
      let runs = 0;
      await transactions.run(async (sql) => {
        runs += 1;
        await sql.row("SELECT n FROM counter");
        // Another unit writes the row this one read, between its read and its write: its write then fails
        // (40001) — unless this run holds the gate alone, when the other waits for it to commit.
        const other = transactions.run((otherSql) => otherSql.run("UPDATE counter SET n = n + 1"));
        others.push(other);
        seen.push(await Promise.race([other.then(() => "committed" as const), someoneWaits()]));
        await sql.run("UPDATE counter SET n = n + 100");
      });
      await Promise.all(others);
      expect(runs).toBe(4);
      expect(seen).toEqual(["committed", "committed", "committed", "waiting"]);
      // Three others before it, its own write once, the fourth other after it.
      expect((await query<{ n: number }>(target, "SELECT n FROM counter"))[0]!.n).toBe(104);
    } finally {
      await pool.end();
    }
  });
});
