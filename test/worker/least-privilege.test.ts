import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { createDb, DatabaseError } from "../../src/db/client";
import { backendKind, createUser, insertSession, newToken, sql } from "../helpers/db";
import { captureLogs, events } from "../helpers/logs";
import { bearer, callWorker } from "../helpers/worker";

/*
 * The Worker runs as the least-privilege role the migrations grant (drizzle/0004_worker_role.sql),
 * in every test of this suite as in production: these tests show what that role cannot do, and
 * what the Worker answers when its deployment is wrong (a missing grant, a missing migration, bad
 * credentials): a failure retrying cannot fix, answered without a Retry-After promise.
 */

/** The Worker's own connection: the role it runs as. */
const worker = createDb(getConfig(env)).$client;

async function refusal(statement: string): Promise<string | undefined> {
  try {
    await worker.query(statement);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("the Worker's role", () => {
  it("is not the role the tests' own SQL runs as, and not a superuser", async () => {
    const [row] = await worker.query(
      "select current_user as name, rolsuper as superuser from pg_roles where rolname = current_user",
    );
    expect(row?.name).toMatch(/^session_gate_test_.*_worker$/);
    expect(row?.superuser).toBe(false);
    const [owner] = await sql.query("select current_user as name");
    expect(owner?.name).not.toBe(row?.name);
  });

  it.each([
    ["read users", "select * from users limit 1"],
    ["read a user's id", "select id from users limit 1"],
    ["write users", "insert into users default values"],
    ["update tenants", "update tenants set id = id where false"],
    ["delete users", "delete from users where false"],
    ["read the user agent", "select user_agent from sessions limit 1"],
    ["write the hash", "update sessions set session_token_hash = session_token_hash where false"],
    ["truncate sessions", "truncate sessions"],
    ["drop sessions", "drop table sessions"],
    ["drop the check function", "drop function session_gate_check_json(text, integer, integer)"],
    ["drop the previous version's check function", "drop function session_gate_check(text, integer, integer)"],
    ["create a table", "create table session_gate_probe (id int)"],
    ["read the migration journal", 'select * from drizzle."__drizzle_migrations"'],
  ])("may not %s (42501)", async (_name, statement) => {
    expect(await refusal(statement)).toBe("42501");
  });

  it("issues, checks, ends and lists sessions, the foreign keys to users and tenants checked for it", async () => {
    const userId = await createUser();
    const admin = { authorization: `Bearer ${env.ADMIN_API_KEY}`, "content-type": "application/json" };
    const issued = await callWorker("/v1/sessions", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ user_id: userId }),
    });
    expect(issued.status).toBe(201);
    const { token } = (await issued.json()) as { token: string };
    expect((await callWorker("/v1/validate", bearer(token))).status).toBe(200);
    expect((await callWorker(`/v1/users/${userId}/sessions`, { headers: admin })).status).toBe(200);
    expect((await callWorker("/v1/logout", { method: "POST", ...bearer(token) })).status).toBe(204);
    // An unknown user is still a 422: the key is checked as the users table's owner.
    const unknown = await callWorker("/v1/sessions", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ user_id: 2_000_000_000 }),
    });
    expect(unknown.status).toBe(422);
  });
});

describe("a deployment that is wrong, not a database that is down", () => {
  it("a role without the grants: 503 not_configured without Retry-After, the cause logged", async () => {
    const s = await insertSession();
    let res: Response | undefined;
    const lines = await captureLogs(async () => {
      res = await callWorker("/v1/validate", bearer(s.token), { DATABASE_URL: env.TEST_UNGRANTED_DATABASE_URL });
    });
    expect(res?.status).toBe(503);
    expect(res?.headers.get("retry-after")).toBeNull();
    expect(await res?.json()).toEqual({
      error: "not_configured",
      error_description: "The service cannot use its database; see its logs.",
    });
    expect(events(lines, "session_check")).toEqual([
      expect.objectContaining({ outcome: "error", reason: "missing_privilege" }),
    ]);
  });

  it("an admin write without the grants: 503 not_configured, the cause in the error log line", async () => {
    let res: Response | undefined;
    const lines = await captureLogs(async () => {
      res = await callWorker(
        "/v1/sessions",
        {
          method: "POST",
          headers: { authorization: `Bearer ${env.ADMIN_API_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ user_id: await createUser() }),
        },
        { DATABASE_URL: env.TEST_UNGRANTED_DATABASE_URL },
      );
    });
    expect(res?.status).toBe(503);
    expect(res?.headers.get("retry-after")).toBeNull();
    expect(events(lines, "database_error")).toEqual([
      expect.objectContaining({ code: "42501", permanent: "missing_privilege" }),
    ]);
  });

  it("a wrong password: 503 not_configured (bad credentials)", async () => {
    const url = new URL(env.DATABASE_URL);
    url.password = `${url.password}x`;
    const lines = await captureLogs(async () => {
      const res = await callWorker("/v1/validate", bearer(newToken()), { DATABASE_URL: url.toString() });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBeNull();
    });
    expect(events(lines, "session_check")[0]).toMatchObject({ reason: "bad_credentials" });
  });

  it("a database without the migrations, or no such database (PostgreSQL server: PGlite serves one database)", async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const empty = `session_gate_empty_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
    await sql.query(`create database ${empty}`);
    try {
      for (const [database, cause] of [
        [empty, "missing_migration"],
        [`${empty}_absent`, "unknown_database"],
      ] as const) {
        const url = new URL(env.DATABASE_URL);
        url.pathname = `/${database}`;
        const lines = await captureLogs(async () => {
          const res = await callWorker("/v1/validate", bearer(newToken()), { DATABASE_URL: url.toString() });
          expect(res.status).toBe(503);
          expect(res.headers.get("retry-after")).toBeNull();
        });
        expect(events(lines, "session_check")[0]).toMatchObject({ outcome: "error", reason: cause });
      }
    } finally {
      await sql.query(`drop database ${empty} with (force)`);
    }
  });
});

describe("DatabaseError.permanent", () => {
  it.each([
    ["insufficient_privilege", "permission denied for table users", "42501", "missing_privilege"],
    [
      "undefined_function",
      "function session_gate_check_json(text, integer, integer) does not exist",
      "42883",
      "missing_migration",
    ],
    ["undefined_table", 'relation "sessions" does not exist', "42P01", "missing_migration"],
    ["Neon's password refusal", "password authentication failed for user 'app'", "", "bad_credentials"],
    [
      "Neon's 507",
      'Server error (HTTP status 507): {"message":"response is too large (max is 10485760 bytes)"}',
      undefined,
      "size_limit",
    ],
    [
      "Neon's 413",
      'Server error (HTTP status 413): {"message":"request is too large (max is 10485760 bytes)"}',
      undefined,
      "size_limit",
    ],
    ["a 500 on the way", "Server error (HTTP status 500): injected failure", undefined, undefined],
    ["a refused connection", "Error connecting to database: TypeError: fetch failed", undefined, undefined],
    ["a cancelled statement", "canceling statement due to statement timeout", "57014", undefined],
    ["a deadlock", "deadlock detected", "40P01", undefined],
  ])("%s is %s", (_name, message, code, permanent) => {
    expect(new DatabaseError(message, code, undefined).permanent).toBe(permanent);
  });
});
