// The PostgreSQL store against the Store contract (test/contract/store-contract.ts): a fresh schema per
// test in the run's throwaway database (test/setup/postgres.ts), migrated by the store as it opens, and a
// second store on the same schema to check what was committed. Migrating an empty schema takes a few
// milliseconds, so each test simply pays for it.
import { afterEach } from "vitest";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import type { Store } from "../../src/store/store.js";
import { describeStoreContract } from "../contract/store-contract.js";
import { freshSchema } from "../helpers/postgres.js";

const schemas = new Map<Store, { url: string; schema: string }>();
let opened: Store[] = [];

async function open(target: { url: string; schema: string }): Promise<Store> {
  // Small pools: every test opens two stores, and test files run in parallel against one server.
  const store = await openPostgresStore({ connectionString: target.url, schema: target.schema, poolSize: 4 });
  schemas.set(store, target);
  opened.push(store);
  return store;
}

afterEach(async () => {
  // Closing a closed store is harmless (the contract closes some itself).
  const closing = opened;
  opened = [];
  schemas.clear();
  await Promise.all(closing.map((store) => store.close()));
});

describeStoreContract("PostgreSQL", () => open(freshSchema()), {
  reconnect: (store) => {
    const target = schemas.get(store);
    if (target === undefined) throw new Error("not a store of this suite");
    return open(target);
  },
});
