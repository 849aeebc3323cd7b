// The per-downstream audit trail of /relay/callback: every answer counted per verified repo, UTC day
// and outcome. The RFC demotes a backend from L2 to L1 for "sending excessive or abusive requests" and
// expects "the signal sent back" to be valid; these figures are what such a decision is judged by.

/** Callbacks answered for one repo on one UTC day with one outcome (the per-downstream audit trail). */
export interface CallbackOutcomeCount {
  /** Verified owner/repo (lower case), or "(unverified)". */
  repo: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  outcome: string;
  count: number;
}

/** The one key every caller without a verified token is counted under (never a key per claimed value). */
export const UNVERIFIED_REPO = "(unverified)";
/** The metric label of verified repos outside the allowlist in force (the stored trail names them). */
export const OTHER_REPO = "(other)";
/** Days kept in the store, and the longest window that can be asked for. */
export const AUDIT_RETENTION_DAYS = 90;

const VALID_OUTCOMES = ["accepted", "duplicate", "ignored"] as const;
/**
 * Refusals that are the caller's own fault, what the signal-validity figure counts against a backend. Not
 * among them: `conflict` (a late report that raced a newer one: ordering, not a bad signal), the relay's
 * own failures (`unavailable`, `aborted`, `error`), and `bad_token` (never counted under a repo).
 */
const INVALID_OUTCOMES = ["rate_limited", "too_large", "invalid_body", "bad_ticket", "forbidden", "not_allowlisted", "unknown_commit"] as const;
export const CALLBACK_OUTCOMES = [...VALID_OUTCOMES, ...INVALID_OUTCOMES, "bad_token", "conflict", "unavailable", "aborted", "error"] as const;
export type CallbackOutcome = (typeof CALLBACK_OUTCOMES)[number];

const OUTCOME_BY_STATUS: Readonly<Record<number, CallbackOutcome>> = {
  202: "ignored",
  400: "invalid_body",
  401: "bad_ticket",
  403: "forbidden",
  409: "conflict",
  413: "too_large",
  422: "unknown_commit",
  429: "rate_limited",
  503: "unavailable",
};

/** An answer's outcome: the one it names, else the one its status means (200 is accepted or duplicate). */
export function outcomeOf(answer: { status: number; body: Record<string, unknown>; outcome?: CallbackOutcome }): CallbackOutcome {
  if (answer.outcome) return answer.outcome;
  if (answer.status === 200) return answer.body.duplicate === true ? "duplicate" : "accepted";
  return OUTCOME_BY_STATUS[answer.status] ?? "error";
}

const DAY_MS = 86_400_000;

/** The UTC day of `ms`, as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first UTC day of the `days` days ending with today. */
export function firstDayOf(days: number, now: number): string {
  return utcDay(now - (days - 1) * DAY_MS);
}

export interface RepoCallbackTotals {
  /** Verified owner/repo (lower case), or "(unverified)". */
  repo: string;
  total: number;
  /** Accepted, duplicate or ignored (L1): reports the relay took as valid. */
  valid: number;
  /** Everything else, rate-limited callbacks included. */
  rejected: number;
  /** Counts per outcome; outcomes that did not occur are absent. */
  outcomes: Partial<Record<CallbackOutcome, number>>;
  /** The same per UTC day, oldest first; days without callbacks are absent. */
  days: Array<{ day: string; outcomes: Partial<Record<CallbackOutcome, number>> }>;
}


/** One repo's callbacks in a window, for its signal validity (docs/levels.md). */
export interface SignalCounts {
  total: number;
  valid: number;
  invalid: number;
}

/** Signal counts per verified repo (the unverified caller is nobody's). */
export function signalCounts(rows: readonly CallbackOutcomeCount[]): Map<string, SignalCounts> {
  const byRepo = new Map<string, SignalCounts>();
  for (const row of rows) {
    if (row.repo === UNVERIFIED_REPO) continue;
    const counts = byRepo.get(row.repo) ?? { total: 0, valid: 0, invalid: 0 };
    byRepo.set(row.repo, counts);
    counts.total += row.count;
    const outcome = row.outcome as CallbackOutcome;
    if ((VALID_OUTCOMES as readonly string[]).includes(outcome)) counts.valid += row.count;
    else if ((INVALID_OUTCOMES as readonly string[]).includes(outcome)) counts.invalid += row.count;
  }
  return byRepo;
}

/** Per-repo totals of stored counts, busiest repo first. */
export function summarizeCallbackOutcomes(rows: readonly CallbackOutcomeCount[]): RepoCallbackTotals[] {
  const repos = new Map<string, RepoCallbackTotals>();
  for (const row of [...rows].sort((a, b) => a.day.localeCompare(b.day))) {
    const outcome = row.outcome as CallbackOutcome;
    const totals = repos.get(row.repo) ?? { repo: row.repo, total: 0, valid: 0, rejected: 0, outcomes: {}, days: [] };
    repos.set(row.repo, totals);
    totals.total += row.count;
    if ((VALID_OUTCOMES as readonly string[]).includes(outcome)) totals.valid += row.count;
    else totals.rejected += row.count;
    totals.outcomes[outcome] = (totals.outcomes[outcome] ?? 0) + row.count;
    let day = totals.days.at(-1);
    if (day?.day !== row.day) totals.days.push((day = { day: row.day, outcomes: {} }));
    day.outcomes[outcome] = (day.outcomes[outcome] ?? 0) + row.count;
  }
  return [...repos.values()].sort((a, b) => b.total - a.total || a.repo.localeCompare(b.repo));
}
