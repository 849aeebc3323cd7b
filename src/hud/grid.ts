// The history grid (pure): one page of row keys (PR heads or pushed commits, newest first, read by
// queries/rows.ts), the latest job attempts and dispatch rows of those rows → one cell per column; the
// latest attempt wins a cell. Dispatches that left nothing behind still get a row, marked with why (never
// reported, dispatch failed, waiting). Paging is by keyset: a cursor names a row, never an offset.
import { dispatchGap } from "./dispatch-gap.js";
import type { DispatchRow, JobRow } from "./queries/rows.js";
import type { GridPage, HistoryGrid, HistoryRow } from "./views.js";

/** Rows of a grid page. */
export const GRID_PAGE_ROWS = 50;

/** A grid row's place in the grid's order (newest first): its time (ms), then its PR number (0 for a push), then its sha. */
export interface RowKey {
  at: number;
  prNumber: number;
  headSha: string;
}

/** Which page: the newest, the rows just older than `before`, or the rows just newer than `after`. */
export type PageRequest = { before: RowKey } | { after: RowKey } | { newest: true };

export const NEWEST: PageRequest = { newest: true };

/** `<time in ms>_<PR number>_<sha>`: the one spelling of a cursor, in ?before=, ?after= and the JSON's page. */
export const CURSOR_PATTERN = /^(\d{1,15})_(\d{1,10})_(\S{1,100})$/;

export function formatCursor(key: RowKey): string {
  return `${key.at}_${key.prNumber}_${key.headSha}`;
}

/** The row key a cursor names; undefined when the text is not one (see CURSOR_PATTERN). */
export function parseCursor(text: string): RowKey | undefined {
  const match = CURSOR_PATTERN.exec(text);
  return match ? { at: Number(match[1]), prNumber: Number(match[2]), headSha: match[3]! } : undefined;
}

/**
 * One page from the row keys read one past its size (LIMIT size + 1) in the request's direction: newest
 * first for the newest page and `before`, oldest first for `after`. undefined when `after` reaches the
 * newest rows: that page is the newest page, which the caller reads instead (so "← Newer" from the second
 * page shows exactly the first).
 */
export function gridPage(read: readonly RowKey[], request: PageRequest, size = GRID_PAGE_ROWS): { keys: RowKey[]; page: GridPage } | undefined {
  const more = read.length > size;
  if ("after" in request) {
    if (!more) return undefined;
    const keys = read.slice(0, size).reverse();
    return { keys, page: { newer: formatCursor(keys[0]!), older: formatCursor(keys.at(-1)!) } };
  }
  const keys = read.slice(0, size);
  const first = keys[0];
  const last = keys.at(-1);
  return {
    keys,
    page: {
      newer: "before" in request && first !== undefined ? formatCursor(first) : null,
      older: more && last !== undefined ? formatCursor(last) : null,
    },
  };
}

export interface GridOptions {
  /** Column key of a job: `<workflow> / <job>`, or prefixed with the backend in multi-backend grids. */
  column: (job: JobRow) => string;
  /** Whether a backend reports results at all (from the allowlist); forward-only backends' rows say so. */
  collectsResults?: (downstreamRepo: string) => boolean;
}

export const jobColumn = (job: JobRow): string => `${job.cell.workflowName} / ${job.cell.jobName}`;
export const backendJobColumn = (job: JobRow): string => `${job.backendName} · ${jobColumn(job)}`;

const rowKey = (prNumber: number | null, headSha: string) => `${prNumber ?? 0}:${headSha}`;

/** The grid of the page's rows (in `keys`' order); jobs and dispatches of other rows are ignored. */
export function historyGrid(
  { keys, page }: { keys: readonly RowKey[]; page: GridPage },
  jobs: readonly JobRow[],
  dispatches: readonly DispatchRow[],
  options: GridOptions,
): HistoryGrid {
  const rows = new Map<string, HistoryRow & { newest: Map<string, number>; sent: DispatchRow[] }>();
  for (const key of keys) {
    rows.set(rowKey(key.prNumber, key.headSha), {
      prNumber: key.prNumber || null,
      headSha: key.headSha,
      title: null,
      author: null,
      at: new Date(key.at).toISOString(),
      eventType: "",
      cells: {},
      missing: null,
      newest: new Map(),
      sent: [],
    });
  }
  // Newest first (as read): a row's title and author are its latest dispatch's.
  for (const dispatch of dispatches) {
    const row = rows.get(rowKey(dispatch.prNumber, dispatch.headSha));
    if (!row || dispatch.outcome === "skipped") continue;
    row.eventType ||= dispatch.eventType;
    row.title ??= dispatch.title || null;
    row.author ??= dispatch.author || null;
    row.sent.push(dispatch);
  }
  const columns = new Set<string>();
  for (const job of jobs) {
    const row = rows.get(rowKey(job.prNumber, job.headSha));
    if (!row) continue;
    row.eventType ||= job.eventType;
    const column = options.column(job);
    columns.add(column);
    if ((row.newest.get(column) ?? -Infinity) < job.at) {
      row.newest.set(column, job.at);
      row.cells[column] = job.cell;
    }
  }
  return {
    columns: [...columns].sort((a, b) => a.localeCompare(b)),
    rows: [...rows.values()].map(({ newest: _newest, sent, ...row }) => ({
      ...row,
      missing: Object.keys(row.cells).length === 0 ? dispatchGap(sent, options.collectsResults) : null,
    })),
    page,
  };
}
