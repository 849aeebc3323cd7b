// Runs a TypeScript entry under Node 20, which cannot strip types: bundles it with esbuild into
// node_modules/.cache/relay-dev/ (packages stay external and load from node_modules as usual), then
// imports the bundle with the remaining arguments in process.argv.
//   node scripts/run-ts.mjs <entry.ts> [args...]
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundleTs } from "./bundle-ts.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write("usage: node scripts/run-ts.mjs <entry.ts> [args...]\n");
  process.exit(2);
}

const outfile = await bundleTs(root, entry);

// Stack traces point into the .ts sources.
process.setSourceMapsEnabled(true);
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);
