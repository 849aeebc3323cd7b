import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SCHEMAS, SCHEMA_DIR, renderSchema } from "../../src/schemas/export.js";

const GITHUB_MAX_DISPATCH_KEYS = 10;

function committed(file: string): string | undefined {
  try {
    return readFileSync(path.join(SCHEMA_DIR, file), "utf8");
  } catch {
    return undefined;
  }
}

describe("published JSON Schemas", () => {
  it.each(SCHEMAS.map((entry) => [entry.file, entry] as const))("docs/schemas/%s matches its zod source", (file, entry) => {
    expect(
      committed(file),
      `docs/schemas/${file} is missing or out of date: run \`npm run build && node lib/schemas/export.js\` and commit the result`,
    ).toBe(renderSchema(entry));
  });

  it("keeps the dispatch payload within GitHub's client_payload key limit", () => {
    const entry = SCHEMAS.find((candidate) => candidate.file === "dispatch-payload.v1.json");
    const schema = JSON.parse(renderSchema(entry!));
    const limitedByMax = typeof schema.maxProperties === "number" && schema.maxProperties <= GITHUB_MAX_DISPATCH_KEYS;
    const closedAndSmall =
      schema.additionalProperties === false && Object.keys(schema.properties).length <= GITHUB_MAX_DISPATCH_KEYS;
    expect(limitedByMax || closedAndSmall).toBe(true);
    expect(schema.required).toEqual(expect.arrayContaining(["schema_version", "pr_number", "head_sha", "ticket"]));
  });
});
