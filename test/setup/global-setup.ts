import type { Server } from "node:http";
import type { TestProject } from "vitest/node";
import { createScratchDatabase } from "../../dev/scratch-database";
import { startStandIn } from "../../dev/standin";
import { STANDIN_SECRET_VARIABLE, WORKER_PASSWORD_VARIABLE } from "../secrets";
import { startEchoOrigin } from "./echo-origin";
import {
  findClosedPort,
  portOf,
  startFailingServer,
  startSlowServer,
  startWireFaultServer,
  WIRE_FAULTS,
  type WireFault,
} from "./fault-servers";
import { checkResponses, startResponseLog } from "./response-contract";
import { createTestRoles } from "./test-roles";

/** How long the slow fault server holds each request: well past the tests' VALIDATION_TIMEOUT_MS. */
export const SLOW_DATABASE_DELAY_MS = 3000;

declare module "vitest" {
  export interface ProvidedContext {
    standInPort: number;
    /** The Worker's DATABASE_URL: the stand-in, as the run's least-privilege worker role. */
    standInDatabaseUrl: string;
    /** The tests' own SQL, playing the existing application: the stand-in's admin role. */
    standInOwnerDatabaseUrl: string;
    /** A role that may log in and do nothing else: a deployment without the grants. */
    standInUngrantedDatabaseUrl: string;
    failingPort: number;
    slowPort: number;
    closedPort: number;
    /** One server per fault of a misbehaving wire (fault-servers.ts `WIRE_FAULTS`), and whether the statement ran. */
    wireFaults: Record<WireFault, { port: number; ran: boolean }>;
    originPort: number;
    attackerPort: number;
    responseLogPort: number;
    backend: string;
  }
}

/**
 * Starts the Neon stand-in for the Worker tests: on the PostgreSQL server named by
 * TEST_DATABASE_URL (in a fresh database made for this run and dropped after), or on an embedded
 * PGlite when it is unset. The migrations run first, exactly as `npm run db:migrate` runs them.
 */
export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, "sessiongate_test") : undefined;
  const standIn = await startStandIn({
    databaseUrl: scratch?.url,
    secret: process.env[STANDIN_SECRET_VARIABLE],
    port: 0,
    log: () => {},
  });
  await standIn.backend.migrate("drizzle");
  const roles = await createTestRoles(standIn, process.env[WORKER_PASSWORD_VARIABLE] ?? "");
  const failing = await startFailingServer();
  const slow = await startSlowServer(standIn.url, SLOW_DATABASE_DELAY_MS);
  const wireFaults = await Promise.all(
    (Object.keys(WIRE_FAULTS) as WireFault[]).map(
      async (fault) => [fault, await startWireFaultServer(standIn.url, fault)] as const,
    ),
  );
  const origin = await startEchoOrigin();
  const attacker = await startEchoOrigin();
  const responseLog = await startResponseLog();

  project.provide("standInPort", standIn.port);
  project.provide("standInDatabaseUrl", standIn.databaseUrl(undefined, roles.worker));
  project.provide("standInOwnerDatabaseUrl", standIn.databaseUrl());
  project.provide("standInUngrantedDatabaseUrl", standIn.databaseUrl(undefined, roles.ungranted));
  project.provide("failingPort", portOf(failing));
  project.provide("slowPort", portOf(slow));
  project.provide("closedPort", await findClosedPort());
  project.provide(
    "wireFaults",
    Object.fromEntries(
      wireFaults.map(([fault, server]) => [fault, { port: portOf(server), ran: WIRE_FAULTS[fault].ran }]),
    ) as Record<WireFault, { port: number; ran: boolean }>,
  );
  project.provide("originPort", portOf(origin));
  project.provide("attackerPort", portOf(attacker));
  project.provide("responseLogPort", responseLog.port);
  project.provide("backend", standIn.backend.description);
  console.log(`[test] Neon stand-in on ${standIn.url}: ${standIn.backend.description}`);

  return async () => {
    await Promise.all(
      [failing, slow, ...wireFaults.map(([, server]) => server), origin, attacker, responseLog.server].map(
        (s: Server) => {
          // A dripping or huge answer may still be on its way to a client that left.
          s.closeAllConnections();
          return new Promise((resolve) => s.close(resolve));
        },
      ),
    );
    await roles.drop();
    await standIn.close();
    await scratch?.drop();
    // Every documented status must have been seen only when every test file of the project ran.
    const ran = project.vitest.state.getFiles().filter((file) => file.projectName === project.name).length;
    const all = (await project.globTestFiles()).testFiles.length;
    const problems = checkResponses(responseLog.responses, { complete: ran === all });
    if (problems.length > 0) {
      throw new Error(`responses that disagree with /openapi.json:\n  ${problems.join("\n  ")}`);
    }
  };
}
