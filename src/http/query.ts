// Query strings of the relay's GET routes, validated by one zod schema per route. A repeated parameter
// is a problem, never silently its first or last value; unknown parameters name themselves.
import { z } from "zod";

export type QueryResult<T> = { ok: true; value: T } | { ok: false; problem: string };

export function parseQuery<T extends z.ZodType>(schema: T, url: URL): QueryResult<z.output<T>> {
  const entries: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key in entries) return { ok: false, problem: `query parameter ${key} is given more than once` };
    entries[key] = value;
  }
  const parsed = schema.safeParse(entries);
  if (parsed.success) return { ok: true, value: parsed.data };
  const accepted = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const problem = parsed.error.issues
    .map((issue) =>
      issue.code === "unrecognized_keys" ? `unknown query parameter ${issue.keys.join(", ")}; accepted: ${accepted.join(", ") || "none"}` : issue.message,
    )
    .join("; ");
  return { ok: false, problem };
}

/** `days`: a whole number of days from 1 to `max`, `fallback` when absent. */
export function daysParam(max: number, fallback: number) {
  const problem = { error: `days must be a whole number of days from 1 to ${max}` };
  return z.coerce.number(problem).int(problem).min(1, problem).max(max, problem).default(fallback);
}
