import { availableParallelism } from "node:os";
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
    // Vitest's default is one worker fewer than the cores: a single worker on a 2-core machine, idle
    // whenever a test waits on a child process or the network. Two keep both cores busy.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // A throwaway PostgreSQL database per run, for the PostgreSQL Store's tests.
    globalSetup: ["test/setup/postgres.ts"],
  },
});
