// Writes the published JSON Schemas (docs/schemas/) from their zod sources, so the docs cannot drift from
// the code (test/unit/schemas.test.ts compares them). Run after a build: `node lib/schemas/export.js`.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { CALLBACK_SCHEMA_ENTRY } from "../callback/schema.js";
import { DispatchPayloadV1 } from "../dispatch/payload.js";
import { GateViewSchema } from "../gate/schema.js";
import { BackendViewSchema, HealthTrendViewSchema, HealthViewSchema, PrViewSchema, SummaryViewSchema, TrunkViewSchema } from "../hud/views.js";
import type { SchemaEntry } from "../validation/schema-entry.js";

export const SCHEMAS: readonly SchemaEntry[] = [
  {
    file: "dispatch-payload.v1.json",
    schema: DispatchPayloadV1,
    title: "Cross-repo CI relay dispatch payload v1",
    description:
      "client_payload of the repository_dispatch a downstream repository receives from the cross-repo CI relay.",
  },
  CALLBACK_SCHEMA_ENTRY,
  {
    file: "hud-summary.v1.json",
    schema: SummaryViewSchema,
    title: "Cross-repo CI relay HUD summary v1",
    description: "GET /api/hud/summary?days=N: every backend by level, worst first, against the level's requirements.",
  },
  {
    file: "hud-backend.v1.json",
    schema: BackendViewSchema,
    title: "Cross-repo CI relay HUD backend v1",
    description: "GET /api/hud/backends/<owner>/<repo>?days=N: one backend's health, daily series and history grid.",
  },
  {
    file: "hud-pr.v1.json",
    schema: PrViewSchema,
    title: "Cross-repo CI relay HUD pull request v1",
    description: "GET /api/hud/pr/<number>[?sha=]: the out-of-tree backends on a pull request's head.",
  },
  {
    file: "hud-health.v1.json",
    schema: HealthViewSchema,
    title: "Cross-repo CI relay HUD health v1",
    description: "GET /api/hud/health?days=N: every backend's figures against its level's requirements and the next level's (cross-repo-ci-relay health prints it).",
  },
  {
    file: "hud-health-weekly.v1.json",
    schema: HealthTrendViewSchema,
    title: "Cross-repo CI relay HUD health week by week v1",
    description: "GET /api/hud/health/weekly?weeks=N (and the page /hud/health): each backend's verdicts and main figures for each of the last N weeks.",
  },
  {
    file: "gate.v1.json",
    schema: GateViewSchema,
    title: "Cross-repo CI relay merge gate v1",
    description: "GET /api/gate/<owner>/<repo>/pull/<n>[?sha=]: the blocking backends of a pull request's head, the non-blocking failures, and which failed jobs also fail on trunk.",
  },
  {
    file: "hud-trunk.v1.json",
    schema: TrunkViewSchema,
    title: "Cross-repo CI relay HUD trunk v1",
    description: "GET /api/hud/trunk?days=N[&level=] and /api/hud/l4: upstream commits tested outside PRs (pushes, self-reports).",
  },
];

// Both src/schemas/ and lib/schemas/ sit two levels below the repository root.
export const SCHEMA_DIR = fileURLToPath(new URL("../../docs/schemas/", import.meta.url));

const ID_PREFIX = "urn:cross-repo-ci-relay:schema:";

export function schemaId(file: string): string {
  return ID_PREFIX + file.replace(/\.json$/, "");
}

/** The file's exact contents: pretty-printed JSON with a trailing newline. */
export function renderSchema(entry: SchemaEntry): string {
  const { $schema, ...body } = z.toJSONSchema(entry.schema, { target: "draft-2020-12" });
  const document = { $schema, $id: schemaId(entry.file), title: entry.title, description: entry.description, ...body };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Writes every schema into `dir`; returns the paths written. */
export function writeSchemas(dir = SCHEMA_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  return SCHEMAS.map((entry) => {
    const file = path.join(dir, entry.file);
    writeFileSync(file, renderSchema(entry));
    return file;
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const file of writeSchemas()) process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
