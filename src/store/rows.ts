// How a stored entity comes out of a query whose columns are aliased to its field names, for both Store
// implementations: optional fields come back as NULL columns and leave as absent fields.

/** The row of entity `T`: every field present, optional ones NULL when unset. */
export type Row<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

/** Drops NULL columns, so optional fields come out absent rather than null. */
export function fromRow<T>(row: Row<T>): T {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)) as T;
}
