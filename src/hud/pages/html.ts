// An escaping HTML template: every interpolated value is escaped unless it is already-safe markup
// (the result of html`` or raw()), so text from downstreams and PR authors can never become markup.

/** Markup that is safe to insert as is. Only html`` and raw() make one. */
export class SafeHtml {
  constructor(readonly markup: string) {}

  toString(): string {
    return this.markup;
  }
}

/** `false`, null and undefined render nothing, so `${condition && html`…`}` works. Arrays are joined. */
export type Interpolation = SafeHtml | string | number | false | null | undefined | readonly Interpolation[];

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for element content and for attribute values in either kind of quotes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char] as string);
}

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.markup;
  if (value === null || value === undefined || value === false) return "";
  if (typeof value === "string" || typeof value === "number") return escapeHtml(String(value));
  return value.map(render).join("");
}

/** Tagged template: `html\`<td title="${text}">${text}</td>\`` escapes both. Attributes must be quoted. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let markup = strings[0] ?? "";
  values.forEach((value, index) => {
    markup += render(value) + (strings[index + 1] ?? "");
  });
  return new SafeHtml(markup);
}

/** Marks markup the caller built safely (constants such as the stylesheet) as not to be escaped. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Renders the items with the separator between them. */
export function join(items: readonly Interpolation[], separator: Interpolation): SafeHtml {
  return new SafeHtml(items.map(render).join(render(separator)));
}

/** `name="value"` pairs, escaped; null and undefined values are left out. */
export function attrs(values: Record<string, string | number | null | undefined>): SafeHtml {
  return join(
    Object.entries(values)
      .filter((entry): entry is [string, string | number] => entry[1] !== null && entry[1] !== undefined)
      .map(([name, value]) => html` ${raw(name)}="${value}"`),
    "",
  );
}

/**
 * The URL, normalised, when it is absolute http(s); null otherwise. Every URL a downstream or a PR sends
 * goes through this before it becomes an href, so javascript:, data: and relative URLs never link.
 */
export function httpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link to an external URL, or the content as plain text (in a span with the same attributes) when the URL is not http(s). */
export function externalLink(
  url: string | null | undefined,
  content: Interpolation,
  attributes: Record<string, string | number | null | undefined> = {},
): SafeHtml {
  const href = httpUrl(url);
  return href === null
    ? html`<span${attrs(attributes)}>${content}</span>`
    : html`<a${attrs({ href, ...attributes })}>${content}</a>`;
}
