import { randomBytes } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { STANDIN_SECRET_VARIABLE, TEST_SECRETS, WORKER_PASSWORD_VARIABLE } from "./test/secrets";

// The stand-in's password for this run: the global setup starts the stand-in with it, and the
// no-secrets reporter looks for it in everything the run prints.
process.env[STANDIN_SECRET_VARIABLE] ??= randomBytes(18).toString("base64url");
// And the password of the least-privilege role the Worker runs as in the tests (test/setup/test-roles.ts).
process.env[WORKER_PASSWORD_VARIABLE] ??= randomBytes(18).toString("base64url");

export default defineConfig({
  test: {
    // Every check logs a JSON line; show them only for a test that failed.
    silent: "passed-only",
    // A secret the suite configured, seen in any output, fails the run (test/reporters/no-secrets.ts).
    reporters: ["default", "./test/reporters/no-secrets.ts"],
    projects: [
      {
        // In Node: the stand-in's contract with the genuine driver, the migrations, the docs.
        test: {
          name: "node",
          include: ["test/contract/**/*.test.ts"],
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
            // The outage tests abort requests on purpose: no stack dump from workerd for each.
            verbose: false,
            miniflare: {
              bindings: {
                // The Worker runs as the least-privilege role; the tests' own SQL as the stand-in's admin.
                DATABASE_URL: inject("standInDatabaseUrl"),
                TEST_OWNER_DATABASE_URL: inject("standInOwnerDatabaseUrl"),
                TEST_UNGRANTED_DATABASE_URL: inject("standInUngrantedDatabaseUrl"),
                NEON_LOCAL_HTTP: "true",
                ADMIN_API_KEY: TEST_SECRETS.adminApiKey,
                VALIDATION_TIMEOUT_MS: "1000",
                TEST_FAILING_PORT: String(inject("failingPort")),
                TEST_SLOW_PORT: String(inject("slowPort")),
                TEST_CLOSED_PORT: String(inject("closedPort")),
                TEST_STANDIN_PORT: String(inject("standInPort")),
                TEST_ORIGIN_PORT: String(inject("originPort")),
                TEST_ATTACKER_PORT: String(inject("attackerPort")),
                TEST_RESPONSE_LOG_PORT: String(inject("responseLogPort")),
                // Cases per property in test/worker/fuzz/: a few hundred in `npm test`, more in `npm run test:fuzz`.
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "200",
                // Rounds of test/worker/races.test.ts: 60 in `npm test`, 1,000 in `npm run test:race` (ROUNDS).
                RACE_ROUNDS: process.env.ROUNDS ?? "60",
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
