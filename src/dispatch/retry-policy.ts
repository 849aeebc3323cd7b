// How the outbox treats a failed GitHub request (pure): retry later, or record a permanent failure.
// GitHub's guidance (docs.github.com, "Rate limits for the REST API"): on 429, or 403 with `retry-after`,
// wait that long; on 403 with `x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset`; on a secondary
// limit without headers wait at least a minute; back off exponentially when failures repeat.

export type FailureVerdict =
  | { kind: "transient"; reason: string; retryAfterMs?: number }
  | { kind: "permanent"; reason: string };

export interface FailureFacts {
  /** HTTP status of GitHub's answer; undefined when no answer arrived (network error, timeout). */
  status?: number;
  headers?: Record<string, string | number | undefined>;
  message: string;
}

const SECONDARY_LIMIT_FLOOR_MS = 60_000;

export function classifyFailure(failure: FailureFacts, now: number): FailureVerdict {
  const { status, message } = failure;
  const retryAfterMs = retryAfter(failure.headers ?? {}, now);
  if (status === undefined || status >= 500) {
    return { kind: "transient", reason: status === undefined ? "network" : `http_${status}`, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  if (status === 429) return { kind: "transient", reason: "rate_limited", retryAfterMs: retryAfterMs ?? SECONDARY_LIMIT_FLOOR_MS };
  if (status === 403 && String(failure.headers?.["x-ratelimit-remaining"]) === "0") {
    return { kind: "transient", reason: "rate_limited", retryAfterMs: retryAfterMs ?? SECONDARY_LIMIT_FLOOR_MS };
  }
  if (status === 403 && (retryAfterMs !== undefined || /rate limit|abuse/i.test(message))) {
    return { kind: "transient", reason: "secondary_rate_limit", retryAfterMs: retryAfterMs ?? SECONDARY_LIMIT_FLOOR_MS };
  }
  // A 401 is an installation token refused mid-rotation or a clock-skewed App JWT: worth another try.
  if (status === 401) return { kind: "transient", reason: "http_401" };
  return { kind: "permanent", reason: `http_${status}: ${message.slice(0, 200)}` };
}

/**
 * How long a rate-limit refusal pauses the whole installation (a limit applies to all its requests,
 * not the one refused); undefined for other failures.
 */
export function installationPause(verdict: FailureVerdict): { reason: "rate_limited" | "secondary_rate_limit"; ms: number } | undefined {
  if (verdict.kind !== "transient" || verdict.retryAfterMs === undefined) return undefined;
  if (verdict.reason !== "rate_limited" && verdict.reason !== "secondary_rate_limit") return undefined;
  return { reason: verdict.reason, ms: verdict.retryAfterMs };
}

function retryAfter(headers: Record<string, string | number | undefined>, now: number): number | undefined {
  const value = headers["retry-after"];
  const asked = value === undefined ? undefined : parseRetryAfter(String(value), now);
  if (asked !== undefined) return asked;
  if (String(headers["x-ratelimit-remaining"]) === "0" && headers["x-ratelimit-reset"] !== undefined) {
    return Math.max(0, Number(headers["x-ratelimit-reset"]) * 1000 - now);
  }
  return undefined;
}

/** A Retry-After header (seconds, or an HTTP date) as milliseconds from `now`; undefined when unreadable. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const seconds = Number(value);
  if (value.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export interface BackoffSettings {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1000, capMs: 5 * 60_000 };

/**
 * Delay before attempt number `attempts + 1`: exponential with "equal jitter" (half fixed, half random),
 * never shorter than what GitHub asked for.
 */
export function backoffDelay(attempts: number, retryAfterMs: number | undefined, random: number, settings = DEFAULT_BACKOFF): number {
  const exponential = Math.min(settings.capMs, settings.baseMs * 2 ** attempts);
  const jittered = exponential / 2 + (exponential / 2) * random;
  return Math.max(retryAfterMs ?? 0, Math.round(jittered));
}
