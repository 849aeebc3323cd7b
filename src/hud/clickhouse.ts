// The one way the relay reaches ClickHouse: a server over HTTP (CLICKHOUSE_URL) or embedded chDB under
// DATA_DIR, both through @clickhouse/client, so the same SQL runs on both. The connection is opened
// (and the schema migrated) on first use and re-opened after a failure, so an outage at startup or later
// only delays the HUD. The crcr export's table (CRCR_CLICKHOUSE_URL, src/export/) is reached the same way.
import { mkdirSync } from "node:fs";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import type { RelayConfig } from "../config.js";
import type { ClickHouseLogOption } from "../logging.js";
import { migrateHud } from "./migrations.js";

export type ClickHouseTarget = RelayConfig["clickhouse"];

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

// chdb is optional: the relay builds and runs without it (imported by a specifier held in a variable,
// so TypeScript does not resolve it), and these are the two entry points it uses.
const CHDB = "chdb";
const CHDB_CONNECTION = "chdb/connection";
interface ChdbConnectionModule {
  createChdbConnection(options: { path: string }): unknown;
}
interface ChdbModule {
  drainPending(): Promise<void>;
}

export interface HudDatabase {
  client: ClickHouseClient;
  /** Database holding the HUD tables (a validated identifier, safe to put in SQL). */
  database: string;
}

export class ChdbMissingError extends Error {
  override readonly name = "ChdbMissingError";
}

/**
 * Opens the client (no query yet). chDB is an optional dependency: without it, only a server works.
 * `log`: the client's own log lines go to the relay's logger (src/logging.ts); without it, to the console.
 */
export async function openClickHouse(target: ClickHouseTarget, log?: ClickHouseLogOption): Promise<ClickHouseClient> {
  if (target.kind === "server") {
    return createClient({
      url: target.url,
      username: target.user,
      password: target.password,
      request_timeout: 30_000,
      application: "cross-repo-ci-relay",
      ...(log && { log }),
    });
  }
  let chdb: ChdbConnectionModule;
  try {
    chdb = (await import(CHDB_CONNECTION)) as ChdbConnectionModule;
  } catch (error) {
    throw new ChdbMissingError(
      `the embedded ClickHouse needs the optional package "chdb", which could not be loaded (${(error as Error).message}); ` +
        "install it with `npm install chdb` (Linux x64/arm64 and macOS), or set CLICKHOUSE_URL to use a ClickHouse server",
    );
  }
  mkdirSync(target.path, { recursive: true });
  // chdb implements @clickhouse/client's Connection interface (declared in @clickhouse/client-common).
  const connection = chdb.createChdbConnection({ path: target.path }) as ClientConnection;
  return createClient({ connection, ...(log && { log }) });
}

/**
 * A ClickHouse database, connected and prepared (`prepare`: migrated, or checked) on first use. A failed
 * open or a failure reported by a user (`reset`) closes the client; the next `get` opens a new one.
 */
export class ClickHouseConnection {
  #opening: Promise<HudDatabase> | undefined;
  #closed = false;

  constructor(
    private readonly target: ClickHouseTarget,
    private readonly prepare: (client: ClickHouseClient, database: string) => Promise<unknown>,
    private readonly log?: ClickHouseLogOption,
  ) {}

  get database(): string {
    return this.target.database;
  }

  get(): Promise<HudDatabase> {
    if (this.#closed) return Promise.reject(new Error("the HUD connection is closed"));
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  async #open(): Promise<HudDatabase> {
    const client = await openClickHouse(this.target, this.log);
    try {
      await this.prepare(client, this.target.database);
      return { client, database: this.target.database };
    } catch (error) {
      await closeQuietly(client);
      await releaseEmbedded(this.target);
      throw error;
    }
  }

  /** After a failed query or insert: drop the client so the next `get` reconnects. */
  async reset(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    const open = await opening?.catch(() => undefined);
    if (open) await closeQuietly(open.client);
    await releaseEmbedded(this.target);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.reset();
  }
}

/** The HUD's database, migrated to the HUD's schema on first use. */
export class HudConnection extends ClickHouseConnection {
  constructor(target: ClickHouseTarget, retentionDays: number, log?: ClickHouseLogOption) {
    super(target, (client, database) => migrateHud(client, database, retentionDays), log);
  }
}

async function closeQuietly(client: ClickHouseClient): Promise<void> {
  await client.close().catch(() => undefined);
}

/** chDB binds one data directory per process: wait until a closed session is really gone. */
async function releaseEmbedded(target: ClickHouseTarget): Promise<void> {
  if (target.kind !== "embedded") return;
  const chdb = (await import(CHDB).catch(() => undefined)) as ChdbModule | undefined;
  await chdb?.drainPending();
}
