// One published JSON Schema (docs/schemas/): its zod source and how src/schemas/export.ts writes it.
import type { z } from "zod";

export interface SchemaEntry {
  /** File name under docs/schemas/; also names the schema's `$id`. */
  file: string;
  schema: z.ZodType;
  title: string;
  description: string;
}
