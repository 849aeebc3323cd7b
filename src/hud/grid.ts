// The history grid (pure): latest job attempts and dispatch rows → rows per (PR, head sha) or pushed
// commit, newest first, with one cell per column; the latest attempt wins a cell. Dispatches that left
// nothing behind still get a row, marked with why (never reported, dispatch failed, waiting).
import { dispatchGap } from "./dispatch-gap.js";
import type { DispatchRow, JobRow } from "./queries/rows.js";
import type { HistoryGrid, HistoryRow } from "./views.js";

export interface GridOptions {
  /** Column key of a job: `<workflow> / <job>`, or prefixed with the backend in multi-backend grids. */
  column: (job: JobRow) => string;
  maxRows: number;
  /** Whether a backend reports results at all (from the allowlist); forward-only backends' rows say so. */
  collectsResults?: (downstreamRepo: string) => boolean;
}

export const jobColumn = (job: JobRow): string => `${job.cell.workflowName} / ${job.cell.jobName}`;
export const backendJobColumn = (job: JobRow): string => `${job.backendName} · ${jobColumn(job)}`;

const rowKey = (prNumber: number | null, headSha: string) => `${prNumber ?? "push"}:${headSha}`;

export function historyGrid(jobs: readonly JobRow[], dispatches: readonly DispatchRow[], options: GridOptions): HistoryGrid {
  const rows = new Map<string, HistoryRow & { atMs: number; newest: Map<string, number>; sent: DispatchRow[] }>();
  const rowFor = (prNumber: number | null, headSha: string, at: number, eventType: string) => {
    const key = rowKey(prNumber, headSha);
    let row = rows.get(key);
    if (!row) {
      row = { prNumber, headSha, title: null, author: null, at: "", atMs: at, eventType, cells: {}, missing: null, newest: new Map(), sent: [] };
      rows.set(key, row);
    }
    row.atMs = Math.min(row.atMs, at);
    return row;
  };
  for (const dispatch of dispatches) {
    if (dispatch.outcome === "skipped") continue;
    const row = rowFor(dispatch.prNumber, dispatch.headSha, dispatch.createdAt, dispatch.eventType);
    row.title ??= dispatch.title || null;
    row.author ??= dispatch.author || null;
    row.sent.push(dispatch);
  }
  const columns = new Set<string>();
  for (const job of jobs) {
    const row = rowFor(job.prNumber, job.headSha, job.at, job.eventType);
    const column = options.column(job);
    columns.add(column);
    if ((row.newest.get(column) ?? -Infinity) < job.at) {
      row.newest.set(column, job.at);
      row.cells[column] = job.cell;
    }
  }
  const ordered = [...rows.values()].sort((a, b) => b.atMs - a.atMs).slice(0, options.maxRows);
  return {
    columns: [...columns].sort((a, b) => a.localeCompare(b)),
    rows: ordered.map(({ atMs, newest: _newest, sent, ...row }) => ({
      ...row,
      at: new Date(atMs).toISOString(),
      missing: Object.keys(row.cells).length === 0 ? dispatchGap(sent, options.collectsResults) : null,
    })),
  };
}
