/**
 * No session state outlives a request, as with Neon's connection pool, which resets every
 * connection after use (docs/neon-contract.md). Through the genuine driver, on PGlite always and
 * on the TEST_DATABASE_URL server when set.
 */
import { randomBytes } from "node:crypto";
import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

describe.each(backends)("stand-in session reset on %s", (backend) => {
  let standIn: StandIn;
  let dropDatabase: (() => Promise<void>) | undefined;
  let sql: NeonQueryFunction<false, false>;

  beforeAll(async () => {
    const scratch =
      backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "standin_session") : undefined;
    dropDatabase = scratch?.drop;
    standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
    sql = neon(standIn.databaseUrl());
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
    await dropDatabase?.();
  });

  const unique = (prefix: string) => `${prefix}_${randomBytes(4).toString("hex")}`;

  it("forgets a SET, a temp table, an advisory lock, a prepared statement and currval after the request", async () => {
    const temp = unique("standin_temp");
    const sequence = unique("standin_seq");
    const prepared = unique("standin_prepared");
    const lockKey = 424242;
    await sql.query(`create sequence ${sequence}`);
    const defaultTimeout = await sql.query("show statement_timeout");

    await sql.transaction([
      sql.query("set statement_timeout = 98765"),
      sql.query(`create temp table ${temp} (id integer)`),
      sql.query(`select pg_advisory_lock(${lockKey})`),
      sql.query(`prepare ${prepared} as select 1`),
      sql.query(`select nextval('${sequence}')`),
    ]);

    expect(await sql.query("show statement_timeout")).toEqual(defaultTimeout);
    expect(await sql.query(`select to_regclass('pg_temp.${temp}') as temp`)).toEqual([{ temp: null }]);
    // Another connection may look before the reset has run, as on Neon, which resets in the background.
    const locks = () =>
      sql.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = ${lockKey}`);
    await expect.poll(locks, { timeout: 1000 }).toEqual([{ n: 0 }]);
    expect(await sql.query(`select count(*)::int as n from pg_prepared_statements where name = '${prepared}'`)).toEqual(
      [{ n: 0 }],
    );
    await expect(sql.query(`select currval('${sequence}')`)).rejects.toMatchObject({ code: "55000" });
  });

  it("forgets a SET sent as a single query", async () => {
    await sql.query("set search_path = pg_catalog");
    expect(await sql.query("show search_path")).not.toEqual([{ search_path: "pg_catalog" }]);
  });

  it("rolls back a lone BEGIN at the end of its request: the next statements commit on their own", async () => {
    const table = unique("standin_begin");
    await sql.query(`create table ${table} (id integer)`);
    await sql.query("begin");
    await sql.query(`insert into ${table} values (1)`);
    // Had the BEGIN survived, this would undo the insert.
    await sql.query("rollback");
    expect(await sql.query(`select id from ${table}`)).toEqual([{ id: 1 }]);
  });

  it("leaves a role's request as that role only: the next admin request is the admin again", async () => {
    const role = unique("standin_session_role");
    const password = randomBytes(12).toString("base64url");
    await standIn.backend.query(`create role ${role} login password '${password}'`, []);
    try {
      const asRole = neon(standIn.databaseUrl(undefined, { user: role, password }));
      expect(await asRole`select current_user as who`).toEqual([{ who: role }]);
      expect(await sql`select current_user as who, session_user as session`).toEqual([
        { who: standIn.user, session: standIn.user },
      ]);
    } finally {
      await standIn.backend.query(`drop role ${role}`, []);
    }
  });
});
