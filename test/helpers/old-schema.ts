// A SQLite file at an older schema version, built by applying the migrations up to it as `migrate` does:
// the starting point of every migration test.
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/store/migrations.js";

export function databaseAtVersion(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  for (const migration of MIGRATIONS.filter((candidate) => candidate.version <= version)) {
    db.exec(migration.sql);
    migration.backfill?.(db);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)").run(migration.version);
  }
  return db;
}
