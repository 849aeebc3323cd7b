// GitHub's size limits for check-run output: the summary and text are capped at 65,535 bytes (GitHub
// answers "exceeds a maximum bytesize of 65535"; github/docs#35252), annotations at 50 per request
// (REST "Create a check run").
export const CHECK_TEXT_LIMIT = 65_535;
export const ANNOTATIONS_PER_REQUEST = 50;

export const TRUNCATION_NOTE = "\n\n… (truncated)";

/** Cuts `text` to at most `limitBytes` UTF-8 bytes, saying so, without splitting a character. */
export function capText(text: string, limitBytes = CHECK_TEXT_LIMIT): string {
  if (Buffer.byteLength(text) <= limitBytes) return text;
  const room = limitBytes - Buffer.byteLength(TRUNCATION_NOTE);
  // A cut inside a multi-byte sequence decodes to U+FFFD at the end: drop it.
  const head = Buffer.from(text).subarray(0, Math.max(0, room)).toString("utf8").replace(/\uFFFD+$/, "");
  return head + TRUNCATION_NOTE;
}

/** Cuts `text` to at most `limit` UTF-16 code units (zod's string length), saying so, without splitting a surrogate pair. */
export function capLength(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let cut = limit - TRUNCATION_NOTE.length;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + TRUNCATION_NOTE;
}
