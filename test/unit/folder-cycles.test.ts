// No two folders of src/ import each other, directly or around a circle (scripts/folder-cycles.mjs).
import { describe, expect, it } from "vitest";
import { folderCycles, relativeImports } from "../../scripts/folder-cycles.mjs";

describe("folder cycles", () => {
  it("reads relative imports, type-only and multi-line ones too", () => {
    const source = 'import type { A } from "../a/x.js";\nimport {\n  b,\n} from "./b.js";\nexport { c } from "../c/y.js";\nimport { z } from "zod";\n';
    expect(relativeImports(source)).toEqual(["../a/x.js", "./b.js", "../c/y.js"]);
  });

  it("finds none in src/", () => {
    const cycles = folderCycles().cycles.map((cycle) => cycle.nodes.join(" -> "));
    expect(cycles).toEqual([]);
  });
});
