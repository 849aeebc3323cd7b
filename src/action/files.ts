// File access for the action: reading a file, appending to one (step outputs), and expanding a simple glob
// (`*`, `?`, `**`) without any dependency, relative to the workspace.
import { appendFile, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

export interface FileSystem {
  readFile(file: string): Promise<string>;
  appendFile(file: string, text: string): Promise<void>;
  /** Files matching `pattern` (absolute, or relative to `cwd`), sorted; a plain path is returned as is if it exists. */
  glob(pattern: string, cwd: string): Promise<string[]>;
}

export const nodeFileSystem: FileSystem = {
  readFile: (file) => readFile(file, "utf8"),
  appendFile: (file, text) => appendFile(file, text, "utf8"),
  glob: expandGlob,
};

const GLOB_CHARS = /[*?[]/;

export async function expandGlob(pattern: string, cwd: string): Promise<string[]> {
  const absolute = path.resolve(cwd, pattern);
  if (!GLOB_CHARS.test(pattern)) {
    return (await isFile(absolute)) ? [absolute] : [];
  }
  const parts = absolute.split(path.sep);
  const firstGlob = parts.findIndex((part) => GLOB_CHARS.test(part));
  const base = parts.slice(0, firstGlob).join(path.sep) || path.sep;
  const matcher = globRegExp(parts.slice(firstGlob).join("/"));
  let entries: string[];
  try {
    entries = (await readdir(base, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
  return entries.filter((file) => matcher.test(path.relative(base, file).split(path.sep).join("/"))).sort();
}

function globRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === "*" && glob[i + 1] === "*") {
      // `**/` matches any number of directories, including none.
      if (glob[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i += 1;
      }
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
