// Small helpers shared by the PostgreSQL store's tables: how rows come out and how repos are keyed.
import type { StoreTx } from "../store.js";

/** How an entity comes out of a query whose columns are aliased to its field names: optional fields are NULL. */
export type Row<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

/** Drops NULL columns, so optional fields come out absent rather than null. */
export function fromRow<T>(row: Row<T>): T {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)) as T;
}

/** Repos are stored as given and looked up case-insensitively, by this key. */
export function repoKey(repo: string): string {
  return repo.toLowerCase();
}

/** JSON for a JSONB parameter; undefined and null become SQL NULL. */
export function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** Some of StoreTx's methods: what each of the tables' modules implements. */
export type TxPart<K extends keyof StoreTx> = Pick<StoreTx, K>;
