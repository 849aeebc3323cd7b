// Printing: one markdown table per scenario, and every figure kept for bench/results/relay-load.json.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export type Cell = string | number;

const print = (line = "") => process.stdout.write(`${line}\n`);

export function table(title: string, headers: string[], rows: Cell[][]): void {
  print(`\n### ${title}\n`);
  print(`| ${headers.join(" | ")} |`);
  print(`| ${headers.map(() => "---").join(" | ")} |`);
  for (const row of rows) print(`| ${row.map(String).join(" | ")} |`);
}

export const note = (line: string) => print(line);

/** "none", or "429×3, TimeoutError×1". */
export function errorList(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? "none" : entries.map(([outcome, count]) => `${outcome}×${count}`).join(", ");
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  print(`\nwrote ${file}`);
}
