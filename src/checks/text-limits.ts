// GitHub's size limits for check-run output (REST "Create a check run": title/summary/text are capped at
// 65,535 characters, annotations at 50 per request).
export const CHECK_TEXT_LIMIT = 65_535;
export const ANNOTATIONS_PER_REQUEST = 50;

const TRUNCATION_NOTE = "\n\n… (truncated)";

/** Cuts `text` to `limit` characters, saying so, without splitting a surrogate pair. */
export function capText(text: string, limit = CHECK_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  let cut = limit - TRUNCATION_NOTE.length;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + TRUNCATION_NOTE;
}
