import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

const common = { environment: "node", pool: "forks", testTimeout: 20_000, hookTimeout: 30_000 } as const;

export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: a single worker on a 2-core machine, idle
    // whenever a test waits on a child process, a socket or a timer. Two per core keep the cores busy
    // (measured on 2 cores: 1 worker 5 min 16 s, 2 workers 3 min 7 s, 4 workers 2 min 25 s).
    maxWorkers: Math.min(8, 2 * availableParallelism()),
    projects: [
      {
        test: {
          ...common,
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // The pure core's tests share one module cache per worker instead of importing it again for
          // each file. Only here: the other tests hold process-wide things (chDB binds one data
          // directory per process, nock, servers), so each of their files gets a fresh process.
          isolate: false,
        },
      },
      {
        test: {
          ...common,
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/security/**/*.test.ts", "test/browser/**/*.test.ts"],
          // Three relay processes on PostgreSQL for 2–3 minutes: `npm run test:replicas` (run by .ci/run), not `npm test`.
          exclude: ["**/node_modules/**", ...(process.env.RELAY_TEST_REPLICAS === "1" ? [] : ["test/integration/replicas.test.ts"])],
          // lib/ compiled from src/ (child-process tests run it); a throwaway PostgreSQL database per run.
          globalSetup: ["test/setup/build.ts", "test/setup/postgres.ts"],
        },
      },
    ],
  },
});
