/**
 * Failures that are not Postgres errors, answered as Neon's proxy answers them
 * (docs/neon-contract.md): a database it cannot reach is a 500 `Couldn't connect to compute
 * node`; a connection lost in the middle of a statement is a 400 `connection closed`.
 */
import { NeonDbError, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";
import { startTcpRelay } from "../setup/fault-servers";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;

describe("stand-in in front of an unreachable PostgreSQL server", () => {
  it("answers Neon's 500, logs the failure once, and keeps serving", async () => {
    const lines: string[] = [];
    // Nothing listens on port 1: every connection attempt is refused.
    const standIn = await startStandIn({
      databaseUrl: "postgres://postgres:secret@127.0.0.1:1/nowhere",
      port: 0,
      log: (line) => lines.push(line),
    });
    try {
      expect(standIn.backend.description).not.toContain("secret");
      const sql = neon(standIn.databaseUrl());
      const error = await sql`select 1`.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NeonDbError);
      expect(String(error)).toContain(
        'Server error (HTTP status 500): {"message":"Couldn\'t connect to compute node","code":""',
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("ECONNREFUSED");
      const health = await fetch(`${standIn.url}/__standin/health`);
      expect(health.status).toBe(200);
    } finally {
      await standIn.close();
    }
  });
});

describe.skipIf(!serverUrl)("stand-in losing its PostgreSQL connection mid-statement", () => {
  let relay: Awaited<ReturnType<typeof startTcpRelay>>;
  let standIn: StandIn;
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(serverUrl ?? "", "standin_failures");
    dropDatabase = scratch.drop;
    const server = new URL(scratch.url);
    relay = await startTcpRelay(Number(server.port || "5432"));
    server.port = String(relay.port);
    standIn = await startStandIn({ databaseUrl: server.toString(), port: 0 });
  });

  afterAll(async () => {
    await standIn?.close();
    await relay?.close();
    await dropDatabase?.();
  });

  it("answers Neon's 400 `connection closed`, then serves on a new connection", async () => {
    const sql = neon(standIn.databaseUrl());
    const sleeping = sql`select pg_sleep(5)`.catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 300));
    relay.cut();
    const error = await sleeping;
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({ message: "connection closed", code: "", severity: "" });
    expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
  });
});
