// The queued-row reads both stores share: each target's queue is read on its own (one index range each,
// however long another target's backlog), then the targets asked for are merged here.
import type { HudQueueStats } from "./store.js";

/** One target's queue, as each store's SQL reads it. */
export interface TargetQueueStats {
  pending: number;
  oldestId: number | null;
  oldestPendingAt: number | null;
  rejected: number;
}

/** The `limit` lowest ids of rows read per target (each read oldest first, at most `limit`). */
export function oldestFirst<R extends { id: number }>(rows: readonly R[], limit: number): R[] {
  return [...rows].sort((a, b) => a.id - b.id).slice(0, limit);
}

/** Several targets' queues as one: counts add up; the oldest row is the lowest id's. */
export function combinedQueueStats(parts: readonly TargetQueueStats[]): HudQueueStats {
  let oldest: TargetQueueStats | undefined;
  for (const part of parts) {
    if (part.oldestId !== null && (oldest === undefined || part.oldestId < oldest.oldestId!)) oldest = part;
  }
  return {
    pending: parts.reduce((sum, part) => sum + part.pending, 0),
    ...(oldest?.oldestPendingAt != null && { oldestPendingAt: oldest.oldestPendingAt }),
    rejected: parts.reduce((sum, part) => sum + part.rejected, 0),
  };
}
