// `cross-repo-ci-relay backup` as an operator runs it: the built CLI in a child process, copying a real
// relay store while another connection keeps writing to it, and refusing what it cannot back up.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { runNode, type Exit } from "../helpers/child.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "lib/cli/main.js");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "relay-backup-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process (whose writer must keep writing meanwhile). */
function backup(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  // cwd: a directory without .env, so the checkout's own settings stay out of it.
  return runNode([CLI, "backup", ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });
}

/** A relay store (every migration applied) under a new DATA_DIR. */
async function relayStore(name: string): Promise<string> {
  const dataDir = path.join(dir, name);
  await openSqliteStore(dataDir).close();
  return dataDir;
}

describe("backup", () => {
  it("copies a store while another connection keeps writing to it: one consistent snapshot, checked", async () => {
    const dataDir = await relayStore("busy");
    // The relay's settings on a second connection, as a running relay has them.
    const writer = new Database(path.join(dataDir, "relay.sqlite"));
    writer.pragma("journal_mode = WAL");
    writer.pragma("busy_timeout = 5000");
    writer.exec("CREATE TABLE probe_a (id INTEGER PRIMARY KEY, filler BLOB); CREATE TABLE probe_b (id INTEGER PRIMARY KEY)");
    // Every transaction writes one id to both tables: a consistent copy has the same ids in both.
    const insertA = writer.prepare("INSERT INTO probe_a (id, filler) VALUES (?, randomblob(4096))");
    const insertB = writer.prepare("INSERT INTO probe_b (id) VALUES (?)");
    let next = 0;
    const write = writer.transaction(() => {
      next += 1;
      insertA.run(next);
      insertB.run(next);
    });
    // About 24 MiB first, so the copy takes a while (thousands of pages).
    for (let i = 0; i < 6000; i += 1) write();
    const before = next;
    const busy = setInterval(() => {
      for (let i = 0; i < 20; i += 1) write();
    }, 1);

    const dest = path.join(dir, "busy-backup");
    const result = await backup([dest], { DATA_DIR: dataDir });
    clearInterval(busy);
    const after = next;
    writer.close();

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wrote ${path.join(dest, "relay.sqlite")}`);
    expect(result.stdout).toMatch(/schema version \d+, PRAGMA integrity_check: ok/);
    // The writer went on while the copy was made.
    expect(after).toBeGreaterThan(before);
    expect(readdirSync(dest)).toEqual(["relay.sqlite"]);

    const copy = new Database(path.join(dest, "relay.sqlite"), { readonly: true });
    try {
      expect(copy.prepare("PRAGMA integrity_check").pluck().get()).toBe("ok");
      const a = copy.prepare<[], number>("SELECT id FROM probe_a ORDER BY id").pluck().all();
      const b = copy.prepare<[], number>("SELECT id FROM probe_b ORDER BY id").pluck().all();
      expect(a).toEqual(b);
      // A snapshot from the middle of the writes.
      expect(a.length).toBeGreaterThan(before);
      expect(a.length).toBeLessThan(after);
      expect(a).toEqual(Array.from({ length: a.length }, (_, i) => i + 1));
      expect(copy.prepare("SELECT count(*) FROM schema_migrations").pluck().get()).toBeGreaterThan(0);
    } finally {
      copy.close();
    }
    // Restored as docs/deploy.md says (the file put in place as relay.sqlite), it opens as the relay's store.
    const restored = path.join(dir, "restored");
    mkdirSync(restored);
    copyFileSync(path.join(dest, "relay.sqlite"), path.join(restored, "relay.sqlite"));
    await openSqliteStore(restored).close();
  }, 60_000);

  it("leaves a stopped relay's DATA_DIR as it found it, and says the embedded ClickHouse is not copied", async () => {
    const dataDir = await relayStore("stopped");
    mkdirSync(path.join(dataDir, "clickhouse"));
    const result = await backup([path.join(dir, "stopped-backup"), "--data-dir", dataDir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`not copied: ${path.join(dataDir, "clickhouse")} (the embedded ClickHouse): copy it only while the relay is stopped`);
    expect(readdirSync(dataDir).sort()).toEqual(["clickhouse", "relay.sqlite"]);

    // With a ClickHouse server there is no embedded one to mention.
    const server = await backup([path.join(dir, "stopped-backup-2"), "--data-dir", dataDir], { CLICKHOUSE_URL: "http://clickhouse:8123" });
    expect(server.code).toBe(0);
    expect(server.stdout).not.toContain("not copied");
  });

  it("refuses, exit 1, when there is nothing to copy, the destination is in use, or the state is in PostgreSQL", async () => {
    const dataDir = await relayStore("refusals");
    const missing = path.join(dir, "no-such-data-dir");
    expect(await backup([path.join(dir, "r1")], { DATA_DIR: missing })).toEqual({
      code: 1,
      stdout: "",
      stderr: `cross-repo-ci-relay backup: no relay store at ${path.join(missing, "relay.sqlite")}; give the relay's DATA_DIR with --data-dir (or DATA_DIR)\n`,
    });

    const full = path.join(dir, "full");
    mkdirSync(full);
    writeFileSync(path.join(full, "relay.sqlite"), "an earlier backup");
    expect(await backup([full], { DATA_DIR: dataDir })).toEqual({
      code: 1,
      stdout: "",
      stderr: `cross-repo-ci-relay backup: ${full} is not empty; name a new or empty directory\n`,
    });
    expect(readdirSync(full)).toEqual(["relay.sqlite"]);

    const postgres = await backup([path.join(dir, "r2")], { DATA_DIR: dataDir, DATABASE_URL: "postgres://relay:secret@db:5432/relay" });
    expect(postgres.code).toBe(1);
    expect(postgres.stderr).toContain("DATABASE_URL is set");
    expect(postgres.stderr).toContain("pg_dump -Fc");
    expect(postgres.stderr).not.toContain("secret");

    const notAStore = path.join(dir, "not-a-store");
    mkdirSync(notAStore);
    new Database(path.join(notAStore, "relay.sqlite")).close();
    const foreign = await backup([path.join(dir, "r3")], { DATA_DIR: notAStore });
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain("is not a relay store");
    expect(readdirSync(dir)).not.toContain("r3");
  });

  it("answers a usage error without a destination (exit 2, as every command)", async () => {
    const result = await backup([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("takes one argument, the directory to write the backup to");
  });
});
