// A fresh, empty PostgreSQL schema per caller, inside the run's throwaway database (test/setup/postgres.ts):
// tests never see each other's rows, and the database is dropped when the run ends.
import { randomBytes } from "node:crypto";
import { inject } from "vitest";

/** The run's database URL and the name of a schema no one has used yet (the store creates it). */
export function freshSchema(): { url: string; schema: string } {
  return { url: inject("postgresUrl"), schema: `s_${randomBytes(6).toString("hex")}` };
}
