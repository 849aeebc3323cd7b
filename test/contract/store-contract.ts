// The Store contract: what every Store implementation (src/store/store.ts) must do, whatever it keeps
// its state in. It speaks only through the Store interface (no SQL, no driver), passes every time
// explicitly, and is deterministic. An implementation registers it from a test file of its own:
//
//   describeStoreContract("SQLite", () => openSqliteStore(tempDir()), { reconnect: … });
//
// The implementation's own test files keep only what is specific to it (schema migrations, query
// plans, file layout, crash behaviour).
import { beforeEach, describe } from "vitest";
import type { Store } from "../../src/store/store.js";
import { describeDeliveriesAndOutbox } from "./deliveries-outbox.js";
import { describeFacts } from "./facts.js";
import { describeJobsAndHud } from "./jobs-hud.js";
import { describeRetention } from "./retention.js";
import { describeTransactions } from "./transactions.js";

export interface StoreContractOptions {
  /**
   * Another store on the same data (a second connection), through which the contract checks that writes
   * were committed and read back from storage rather than from the first store's memory. Stores it
   * returns are the caller's to close, like those `open` returns. Without it, the contract reads back
   * through the same store.
   */
  reconnect?: (store: Store) => Store | Promise<Store>;
}

/** What each area of the contract registers its tests with. */
export interface StoreContractContext {
  /** The store under test: a new, empty one for each test (read it in tests and hooks, not while registering). */
  readonly store: Store;
  /** The store's data as storage has it: through a second connection when the implementation offers one. */
  stored(): Promise<Store>;
  readonly options: StoreContractOptions;
}

/**
 * Registers the contract's tests for one implementation. `open` gives a new, empty store for each test;
 * closing it afterwards is the caller's (the contract closes some itself, so closing twice must be harmless).
 */
export function describeStoreContract(name: string, open: () => Store | Promise<Store>, options: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let current: Store | undefined;
    beforeEach(async () => {
      current = await open();
    });

    const ctx: StoreContractContext = {
      get store(): Store {
        if (!current) throw new Error("no store: read it in a test or hook");
        return current;
      },
      stored: async () => (options.reconnect ? options.reconnect(ctx.store) : ctx.store),
      options,
    };

    describeDeliveriesAndOutbox(ctx);
    describeJobsAndHud(ctx);
    describeFacts(ctx);
    describeTransactions(ctx);
    describeRetention(ctx);
  });
}
