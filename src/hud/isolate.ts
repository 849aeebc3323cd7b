// Inserts items and, when ClickHouse refuses them for their data, bisects until the refused items stand
// alone; every other item is inserted. Each refused item costs at most ⌈log₂ n⌉ + 1 failed inserts (one per
// level of halving) and as many successful ones, so k refused items among n cost O(k log n) inserts. A
// budget of failed inserts bounds one call whatever ClickHouse answers (say, everything refused).
import { classifyInsertError, type InsertErrorKind } from "./insert-errors.js";

/** Refused items one call isolates at least, when there are that many. */
const ISOLATED_PER_CALL = 8;

export interface Refusal<T> {
  item: T;
  kind: Exclude<InsertErrorKind, "outage">;
  error: unknown;
}

export interface Isolation<T> {
  /** Items ClickHouse refused on their own. */
  refused: Refusal<T>[];
  /** Why the call stopped early; the items neither inserted nor refused by then are untouched. */
  stopped?: { reason: "outage" | "budget"; error: unknown };
}

/** `insert` must take items out of the caller's queue once they are in: a later failure does not undo it. */
export async function insertIsolating<T>(items: readonly T[], insert: (part: readonly T[]) => Promise<void>): Promise<Isolation<T>> {
  const result: Isolation<T> = { refused: [] };
  let failuresLeft = ISOLATED_PER_CALL * (Math.ceil(Math.log2(Math.max(items.length, 1))) + 1);
  const attempt = async (part: readonly T[]): Promise<void> => {
    if (result.stopped || part.length === 0) return;
    try {
      await insert(part);
    } catch (error) {
      const kind = classifyInsertError(error);
      if (kind === "outage") {
        result.stopped = { reason: "outage", error };
      } else if (--failuresLeft < 0) {
        result.stopped = { reason: "budget", error };
      } else if (part.length === 1) {
        result.refused.push({ item: part[0]!, kind, error });
      } else {
        const middle = Math.ceil(part.length / 2);
        await attempt(part.slice(0, middle));
        await attempt(part.slice(middle));
      }
    }
  };
  await attempt(items);
  return result;
}
