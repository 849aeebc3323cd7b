// Group commit benchmark: N single-row inserts into a temp SQLite file (WAL, synchronous = FULL),
// (a) one autocommit transaction each, straight through better-sqlite3, then (b) through GroupCommit
// with 16, 64 and 256 concurrent callers, each awaiting its previous call before the next. Prints
// rows/s, commits and the average batch size; asserts nothing.
//
//   node scripts/run-ts.mjs bench/group-commit.ts [rows]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { GroupCommit } from "../src/store/sqlite/group-commit.js";

const ROWS = Number(process.argv[2] ?? 20_000);
const CALLERS = [16, 64, 256];
const PAYLOAD = "x".repeat(200);

const dir = mkdtempSync(path.join(tmpdir(), "relay-group-commit-"));
const print = (line: string) => process.stdout.write(`${line}\n`);

/** A fresh database file per run, so no run inherits another's WAL. */
function open(name: string): Database.Database {
  const db = new Database(path.join(dir, `${name}.sqlite`));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, caller INTEGER NOT NULL, body TEXT NOT NULL)");
  return db;
}

function report(label: string, seconds: number, commits: number): void {
  const rate = Math.round(ROWS / seconds).toLocaleString("en-US");
  print(`${label.padEnd(28)} ${rate.padStart(10)} rows/s  ${seconds.toFixed(2).padStart(7)} s  ${String(commits).padStart(6)} commits  ${(ROWS / commits).toFixed(1).padStart(6)} rows/commit`);
}

function autocommit(): void {
  const db = open("autocommit");
  const insert = db.prepare("INSERT INTO rows (caller, body) VALUES (?, ?)");
  const start = performance.now();
  for (let index = 0; index < ROWS; index += 1) insert.run(0, PAYLOAD);
  report("autocommit (1 row/txn)", (performance.now() - start) / 1000, ROWS);
  db.close();
}

async function grouped(callers: number): Promise<void> {
  const db = open(`group-${callers}`);
  const insert = db.prepare("INSERT INTO rows (caller, body) VALUES (?, ?)");
  const commits = new GroupCommit(db);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      // Spread ROWS over the callers; the first ROWS % callers take one more.
      const mine = Math.floor(ROWS / callers) + (caller < ROWS % callers ? 1 : 0);
      for (let index = 0; index < mine; index += 1) await commits.run(() => insert.run(caller, PAYLOAD));
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await commits.close();
  const count = db.prepare("SELECT count(*) FROM rows").pluck().get();
  if (count !== ROWS || commits.units !== ROWS) throw new Error(`expected ${ROWS} rows, found ${String(count)} (units ${commits.units})`);
  report(`group commit, ${callers} callers`, seconds, commits.batches);
  db.close();
}

try {
  print(`${ROWS} single-row inserts, WAL, synchronous = FULL, in ${dir}`);
  autocommit();
  for (const callers of CALLERS) await grouped(callers);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
