// Small helpers shared by the PostgreSQL store's tables: how repos are keyed and JSON parameters passed.
export { fromRow, toTask, type LogChange, type Row, type TaskRow, type TransitionedTask } from "../rows.js";

/** Repos are stored as given and looked up case-insensitively, by this key. */
export function repoKey(repo: string): string {
  return repo.toLowerCase();
}

/** JSON for a JSONB parameter; undefined and null become SQL NULL. */
export function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
