// The hash the state core keeps of what it last queued for a check run (and of a backend head's frame):
// SHA-256 of canonical JSON (object keys sorted), so equal states hash equal whatever order their
// fields were built in — also states stored by an older relay (migration 9 hashes them the same way).
import { createHash } from "node:crypto";

export function stateHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    field !== null && typeof field === "object" && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : field,
  );
}
