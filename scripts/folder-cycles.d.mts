// Types for scripts/folder-cycles.mjs (imported by test/unit/folder-cycles.test.ts).
export interface FolderCycle {
  nodes: string[];
  links: { from: string; to: string; via: string[] }[];
}
export function relativeImports(source: string): string[];
export function folderCycles(srcDir?: string): { edges: Map<string, Map<string, string[]>>; cycles: FolderCycle[] };
