import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Three relay processes on PostgreSQL for 2–3 minutes: `npm run test:replicas` (run by .ci/run), not `npm test`.
    exclude: ["**/node_modules/**", ...(process.env.RELAY_TEST_REPLICAS === "1" ? [] : ["test/integration/replicas.test.ts"])],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests that start the built server or a CLI child process need lib/ (built by `npm test`).
    pool: "forks",
    // A throwaway PostgreSQL database per run, for the PostgreSQL Store's tests.
    globalSetup: ["test/setup/postgres.ts"],
  },
});
