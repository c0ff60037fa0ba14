import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** The admin key the Worker tests run with (a test-only value of the required 32+ characters). */
const TEST_ADMIN_API_KEY = "test-admin-key-0123456789abcdefghijklmnop";

export default defineConfig({
  test: {
    // Every check logs a JSON line; show them only for a test that failed.
    silent: "passed-only",
    projects: [
      {
        // Pure functions and the stand-in's contract with the genuine driver, in Node.
        test: {
          name: "node",
          include: ["test/unit/**/*.test.ts", "test/contract/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The real Worker inside workerd, through the genuine driver, to the stand-in.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("standInDatabaseUrl"),
                NEON_LOCAL_HTTP: "true",
                ADMIN_API_KEY: TEST_ADMIN_API_KEY,
                VALIDATION_TIMEOUT_MS: "1000",
                TEST_FAILING_PORT: String(inject("failingPort")),
                TEST_SLOW_PORT: String(inject("slowPort")),
                TEST_CLOSED_PORT: String(inject("closedPort")),
                TEST_STANDIN_PORT: String(inject("standInPort")),
                TEST_ORIGIN_PORT: String(inject("originPort")),
                TEST_ATTACKER_PORT: String(inject("attackerPort")),
                // Cases per property in test/worker/fuzz/: a few hundred in `npm test`, more in `npm run test:fuzz`.
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "200",
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/setup/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
