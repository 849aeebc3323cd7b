// `cross-repo-ci-relay backup <dest-dir>`: an online, consistent copy of a relay's SQLite store, made with
// SQLite's backup API while the relay keeps running, and checked before it is called a backup.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import Database from "better-sqlite3";
import { z } from "zod";
import { DATABASE_FILE } from "../store/sqlite-store.js";
import { CLI_NAME, defineCommand, EXIT_FAILURE, EXIT_OK } from "./command.js";

/** The one step the copy is made in (SQLite clamps it to what is left). */
const ALL_PAGES = 0x7fffffff;

/** The variables the server reads, from its environment, else from `.env` in the working directory as `npm start` does. */
function relaySetting(name: "DATA_DIR" | "DATABASE_URL" | "CLICKHOUSE_URL"): string | undefined {
  const value = process.env[name] || (existsSync(".env") ? parseEnv(readFileSync(".env", "utf8"))[name] : undefined);
  return value || undefined;
}

export const backup = defineCommand({
  name: "backup",
  args: "<dest-dir> [--data-dir DIR]",
  summary: "copy a running relay's SQLite store, consistent and checked",
  details: [
    "Copies <DATA_DIR>/relay.sqlite into <dest-dir>/relay.sqlite with SQLite's online backup API: the",
    "relay keeps running, and the copy is the store as it was at one moment. The copy must then pass",
    "PRAGMA integrity_check. <dest-dir> is created; if it exists it must be empty.",
    "",
    "  --data-dir DIR  the relay's DATA_DIR (default: $DATA_DIR, else DATA_DIR in ./.env, else ./data)",
    "",
    "Not copied: the embedded ClickHouse (<DATA_DIR>/clickhouse), which is copied only while the relay is",
    "stopped. With DATABASE_URL set the state is in PostgreSQL: use pg_dump. Restoring, and both of",
    "these: docs/deploy.md, \"Backups\".",
    "",
    "Exits 1 when there is nothing to copy, <dest-dir> is not empty, DATABASE_URL is set, or the copy",
    "fails its check.",
  ].join("\n"),
  options: { "data-dir": { type: "string" } },
  schema: z
    .object({
      positionals: z
        .array(z.string().min(1, "<dest-dir> must not be empty"))
        .length(1, "takes one argument, the directory to write the backup to"),
      "data-dir": z.string().min(1, "--data-dir must not be empty").optional(),
    })
    .transform(({ positionals, "data-dir": dataDir }) => ({ dest: path.resolve(positionals[0]!), dataDir })),
  async run({ dest, dataDir: given }) {
    const refuse = (message: string) => {
      process.stderr.write(`${CLI_NAME} backup: ${message}\n`);
      return EXIT_FAILURE;
    };
    if (relaySetting("DATABASE_URL")) {
      return refuse("DATABASE_URL is set: this relay keeps its state in PostgreSQL, not in SQLite; back it up with `pg_dump -Fc` (docs/deploy.md)");
    }
    const dataDir = path.resolve(given ?? relaySetting("DATA_DIR") ?? "./data");
    const source = path.join(dataDir, DATABASE_FILE);
    if (!existsSync(source)) {
      return refuse(`no relay store at ${source}; give the relay's DATA_DIR with --data-dir (or DATA_DIR)`);
    }
    if (existsSync(dest)) {
      if (!statSync(dest).isDirectory()) return refuse(`${dest} is not a directory; name a new or empty directory`);
      if (readdirSync(dest).length > 0) return refuse(`${dest} is not empty; name a new or empty directory`);
    }

    const started = Date.now();
    const target = path.join(dest, DATABASE_FILE);
    const problem = await copyStore(source, dest, target);
    if (problem) return refuse(problem);
    const { check, version } = checkCopy(target);
    if (check.length !== 1 || check[0] !== "ok") {
      return refuse(`the copy at ${target} failed PRAGMA integrity_check; do not use it:\n  ${check.slice(0, 10).join("\n  ")}`);
    }

    const mib = (statSync(target).size / 1024 / 1024).toFixed(1);
    const lines = [
      `wrote ${target}`,
      `  from ${source}, online (the store as it was at one moment), in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `  ${mib} MiB, schema version ${version ?? "none"}, PRAGMA integrity_check: ok`,
    ];
    const chdb = path.join(dataDir, "clickhouse");
    if (!relaySetting("CLICKHOUSE_URL") && existsSync(chdb)) {
      lines.push(`  not copied: ${chdb} (the embedded ClickHouse): copy it only while the relay is stopped (docs/deploy.md, "Backups")`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT_OK;
  },
});

/** Copies the store at `source` into `target` (creating `dest`); returns what went wrong, if anything. */
async function copyStore(source: string, dest: string, target: string): Promise<string | undefined> {
  let db: Database.Database | undefined;
  try {
    // Not read-only: a read-only connection that is the last one leaves the -wal and -shm files behind
    // (owned by whoever ran this); a read-write one removes them on close, as the relay does. It writes nothing.
    db = new Database(source, { fileMustExist: true, timeout: 5000 });
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()) {
      return `${source} is not a relay store (it has no schema_migrations table)`;
    }
    mkdirSync(dest, { recursive: true });
    // In steps, a write by the relay (another connection) between two steps restarts the copy, and a
    // busy relay writes every few milliseconds; one step reads a single snapshot, which in WAL mode
    // holds up none of the relay's writes.
    await db.backup(target, { progress: () => ALL_PAGES });
    return undefined;
  } catch (error) {
    return `could not copy ${source}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    db?.close();
  }
}

/** The copy's PRAGMA integrity_check answer ("ok" alone when sound) and its schema version. */
function checkCopy(target: string): { check: string[]; version: number | null } {
  const copy = new Database(target, { fileMustExist: true });
  try {
    return {
      check: copy.prepare<[], string>("PRAGMA integrity_check").pluck().all(),
      version: copy.prepare<[], number | null>("SELECT max(version) FROM schema_migrations").pluck().get() ?? null,
    };
  } finally {
    copy.close();
  }
}
