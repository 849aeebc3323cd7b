// Vitest global setup: a throwaway PostgreSQL database for this test run, dropped at the end. Tests get
// its URL with `inject("postgresUrl")` (test/helpers/postgres.ts). The server is the one at
// TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres, as .ci/run starts it).
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

const SERVER_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const admin = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${redacted(SERVER_URL)} (${String(error)}). The Store contract runs against it: ` +
        "start the server (.ci/run does: pg_ctlcluster … main start) or point TEST_POSTGRES_URL at one.",
      { cause: error },
    );
  }
  const name = `relay_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  project.provide("postgresUrl", url.toString());
  return async () => {
    const cleanup = new pg.Client({ connectionString: SERVER_URL });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.end();
  };
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
