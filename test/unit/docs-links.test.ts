// Every link in README.md and docs/ resolves inside the repository (or is an http(s) URL), anchors
// included, and no doc says something known to be stale: a user who clones the repository can trust
// every line and follow every link.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return markdownFiles(file);
    return name.endsWith(".md") ? [file] : [];
  });
}

const DOCS = [path.join(ROOT, "README.md"), ...markdownFiles(path.join(ROOT, "docs")), ...markdownFiles(path.join(ROOT, "actions")).filter((file) => !file.includes("node_modules"))];

/** Markdown links `[text](target)` outside code blocks and inline code. */
function linksOf(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
}

/** GitHub's heading anchors: lower-cased, punctuation dropped, spaces to '-'. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of text.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const slug = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    let unique = slug;
    for (let n = 1; anchors.has(unique); n += 1) unique = `${slug}-${n}`;
    anchors.add(unique);
  }
  return anchors;
}

/** Phrases that were true once and are not any more. */
const STALE = [/\.\.\/shared\//, /comes later/i, /the next milestone/i, /copy `?\.env\.example`? to `?\.env`?/i];

describe("README and docs", () => {
  it.each(DOCS.map((file) => [path.relative(ROOT, file), file]))("%s: every link resolves inside the repository", (_name, file) => {
    const text = readFileSync(file, "utf8");
    const broken: string[] = [];
    for (const link of linksOf(text)) {
      if (/^(https?:|mailto:)/.test(link)) continue;
      const [target, anchor] = link.split("#") as [string, string | undefined];
      const resolved = target === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
      if (!resolved.startsWith(ROOT + path.sep) && resolved !== ROOT) {
        broken.push(`${link}: outside the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor)) broken.push(`${link}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it("finds the links it checks (a pattern that matched nothing would pass every file)", () => {
    expect(linksOf(readFileSync(path.join(ROOT, "README.md"), "utf8")).length).toBeGreaterThan(20);
    expect(linksOf("see [a](b.md#c) and `[not](a link)` and [c](https://x.example)")).toEqual(["b.md#c", "https://x.example"]);
    expect([...anchorsOf("# Trunk baseline: \"also failing on trunk\"\n## HUD rows for hud.pytorch.org\n## HUD rows for hud.pytorch.org")]).toEqual([
      "trunk-baseline-also-failing-on-trunk",
      "hud-rows-for-hudpytorchorg",
      "hud-rows-for-hudpytorchorg-1",
    ]);
  });

  it.each(DOCS.map((file) => [path.relative(ROOT, file), file]))("%s: says nothing known to be stale", (_name, file) => {
    const text = readFileSync(file, "utf8");
    expect(STALE.filter((phrase) => phrase.test(text)).map(String)).toEqual([]);
  });
});
