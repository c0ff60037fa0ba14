/**
 * The stand-in reads the connection string, checks the password and runs the request as that role
 * on that database, as Neon's proxy does (docs/neon-contract.md). Through the genuine driver where
 * it can send the request (it checks scheme, user, host and database itself), raw HTTP otherwise.
 * Runs on PGlite always, and on the TEST_DATABASE_URL server when set.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { NeonDbError, neon, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

/** Roles belong to the whole server: names of this run's own. */
function uniqueRole(purpose: string): string {
  return `standin_${purpose}_${randomBytes(4).toString("hex")}`;
}

describe.each(backends)("stand-in credentials on %s", (backend) => {
  let standIn: StandIn;
  let dropDatabase: (() => Promise<void>) | undefined;
  const roles: string[] = [];

  beforeAll(async () => {
    const scratch = backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "standin_auth") : undefined;
    dropDatabase = scratch?.drop;
    standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
  }, 60_000);

  afterAll(async () => {
    for (const role of roles) {
      await standIn.backend.query(`drop owned by ${role}`, []);
      await standIn.backend.query(`drop role ${role}`, []);
    }
    await standIn?.close();
    await dropDatabase?.();
  });

  /** A role of this run; `password` null for a role that has none. */
  async function createRole(purpose: string, password: string | null, attributes = "login"): Promise<string> {
    const role = uniqueRole(purpose);
    roles.push(role);
    // Our own identifiers and passwords, without quotes: safe to inline.
    const passwordClause = password === null ? "" : ` password '${password}'`;
    await standIn.backend.query(`create role ${role} ${attributes}${passwordClause}`, []);
    return role;
  }

  /** A raw request with the driver's headers and `connectionString`, sent exactly as given. */
  function send(connectionString: string | undefined, extra: Record<string, string> = {}) {
    const headers: Record<string, string> = {
      host: `127.0.0.1:${standIn.port}`,
      "content-type": "text/plain;charset=UTF-8",
      ...extra,
    };
    if (connectionString !== undefined) headers["neon-connection-string"] = connectionString;
    return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const request = httpRequest(
        { host: "127.0.0.1", port: standIn.port, path: "/sql", method: "POST", headers, setHost: false },
        (response) => {
          let text = "";
          response.setEncoding("latin1");
          response.on("data", (chunk: string) => {
            text += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      request.on("error", reject);
      request.end(JSON.stringify({ query: "select 1", params: [] }));
    });
  }

  const at = () => `127.0.0.1:${standIn.port}`;

  it.each<[string, () => string | undefined, string]>([
    ["no connection string", () => undefined, "invalid header: neon-connection-string"],
    ["a character beyond ASCII", () => `postgres://pöstgres:pw@${at()}/db`, "invalid header: neon-connection-string"],
    ["no scheme", () => "just words", "invalid connection string: relative URL without a base"],
    [
      "a port out of range",
      () => "postgres://u:pw@127.0.0.1:99999/db",
      "invalid connection string: invalid port number",
    ],
    ["no host after the user", () => "postgres://u:pw@/db", "invalid connection string: empty host"],
    ["another scheme, and no password", () => `mysql://u@${at()}/db`, "incorrect scheme"],
    ["no database, and no password", () => `postgres://u@${at()}`, "missing database name"],
    ["a user that is not UTF-8", () => `postgres://u%ff:pw@${at()}/db`, "invalid username: invalid utf-8 sequence"],
    ["no user, and no password", () => `postgres://${at()}/db`, "missing username"],
    ["no password", () => `postgres://u@${at()}/db`, "missing authentication credentials: required password"],
    ["an empty password", () => `postgres://u:@${at()}/db`, "missing authentication credentials: required password"],
  ])("refuses %s with Neon's message, checked in Neon's order", async (_name, connectionString, message) => {
    const response = await send(connectionString());
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ message, code: "", severity: "" });
  });

  it("refuses an Authorization header as the api. proxy does, through the driver", async () => {
    const sql = neon(standIn.databaseUrl(), { authToken: "a.jwt.token" });
    await expect(sql`select 1`).rejects.toMatchObject({
      name: "NeonDbError",
      message: "missing authentication credentials: required password",
      code: "",
    });
  });

  it("refuses a URL without a password through the driver (which does not check)", async () => {
    const sql = neon(`postgres://${standIn.user}@${at()}/${standIn.database}`);
    await expect(sql`select 1`).rejects.toMatchObject({
      message: "missing authentication credentials: required password",
      code: "",
      severity: "",
    });
  });

  it("runs a request as the role of the connection string, with that role's privileges", async () => {
    const password = randomBytes(12).toString("base64url");
    const role = await createRole("reader", password);
    const table = uniqueRole("secrets");
    await standIn.backend.query(`create table ${table} (id integer)`, []);
    const sql = neon(standIn.databaseUrl(undefined, { user: role, password }));

    expect(await sql`select current_user as who`).toEqual([{ who: role }]);
    await expect(sql.query(`select * from ${table}`)).rejects.toMatchObject({ code: "42501" });
    await standIn.backend.query(`grant select on ${table} to ${role}`, []);
    expect(await sql.query(`select count(*)::int as n from ${table}`)).toEqual([{ n: 0 }]);
  });

  it("answers the same 400 to a wrong password, a role without one and a role that does not exist", async () => {
    const withPassword = await createRole("wrong", "right-password");
    const withoutPassword = await createRole("nopassword", null);
    const missing = uniqueRole("missing");
    for (const [user, password] of [
      [withPassword, "wrong-password"],
      [withoutPassword, "any-password"],
      [missing, "any-password"],
    ] as const) {
      const error = await neon(standIn.databaseUrl(undefined, { user, password }))`select 1`.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NeonDbError);
      expect(error).toMatchObject({
        message: `password authentication failed for user '${user}'`,
        code: "",
        severity: "",
      });
    }
  });

  it("checks a password with SASLprep as PostgreSQL stores it", async () => {
    // NFKC turns the ligature ﬁ into "fi": PostgreSQL hashes the prepared password.
    const role = await createRole("saslprep", "caﬁ-pässwörd");
    const sql = neon(standIn.databaseUrl(undefined, { user: role, password: "cafi-pässwörd" }));
    expect(await sql`select current_user as who`).toEqual([{ who: role }]);
  });

  it("reads pg_authid once for a verified role, not on every request", async () => {
    const password = randomBytes(12).toString("base64url");
    const role = await createRole("cached", password);
    const sql = neon(standIn.databaseUrl(undefined, { user: role, password }));
    const before = standIn.stats().passwordLookups;
    await sql`select 1`;
    expect(standIn.stats().passwordLookups).toBe(before + 1);
    for (let i = 0; i < 5; i += 1) await sql`select 1`;
    expect(standIn.stats().passwordLookups).toBe(before + 1);
    // A wrong password is never cached.
    const wrong = neon(standIn.databaseUrl(undefined, { user: role, password: `${password}x` }));
    await expect(wrong`select 1`).rejects.toBeInstanceOf(NeonDbError);
    expect(standIn.stats().passwordLookups).toBe(before + 2);
  });

  it("takes the admin's password from the stand-in's secret, never from Postgres", async () => {
    expect(await neon(standIn.databaseUrl())`select current_user as who`).toEqual([{ who: standIn.user }]);
    const url = standIn.databaseUrl(undefined, { password: `${standIn.secret}x` });
    await expect(neon(url)`select 1`).rejects.toMatchObject({
      message: `password authentication failed for user '${standIn.user}'`,
    });
  });

  if (backend === "pg") {
    it("runs on the database the connection string names", async () => {
      const other = await createScratchDatabase(serverUrl ?? "", "standin_other");
      try {
        const sql = neon(standIn.databaseUrl(other.name));
        expect(await sql`select current_database() as name`).toEqual([{ name: other.name }]);
      } finally {
        // WITH (FORCE) ends the stand-in's idle connections to it.
        await other.drop();
      }
    });

    it("forwards Postgres's FATAL for a database that does not exist, as a 400", async () => {
      const error = await neon(standIn.databaseUrl("standin_no_such_database"))`select 1`.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NeonDbError);
      expect(error).toMatchObject({
        message: 'database "standin_no_such_database" does not exist',
        code: "3D000",
        severity: "FATAL",
        routine: "InitPostgres",
      });
    });

    it("answers Postgres's other refusals at connect with a 500, as Neon does", async () => {
      const password = randomBytes(12).toString("base64url");
      const role = await createRole("nologin", password, "nologin");
      const error = await neon(standIn.databaseUrl(undefined, { user: role, password }))`select 1`.catch(
        (e: unknown) => e,
      );
      expect(String(error)).toMatch(
        /^NeonDbError: Server error \(HTTP status 500\): \{"message":"role .* is not permitted to log in","code":"28000"/,
      );
    });
  } else {
    it("serves its one database whatever name the connection string gives", async () => {
      const sql = neon(standIn.databaseUrl("any_name_at_all"));
      expect(await sql`select current_database() as name`).toEqual([{ name: "postgres" }]);
    });
  }
});
