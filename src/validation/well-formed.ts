// Lone UTF-16 surrogates ("\ud800") are valid in JSON and in JavaScript strings but have no UTF-8 encoding:
// ClickHouse refuses a whole JSONEachRow insert holding one (CANNOT_PARSE_ESCAPE_SEQUENCE) or stores broken
// bytes. Untrusted strings are repaired (each lone surrogate becomes U+FFFD) before anything stores them.
import type { z } from "zod";

// Node 20 has String.prototype.toWellFormed (ES2024); the ES2023 lib this project compiles against does not.
type WellFormable = string & { toWellFormed(): string };

export function toWellFormed(text: string): string {
  return (text as WellFormable).toWellFormed();
}

/** The same string schema, with its value made well-formed (the length stays the same). */
export function wellFormed<T extends z.ZodString | z.ZodStringFormat>(schema: T): T {
  return (schema as z.ZodString).overwrite(toWellFormed) as T;
}
