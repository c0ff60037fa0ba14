/**
 * A client that goes away cancels its request, as on Neon: the pg backend cancels the running
 * statement and rolls a batch back; PGlite, which cannot interrupt a statement, skips what has not
 * started (docs/neon-contract.md). Also the slow fault server of the Worker tests, which must pass
 * a client's departure on rather than run its statement anyway.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";
import { portOf, startSlowServer } from "../setup/fault-servers";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

describe.each(backends)("stand-in cancellation on %s", (backend) => {
  let standIn: StandIn;
  let dropDatabase: (() => Promise<void>) | undefined;
  let sql: NeonQueryFunction<false, false>;
  const table = `standin_cancel_${randomBytes(4).toString("hex")}`;
  let nextId = 0;

  beforeAll(async () => {
    const scratch =
      backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "standin_cancel") : undefined;
    dropDatabase = scratch?.drop;
    standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
    sql = neon(standIn.databaseUrl());
    await sql.query(`create table ${table} (id integer primary key)`);
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
    await dropDatabase?.();
  });

  /** Options that make the driver give up after `ms`, as a Worker past its deadline does. */
  const giveUpAfter = (ms: number) => ({ fetchOptions: { signal: AbortSignal.timeout(ms) } });

  async function rowExists(id: number): Promise<boolean> {
    return (await sql.query(`select 1 from ${table} where id = $1`, [id])).length > 0;
  }

  /** The backend running a statement containing `marker`, once it runs. */
  async function backendRunning(marker: string): Promise<number> {
    for (const deadline = Date.now() + 2000; Date.now() < deadline; ) {
      const rows = (await sql.query(
        "select pid from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()",
        [`%${marker}%`],
      )) as { pid: number }[];
      if (rows[0] !== undefined) return rows[0].pid;
      await sleep(20);
    }
    throw new Error(`no statement with ${marker} ran`);
  }

  async function backendExists(pid: number): Promise<boolean> {
    return (await sql.query("select 1 from pg_stat_activity where pid = $1", [pid])).length > 0;
  }

  /** Waits until no backend runs a statement containing `marker`; how long that took. */
  async function waitUntilIdle(marker: string): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < 5000) {
      const [{ n }] = (await sql.query(
        "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()",
        [`%${marker}%`],
      )) as [{ n: number }];
      if (n === 0) return Date.now() - started;
      await sleep(50);
    }
    return Date.now() - started;
  }

  it("rolls back a batch whose client leaves before it ends", async () => {
    const id = ++nextId;
    const batch = sql.transaction(
      [sql.query(`select pg_sleep(0.6)`), sql.query(`insert into ${table} values (${id})`)],
      giveUpAfter(150),
    );
    await expect(batch).rejects.toThrow();
    // Long enough for the sleep to end and the insert to have run, had it been allowed to.
    await sleep(900);
    expect(await rowExists(id)).toBe(false);
  });

  if (backend === "pg") {
    it("cancels a running statement and discards its connection", async () => {
      const id = ++nextId;
      const marker = `cancel_single_${id}`;
      // The driver sends a query when it is awaited: catch() sends it now.
      const insert = sql
        .query(`insert into ${table} select ${id} from pg_sleep(3) /* ${marker} */`, [], giveUpAfter(300))
        .catch((error: unknown) => error);
      const pid = await backendRunning(marker);
      expect(await insert).toBeInstanceOf(Error);
      // Cancelled, not run to its end three seconds later.
      expect(await waitUntilIdle(marker)).toBeLessThan(1500);
      expect(await rowExists(id)).toBe(false);
      await expect.poll(() => backendExists(pid), { timeout: 1000 }).toBe(false);
    });

    it("cancels the running statement of a batch and rolls the batch back", async () => {
      const id = ++nextId;
      const marker = `cancel_batch_${id}`;
      const batch = sql.transaction(
        [sql.query(`insert into ${table} values (${id})`), sql.query(`select pg_sleep(3) /* ${marker} */`)],
        giveUpAfter(300),
      );
      await expect(batch).rejects.toThrow();
      expect(await waitUntilIdle(marker)).toBeLessThan(1500);
      expect(await rowExists(id)).toBe(false);
    });
  }

  describe("behind the slow fault server", () => {
    let slow: Server | undefined;

    afterAll(async () => {
      await closeSlowServer();
    });

    async function closeSlowServer() {
      const server = slow;
      if (server !== undefined) await new Promise((resolve) => server.close(resolve));
    }

    /** The driver, sent through a fault server that waits `delayMs` before forwarding. */
    async function throughSlowServer(delayMs: number) {
      await closeSlowServer();
      slow = await startSlowServer(standIn.url, delayMs);
      const url = new URL(standIn.databaseUrl());
      url.port = String(portOf(slow));
      return neon(url.toString());
    }

    it("forwards nothing for a client that left during the delay", async () => {
      const slowSql = await throughSlowServer(400);
      const before = standIn.stats().requests;
      await expect(slowSql.query("select 1", [], giveUpAfter(100))).rejects.toThrow();
      await sleep(600);
      expect(standIn.stats().requests).toBe(before);
    });

    it("forwards a request whose client waits", async () => {
      const slowSql = await throughSlowServer(50);
      expect(await slowSql`select 1 as one`).toEqual([{ one: 1 }]);
    });

    if (backend === "pg") {
      it("aborts the forward of a client that left during it, so the stand-in cancels the statement", async () => {
        const slowSql = await throughSlowServer(0);
        const id = ++nextId;
        const marker = `cancel_forward_${id}`;
        const insert = slowSql.query(
          `insert into ${table} select ${id} from pg_sleep(3) /* ${marker} */`,
          [],
          giveUpAfter(300),
        );
        await expect(insert).rejects.toThrow();
        expect(await waitUntilIdle(marker)).toBeLessThan(1500);
        expect(await rowExists(id)).toBe(false);
      });
    }
  });
});
