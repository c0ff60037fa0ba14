import type { Env as WorkerEnv } from "../src/config";
import type { MetricsBinding } from "../src/metrics";

declare global {
  namespace Cloudflare {
    /** The Worker's bindings in the tests, plus the ports of the test's fault servers. */
    interface Env extends WorkerEnv, MetricsBinding {
      /** The tests' own SQL (playing the existing application): the stand-in's admin role. */
      TEST_OWNER_DATABASE_URL: string;
      /** A role that may log in and nothing else. */
      TEST_UNGRANTED_DATABASE_URL: string;
      TEST_FAILING_PORT: string;
      TEST_SLOW_PORT: string;
      TEST_CLOSED_PORT: string;
      TEST_STANDIN_PORT: string;
      TEST_ORIGIN_PORT: string;
      TEST_ATTACKER_PORT: string;
      /** Where callWorker sends a copy of each response, for the API-document check (test/setup/response-contract.ts). */
      TEST_RESPONSE_LOG_PORT: string;
      /** fast-check runs per property in test/worker/fuzz/ (vitest.config.ts; `npm run test:fuzz` raises it). */
      FUZZ_RUNS: string;
      /** Rounds of the race test (vitest.config.ts; `npm run test:race` raises it). */
      RACE_ROUNDS: string;
    }
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The ports of the faults of a misbehaving wire (test/setup/fault-servers.ts), and whether each lets the statement run. */
    wireFaults: Record<string, { port: number; ran: boolean }>;
  }
}
