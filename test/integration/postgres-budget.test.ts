// Rate budgets shared by replicas on one PostgreSQL (src/limits/postgres-window.ts), against the run's
// throwaway database: two stores stand for two replicas acquiring at the same time.
import { afterEach, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres-store.js";
import { freshSchema } from "../helpers/postgres.js";

let opened: PostgresStore[] = [];
afterEach(async () => {
  await Promise.all(opened.map((store) => store.close()));
  opened = [];
});

async function replicas(count: number): Promise<PostgresStore[]> {
  const target = freshSchema();
  // One first, so the others find the schema migrated.
  const first = await openPostgresStore({ connectionString: target.url, schema: target.schema });
  const rest = await Promise.all(Array.from({ length: count - 1 }, () => openPostgresStore({ connectionString: target.url, schema: target.schema })));
  opened.push(first, ...rest);
  return [first, ...rest];
}

const NOW = 1_800_000_000_000;
const WINDOWS = [{ ms: 60_000, limit: 10 }, { ms: 3_600_000, limit: 25 }];

describe("a rate budget shared by replicas", () => {
  it("grants exactly the limit across replicas acquiring at once, and says how long to wait", async () => {
    const budgets = (await replicas(3)).map((store) => store.rateBudget<number>("writes", WINDOWS));
    const waits = await Promise.all(Array.from({ length: 30 }, async (_, i) => budgets[i % 3]!.tryAcquire(42, NOW + (i % 5))));
    expect(waits.filter((wait) => wait === 0)).toHaveLength(10);
    for (const wait of waits.filter((candidate) => candidate > 0)) expect(wait).toBeGreaterThan(60_000 - 10);
  });

  it("frees slots as events leave the window, up to the longest window's limit; keys and scopes are apart", async () => {
    const [a, b] = await replicas(2);
    const writes = [a!.rateBudget<number>("writes", WINDOWS), b!.rateBudget<number>("writes", WINDOWS)];
    const granted = async (key: number, at: number, tries: number) => {
      let count = 0;
      for (let i = 0; i < tries; i += 1) if ((await writes[i % 2]!.tryAcquire(key, at)) === 0) count += 1;
      return count;
    };
    expect(await granted(1, NOW, 12)).toBe(10);
    expect(await granted(1, NOW + 60_001, 12)).toBe(10);
    // 20 in the hour so far: the hour's limit (25) leaves 5.
    expect(await granted(1, NOW + 120_002, 12)).toBe(5);
    expect(await granted(2, NOW, 3)).toBe(3);
    const callbacks = a!.rateBudget<string>("callbacks", [{ ms: 60_000, limit: 1 }]);
    expect(await callbacks.tryAcquire("1", NOW)).toBe(0);
    expect(await callbacks.tryAcquire("1", NOW)).toBe(60_000);
  });

  it("holds every replica off a key GitHub told one of them to wait for, until then", async () => {
    const [a, b] = await replicas(2);
    const writes = [a!.rateBudget<number>("writes", WINDOWS), b!.rateBudget<number>("writes", WINDOWS)];
    await writes[0]!.block!(7, NOW + 30_000);
    await writes[0]!.block!(7, NOW + 10_000); // an earlier end never shortens the wait
    expect(await writes[1]!.tryAcquire(7, NOW)).toBe(30_000);
    expect(await writes[1]!.tryAcquire(8, NOW)).toBe(0);
    expect(await writes[1]!.tryAcquire(7, NOW + 30_000)).toBe(0);
  });
});
