// Bundles a TypeScript entry with esbuild into node_modules/.cache/relay-dev/ (Node 20 cannot strip
// types): packages stay external and load from node_modules as usual. Used by run-ts.mjs and by the
// load benchmark's worker thread.
import path from "node:path";
import { build } from "esbuild";

/** Bundles `entry` (a path inside `root`) and resolves to the bundle's path. */
export async function bundleTs(root, entry) {
  const relative = path.relative(root, path.resolve(entry));
  const outfile = path.join(root, "node_modules/.cache/relay-dev", `${relative.replace(/\.ts$/, "").replaceAll(path.sep, "-")}.mjs`);
  await build({
    entryPoints: [path.resolve(entry)],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
  return outfile;
}
