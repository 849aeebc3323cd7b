// Reads the allowlist from a local file (ALLOWLIST_FILE) and notices edits.
import { readFile, stat, unwatchFile, watchFile } from "node:fs";
import { promisify } from "node:util";
import path from "node:path";
import { MAX_ALLOWLIST_BYTES } from "./parse.js";
import type { AllowlistFetcher, FetchOutcome } from "./source.js";

const readFileAsync = promisify(readFile);
const statAsync = promisify(stat);

export function fileFetcher(file: string, pollMs = 1000): AllowlistFetcher {
  return {
    kind: "file",
    description: `file ${file}`,
    displayPath: path.relative(process.cwd(), file) || file,
    async fetch(): Promise<FetchOutcome> {
      const info = await statAsync(file);
      if (info.size > MAX_ALLOWLIST_BYTES) {
        throw new Error(`${file} is ${info.size} bytes; the allowlist may be at most ${MAX_ALLOWLIST_BYTES} bytes`);
      }
      return { kind: "content", text: await readFileAsync(file, "utf8") };
    },
    // Stat polling rather than fs.watch: editors and `git checkout` replace the file (new inode), which
    // fs.watch loses track of; polling follows the path. `persistent: false` never holds the process open.
    watch(onChange) {
      const listener = (now: { mtimeMs: number; size: number; ino: number }, before: typeof now) => {
        if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) onChange();
      };
      watchFile(file, { interval: pollMs, persistent: false }, listener);
      return () => unwatchFile(file, listener);
    },
  };
}
