// A small HTML tokenizer for the HUD page tests: enough to check that pages are well formed, that every
// `<` in them starts a real tag, and to read tags' attributes. Not a general HTML parser.

export interface Tag {
  name: string;
  attrs: Map<string, string>;
  /** Index of the tag in the markup. */
  at: number;
}

const VOID = new Set(["meta", "link", "br", "hr", "img", "input", "wbr", "col"]);
/** Elements a `<p>` cannot contain (the browser would close the `<p>` before them). */
const BLOCK = new Set(["div", "p", "ul", "ol", "table", "section", "header", "footer", "h1", "h2", "h3", "figure"]);
const OPEN = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'=<>/]+(?:="[^"<>]*"|='[^'<>]*')?)*)\s*(\/?)>/y;
const CLOSE = /<\/([a-zA-Z][a-zA-Z0-9-]*)>/y;
const ATTR = /\s+([^\s"'=<>/]+)(?:="([^"]*)"|='([^']*)')?/g;

export function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#(\d+));/g, (_match, name: string, code: string | undefined) =>
    code !== undefined ? String.fromCodePoint(Number(code)) : ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" } as Record<string, string>)[name]!,
  );
}

/**
 * The start tags of `markup`, after checking that every `<` opens a tag or a doctype, that attribute
 * values are quoted and hold no raw `<`/`>` (escaping was applied), that tags nest and close, and that
 * no block element opens inside a `<p>`. Throws with the position on the first problem.
 */
export function parseTags(markup: string): Tag[] {
  const tags: Tag[] = [];
  const stack: string[] = [];
  let index = markup.indexOf("<");
  while (index !== -1) {
    const fail = (problem: string) => {
      throw new Error(`${problem} at ${index}: ${markup.slice(Math.max(0, index - 40), index + 80)}`);
    };
    if (markup.startsWith("<!doctype html>", index)) {
      index = markup.indexOf("<", index + 1);
      continue;
    }
    OPEN.lastIndex = index;
    CLOSE.lastIndex = index;
    const open = OPEN.exec(markup);
    const close = open === null ? CLOSE.exec(markup) : null;
    if (open !== null) {
      const name = open[1]!.toLowerCase();
      const attrs = new Map<string, string>();
      for (const attr of open[2]!.matchAll(ATTR)) attrs.set(attr[1]!.toLowerCase(), decodeEntities(attr[2] ?? attr[3] ?? ""));
      if (BLOCK.has(name) && stack.at(-1) === "p") fail(`<${name}> inside <p>`);
      tags.push({ name, attrs, at: index });
      if (!VOID.has(name) && open[3] !== "/") stack.push(name);
      // The stylesheet is raw text: skip to its end tag.
      const end = name === "style" ? markup.indexOf("</style>", index) : index + open[0].length;
      index = markup.indexOf("<", end);
    } else if (close !== null) {
      const name = close[1]!.toLowerCase();
      if (stack.pop() !== name) fail(`unexpected </${name}>`);
      index = markup.indexOf("<", index + close[0].length);
    } else {
      fail("stray <");
    }
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(" > ")}`);
  return tags;
}

/** The visible text, tags removed and entities decoded, whitespace collapsed. */
export function textOf(markup: string): string {
  return decodeEntities(
    markup
      .replace(/<style>[\s\S]*?<\/style>/g, "")
      .replace(/<[^>]*>/g, " "),
  )
    .replace(/\s+/g, " ")
    .trim();
}

/** The markup of each `name` element (those `filter` accepts), from its start tag to its matching end tag. */
export function elements(markup: string, name: string, filter: (tag: Tag) => boolean = () => true): string[] {
  const tags = parseTags(markup);
  return tags
    .filter((tag) => tag.name === name && filter(tag))
    .map((tag) => {
      // Find the matching end tag by counting nested elements of the same name.
      const pattern = new RegExp(`<(/?)${name}[\\s>]`, "g");
      pattern.lastIndex = tag.at + 1;
      let depth = 1;
      for (let match = pattern.exec(markup); match !== null; match = pattern.exec(markup)) {
        depth += match[1] === "/" ? -1 : 1;
        if (depth === 0) return markup.slice(tag.at, match.index + `</${name}>`.length);
      }
      throw new Error(`no end tag for <${name}> at ${tag.at}`);
    });
}
