import { defineConfig } from "vitest/config";

/**
 * The test suite: three projects, one per folder of test/. Unit tests need nothing outside the
 * process; integration tests get the run's Azurite and Samba AD (started once, handed to the
 * files through provide/inject, see test/support/*.global.ts); end-to-end tests start whole
 * local stacks. `npm test` runs them all; `npx vitest run test/unit`, `-t <name>` select.
 */
const TIMEOUT_MS = 600_000;

export default defineConfig({
  test: {
    // One process per file, as the suite was written for: files set process.env,
    // start peers and child processes; a file's leftovers (an SDK's 60 s disposition timer)
    // end with its process instead of holding the run.
    pool: "forks",
    isolate: true,
    maxWorkers: Number(process.env.TEST_CONCURRENCY ?? 2),
    // A hang becomes a failure after ten minutes, not a stuck CI.
    testTimeout: TIMEOUT_MS,
    hookTimeout: TIMEOUT_MS,
    teardownTimeout: 30_000,
    reporters: ["default", "./test/support/ran-no-test-guard.ts"],
    coverage: {
      provider: "v8",
      // Printed in CI (CI=true), never gated.
      enabled: process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false",
      reporter: ["text-summary"],
      include: ["{functions,shared,agent,cli,dev,emulators}/**/*.{ts,mjs,js}"],
    },
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "integration", include: ["test/integration/**/*.test.ts"], globalSetup: ["test/support/azurite.global.ts", "test/support/samba.global.ts"] },
      },
      { extends: true, test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], globalSetup: ["test/support/samba.global.ts"] } },
    ],
  },
});
