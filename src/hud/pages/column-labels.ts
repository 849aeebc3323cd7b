// Short, distinct labels for the history grid's rotated column headers (pure). Job names of shards differ
// only at their end (`test (npu, 1/4)`, `test (npu, 2/4)`), so cutting a long name at its end makes them
// all read the same: instead the part every column shares is said once, and a long name keeps its start
// and its end with "…" between, the end growing until no two labels are the same.

/** Labels longer than this are shortened (the rotated header's height, about 12em at 12px). */
export const MAX_LABEL = 24;
/** Characters kept from the start of a shortened label: enough to tell `build` from `test`. */
const HEAD = 7;
const ELLIPSIS = "…";
/** Where a column key's parts meet: `<backend> · <workflow> / <job>`. */
const SEPARATOR = /( · | \/ )/g;

export interface ColumnLabels {
  /** The leading part every column shares (ending with its separator), said once in the legend; "" when none. */
  prefix: string;
  /** One label per column, in the columns' order, all distinct. */
  labels: string[];
}

/**
 * The longest start every column shares that ends at a separator and leaves each column something of
 * its own. One column alone keeps its whole name.
 */
function sharedPrefix(columns: readonly string[]): string {
  if (columns.length < 2) return "";
  const [first, ...rest] = columns as [string, ...string[]];
  let prefix = "";
  for (const match of first.matchAll(SEPARATOR)) {
    const candidate = first.slice(0, match.index + match[0].length);
    if (rest.every((column) => column.startsWith(candidate) && column.length > candidate.length) && first.length > candidate.length) prefix = candidate;
  }
  return prefix;
}

/** `text` kept to its first HEAD characters and its last `tail`, or whole when that is no shorter. */
function shorten(text: string, tail: number): string {
  const chars = Array.from(text);
  if (chars.length <= HEAD + ELLIPSIS.length + tail) return text;
  return `${chars.slice(0, HEAD).join("").trimEnd()}${ELLIPSIS}${chars.slice(-tail).join("").trimStart()}`;
}

/**
 * Labels for `columns` (distinct keys): the shared prefix elided, then each label at most MAX_LABEL
 * characters where that keeps every label distinct; labels that would collide keep more of their end,
 * up to their whole text, which is distinct because the columns are.
 */
export function columnLabels(columns: readonly string[], max = MAX_LABEL): ColumnLabels {
  const prefix = sharedPrefix(columns);
  const names = columns.map((column) => column.slice(prefix.length));
  const tails = names.map(() => Math.max(1, max - HEAD - ELLIPSIS.length));
  const labels = names.map((name, index) => shorten(name, tails[index]!));
  for (;;) {
    const seen = new Map<string, number[]>();
    labels.forEach((label, index) => seen.set(label, [...(seen.get(label) ?? []), index]));
    const colliding = [...seen.values()].filter((indexes) => indexes.length > 1).flat();
    if (colliding.length === 0) return { prefix, labels };
    for (const index of colliding) {
      if (labels[index] === names[index]) continue;
      tails[index]! += 1;
      labels[index] = shorten(names[index]!, tails[index]!);
    }
  }
}
