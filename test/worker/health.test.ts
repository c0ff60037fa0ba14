import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { backendKind, newToken, sql } from "../helpers/db";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";

describe("GET /healthz", () => {
  it("answers 200 when the database answers and is migrated for this version", async () => {
    const res = await callWorker("/healthz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ status: "ok", db: "ok" });
  });

  it.each(Object.entries(faultyDatabases))("answers 503 when the database is %s", async (_name, databaseUrl) => {
    const res = await callWorker("/healthz", {}, { DATABASE_URL: databaseUrl });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toEqual({
      status: "unavailable",
      db: "unreachable",
    });
  });
});

describe("GET /healthz tells a misdeployment from an outage", () => {
  it("a role without the grants: 503 missing_privilege, no Retry-After", async () => {
    const res = await callWorker("/healthz", {}, { DATABASE_URL: env.TEST_UNGRANTED_DATABASE_URL });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await res.json()).toMatchObject({ status: "misconfigured", db: "missing_privilege" });
  });

  it("migrations missing, or older than the code: 503 saying to run npm run db:migrate (PostgreSQL server: PGlite serves one database)", async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const empty = `session_gate_health_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
    await sql.query(`create database ${empty}`);
    const url = new URL(env.TEST_OWNER_DATABASE_URL);
    url.pathname = `/${empty}`;
    try {
      const missing = await callWorker("/healthz", {}, { DATABASE_URL: url.toString() });
      expect(missing.status).toBe(503);
      expect(missing.headers.get("retry-after")).toBeNull();
      expect(await missing.json()).toEqual({
        status: "misconfigured",
        db: "migrations_missing",
        message: "The database has no session_gate_check_json function: run `npm run db:migrate` against it.",
      });
      // An older version of the function: its comment names another body.
      const owner = createDb(getConfig({ ...env, DATABASE_URL: url.toString() })).$client;
      await owner.query(`create function session_gate_check_json(text, integer, integer) returns table (id uuid, user_id integer)
        language sql as 'select gen_random_uuid(), 1'`);
      await owner.query(
        `comment on function session_gate_check_json(text, integer, integer) is 'session-gate check 0000000000000000'`,
      );
      const outdated = await callWorker("/healthz", {}, { DATABASE_URL: url.toString() });
      expect(outdated.status).toBe(503);
      expect(await outdated.json()).toMatchObject({ status: "misconfigured", db: "migrations_outdated" });
      // Its row has no status: the check fails closed as misconfigured, never a 200 with empty fields.
      const check = await callWorker("/v1/validate", bearer(newToken()), { DATABASE_URL: url.toString() });
      expect(check.status).toBe(503);
      expect(check.headers.get("retry-after")).toBeNull();
      expect(await check.json()).toMatchObject({ error: "not_configured" });
    } finally {
      await sql.query(`drop database ${empty} with (force)`);
    }
  });
});
