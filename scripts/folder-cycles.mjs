// Folder-level import cycles in src/: `node scripts/folder-cycles.mjs` prints each cycle and exits 1 if
// there is one. A node is a folder directly under src/ (src/hud/pages/x.ts belongs to "hud") or a
// top-level file (src/config.ts is "config.ts"). An edge is a relative import or re-export (type-only
// ones too) from a file in one node to a file in another. A cycle is a strongly connected component of
// more than one node.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** `import … from "x"`, `export … from "x"` (multi-line too), `import "x"` and `import("x")`. */
const SPECIFIER = /^\s*(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

/** Relative specifiers in a TypeScript source. */
export function relativeImports(source) {
  const found = [];
  for (const match of source.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier?.startsWith(".")) found.push(specifier);
  }
  return found;
}

/** The node a file under `srcDir` belongs to: its top-level folder, or its own name at the top level. */
function nodeOf(srcDir, file) {
  return path.relative(srcDir, file).split(path.sep)[0];
}

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The folder graph of `srcDir` and its cycles. `edges` maps each node to the nodes it imports, with the
 * imports behind each edge (`from` file → specifier) so a cycle can be traced to its lines.
 */
export function folderCycles(srcDir = path.join(ROOT, "src")) {
  const edges = new Map();
  for (const file of tsFiles(srcDir)) {
    const from = nodeOf(srcDir, file);
    if (!edges.has(from)) edges.set(from, new Map());
    for (const specifier of relativeImports(readFileSync(file, "utf8"))) {
      const target = path.resolve(path.dirname(file), specifier);
      if (path.relative(srcDir, target).startsWith("..")) continue;
      const to = nodeOf(srcDir, target).replace(/\.js$/, ".ts");
      if (to === from) continue;
      const via = edges.get(from).get(to) ?? [];
      via.push(`${path.relative(srcDir, file)} -> ${specifier}`);
      edges.get(from).set(to, via);
    }
  }
  const cycles = stronglyConnected(edges)
    .filter((component) => component.length > 1)
    .map((nodes) => {
      const inside = new Set(nodes);
      const links = nodes.flatMap((from) =>
        [...edges.get(from)].filter(([to]) => inside.has(to)).map(([to, via]) => ({ from, to, via })),
      );
      return { nodes: nodes.sort(), links };
    })
    .sort((a, b) => a.nodes[0].localeCompare(b.nodes[0]));
  return { edges, cycles };
}

/** Tarjan's algorithm over a Map<node, Map<node, unknown>>. */
function stronglyConnected(edges) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return components;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { cycles } = folderCycles(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  for (const cycle of cycles) {
    process.stdout.write(`cycle: ${cycle.nodes.join(", ")}\n`);
    for (const link of cycle.links) {
      process.stdout.write(`  ${link.from} -> ${link.to}\n`);
      for (const via of link.via) process.stdout.write(`      ${via}\n`);
    }
  }
  if (cycles.length > 0) process.exit(1);
  process.stdout.write("no folder cycles\n");
}
