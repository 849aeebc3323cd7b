// Text formatting shared by the HUD pages. Every formatter says "n/a" for a missing value, never 0.

export const NA = "n/a";

const pad2 = (value: number): string => String(value).padStart(2, "0");

/** 300 → "<1s", 850 → "1s", 42_000 → "42s", 252_000 → "4m 12s", 3_780_000 → "1h 03m", 93_600_000 → "1d 02h". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return NA;
  const seconds = Math.round(ms / 1000);
  if (seconds === 0) return ms > 0 ? "<1s" : "0s";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${pad2(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${pad2(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d ${pad2(hours % 24)}h`;
}

/**
 * A fraction as a percentage with at most one decimal: 0.975 → "97.5%", 0.95 → "95%". A rate below 1
 * never rounds up to "100%" and a rate above 0 never down to "0%": 99.96% of tests passing is not all.
 */
export function formatPercent(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) return NA;
  let tenths = Math.round(fraction * 1000);
  if (tenths >= 1000 && fraction < 1) tenths = 999;
  if (tenths <= 0 && fraction > 0) tenths = 1;
  return `${(tenths / 10).toFixed(tenths % 10 === 0 ? 0 : 1)}%`;
}

function parseTime(iso: string): Date | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** "2026-11-29 14:03 UTC"; text that is not a time is returned as is. */
export function formatTime(iso: string | null): string {
  if (iso === null) return NA;
  const date = parseTime(iso);
  return date === null ? iso : `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "11-29 14:03" (UTC), for grid rows where the year is noise. */
export function formatShortTime(iso: string): string {
  const date = parseTime(iso);
  return date === null ? iso : date.toISOString().slice(5, 16).replace("T", " ");
}

/** "just now", "12m ago", "5h ago", "3d ago" (or "in 5m" for a time after `now`, e.g. clock skew). */
export function formatRelative(iso: string | null, nowIso: string): string {
  if (iso === null) return NA;
  const date = parseTime(iso);
  const now = parseTime(nowIso);
  if (date === null || now === null) return formatTime(iso);
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return "just now";
  const amount =
    abs < 3600 ? `${Math.floor(abs / 60)}m` : abs < 48 * 3600 ? `${Math.floor(abs / 3600)}h` : `${Math.floor(abs / 86_400)}d`;
  return seconds > 0 ? `${amount} ago` : `in ${amount}`;
}

/** Whitespace collapsed and cut to `max` characters with "…" (for titles and summaries in tight spots). */
export function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  // Counted and cut by code point so a surrogate pair (emoji) is never split.
  const chars = Array.from(flat);
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join("").trimEnd()}…`;
}
