import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests that start the built server or a CLI child process need lib/ (built by `npm test`).
    pool: "forks",
    // A throwaway PostgreSQL database per run, for the PostgreSQL Store's tests.
    globalSetup: ["test/setup/postgres.ts"],
  },
});
