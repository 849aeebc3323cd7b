// The SQLite store against the Store contract (test/contract/store-contract.ts): one fresh file per test,
// and a second connection to the same file to check what was committed. Each test's file is a copy of
// one migrated empty database, so the contract does not pay for the migrations (and their fsyncs) once
// per test; opening a new file is covered by sqlite-store.test.ts.
import { copyFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { describeStoreContract } from "../contract/store-contract.js";
import { tempDir } from "../helpers/server.js";

const dirs = new Map<Store, string>();
const created: string[] = [];
let opened: Store[] = [];
let template: string;

function track(store: Store, dir: string): Store {
  dirs.set(store, dir);
  opened.push(store);
  return store;
}

beforeAll(async () => {
  template = tempDir("relay-store-contract-");
  created.push(template);
  await openSqliteStore(template).close();
});
afterEach(async () => {
  // Closing a closed store is harmless (the contract closes some itself).
  const closing = opened;
  opened = [];
  dirs.clear();
  await Promise.all(closing.map((store) => store.close()));
});
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

describeStoreContract(
  "SQLite",
  () => {
    const dir = tempDir("relay-store-contract-");
    created.push(dir);
    copyFileSync(path.join(template, DATABASE_FILE), path.join(dir, DATABASE_FILE));
    return track(openSqliteStore(dir), dir);
  },
  {
    reconnect: (store) => {
      const dir = dirs.get(store);
      if (dir === undefined) throw new Error("not a store of this file");
      return track(openSqliteStore(dir), dir);
    },
  },
);
