// Which relay process runs the background jobs (sweeper, reconciler, redelivery, installation rechecks,
// retention, the allowlist walk, the HUD writer). Several replicas on one PostgreSQL share webhooks,
// callbacks and the outbox, but each of these jobs must run on one of them at a time: a double sweep is
// harmless but wasteful, a double HUD drain writes rows twice. With SQLite there is one process, always
// the leader.

export interface Leadership {
  /** Whether this process leads now (checked at each run of a job: a replica that lost it skips the run). */
  isLeader(): boolean;
  /** Calls `listener` whenever this process starts or stops leading. */
  onChange(listener: (leading: boolean) => void): void;
  /** Gives leadership up (another replica takes over); idempotent. */
  stop(): Promise<void>;
}

/** The only process there is (embedded SQLite): it always leads. */
export const SOLE_LEADER: Leadership = { isLeader: () => true, onChange: () => undefined, stop: () => Promise.resolve() };

/** `job`, run only while this process leads (a replica that does not lead skips the turn). */
export function leaderOnly<T>(leadership: Leadership, job: () => Promise<T>): () => Promise<T | undefined> {
  return async () => (leadership.isLeader() ? job() : undefined);
}
