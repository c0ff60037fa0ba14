/**
 * The migrations against both kinds of database they meet: a fresh one, which must end up with the
 * seed's table column for column, and the existing application's, which already has all three
 * tables and must come out with nothing failed and nothing duplicated, and still work with our
 * statements (which supply every column the other application's table has no default for).
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";
import { parseConfig } from "../../src/config";
import { checkSessionByTokenHash } from "../../src/db/check-statement";
import { createDb } from "../../src/db/client";
import { endSession, insertSession } from "../../src/db/session-lifecycle";
import { hashToken } from "../../src/sessions/check-hash";

const serverUrl = process.env.TEST_DATABASE_URL;
const backends = serverUrl ? (["pglite", "pg"] as const) : (["pglite"] as const);

/** The seed model's columns: name, type, nullability (the defaults are checked separately). */
const SEED_COLUMNS = [
  ["id", "uuid", "NO"],
  ["user_id", "integer", "NO"],
  ["session_token_hash", "character varying(64)", "NO"],
  ["created_at", "timestamp with time zone", "NO"],
  ["last_activity_at", "timestamp with time zone", "NO"],
  ["absolute_expires_at", "timestamp with time zone", "NO"],
  ["ip_address", "character varying(45)", "YES"],
  ["user_agent", "text", "YES"],
  ["tenant_id", "integer", "YES"],
  ["is_active", "boolean", "NO"],
  ["revoked_at", "timestamp with time zone", "YES"],
  ["revoke_reason", "character varying(50)", "YES"],
  ["ended_at", "timestamp with time zone", "YES"],
  ["app_type", "character varying(20)", "NO"],
];

/** The seed's indexes, the primary key, and the expiry job's three partial indexes: no more, no fewer. */
const SESSION_INDEXES = [
  "ix_sessions_active_absolute_expires_at",
  "ix_sessions_active_last_activity_at",
  "ix_sessions_half_ended",
  "ix_sessions_session_token_hash",
  "ix_sessions_tenant_id",
  "ix_sessions_user_id",
  "sessions_pkey",
];

async function rows(standIn: StandIn, text: string): Promise<(string | null)[][]> {
  return (await standIn.backend.query(text, [])).rows;
}

async function columns(standIn: StandIn) {
  return rows(
    standIn,
    `select column_name::text, format_type(atttypid, atttypmod), is_nullable::text, column_default::text
     from information_schema.columns c
     join pg_attribute a on a.attrelid = 'public.sessions'::regclass and a.attname = c.column_name
     where table_schema = 'public' and table_name = 'sessions' order by ordinal_position`,
  );
}

async function indexes(standIn: StandIn) {
  return (
    await rows(
      standIn,
      "select indexname::text from pg_indexes where schemaname = 'public' and tablename = 'sessions' order by 1",
    )
  ).map((r) => r[0]);
}

async function foreignKeys(standIn: StandIn) {
  return rows(
    standIn,
    `select pg_get_constraintdef(oid) from pg_constraint
     where conrelid = 'public.sessions'::regclass and contype = 'f' order by 1`,
  );
}

describe.each(backends)("migrations on %s", (backend) => {
  const started: { standIn: StandIn; drop?: () => Promise<void> }[] = [];

  async function freshStandIn(): Promise<StandIn> {
    const scratch =
      backend === "pg" && serverUrl ? await createScratchDatabase(serverUrl, "migrations_test") : undefined;
    const standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0, log: () => {} });
    started.push({ standIn, drop: scratch?.drop });
    return standIn;
  }

  afterAll(async () => {
    for (const { standIn, drop } of started) {
      await standIn.close();
      await drop?.();
    }
  });

  describe("on a fresh database", () => {
    let standIn: StandIn;
    beforeAll(async () => {
      standIn = await freshStandIn();
      await standIn.backend.migrate("drizzle");
    });

    it("creates the seed's sessions table, column for column, with the contract's defaults", async () => {
      const cols = await columns(standIn);
      expect(cols.map(([name, type, nullable]) => [name, type, nullable])).toEqual(SEED_COLUMNS);
      const defaults = Object.fromEntries(cols.map((c) => [c[0], c[3]]));
      expect(defaults).toMatchObject({
        id: "gen_random_uuid()",
        created_at: "now()",
        last_activity_at: "now()",
        is_active: "true",
        app_type: "'control_panel'::character varying",
      });
    });

    it("creates the seed's indexes, the unique hash, the foreign keys and the partial indexes", async () => {
      expect(await indexes(standIn)).toEqual(SESSION_INDEXES);
      expect(await foreignKeys(standIn)).toEqual([
        ["FOREIGN KEY (tenant_id) REFERENCES tenants(id)"],
        ["FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"],
      ]);
      const [unique] = await rows(
        standIn,
        "select indexdef from pg_indexes where indexname = 'ix_sessions_session_token_hash'",
      );
      expect(unique?.[0]).toMatch(/^CREATE UNIQUE INDEX .* \(session_token_hash\)$/);
    });

    it("is a no-op when run again", async () => {
      const before = [await columns(standIn), await indexes(standIn), await foreignKeys(standIn)];
      await standIn.backend.migrate("drizzle");
      expect([await columns(standIn), await indexes(standIn), await foreignKeys(standIn)]).toEqual(before);
    });
  });

  describe("on the existing application's database", () => {
    let standIn: StandIn;
    beforeAll(async () => {
      standIn = await freshStandIn();
      const ddl = await readFile("test/fixtures/existing-app-schema.sql", "utf8");
      const statements = ddl
        .replace(/--.*$/gm, "")
        .split(";")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const statement of statements) await standIn.backend.query(statement, []);
      await standIn.backend.query("insert into users (email) values ('a@example.com')", []);
      await standIn.backend.query("insert into tenants (name) values ('acme')", []);
    });

    it("applies without failing and adds only the partial indexes of the expiry job", async () => {
      const columnsBefore = await columns(standIn);
      const keysBefore = await foreignKeys(standIn);
      await standIn.backend.migrate("drizzle");
      expect(await columns(standIn)).toEqual(columnsBefore);
      // Their keys and indexes, under their names, and ours only where they have no equivalent.
      expect(await indexes(standIn)).toEqual([
        "idx_sessions_by_tenant",
        "idx_sessions_by_user",
        "ix_sessions_active_absolute_expires_at",
        "ix_sessions_active_last_activity_at",
        "ix_sessions_half_ended",
        "pk_sessions",
        "uq_session_token",
      ]);
      expect(await foreignKeys(standIn)).toEqual(keysBefore);
      expect(keysBefore).toHaveLength(2);
      const users = await rows(
        standIn,
        "select count(*)::text from information_schema.columns where table_name = 'users'",
      );
      expect(users[0]?.[0]).toBe("3");
    });

    it("works with our statements although id, is_active and app_type have no defaults there", async () => {
      const config = parseConfig({
        DATABASE_URL: standIn.databaseUrl(),
        NEON_LOCAL_HTTP: "true",
      });
      const db = createDb(config);
      const token = "existing-app-compat-token-0123456789";
      const inserted = await insertSession(
        db,
        {
          userId: 1,
          tenantId: 1,
          appType: "tenant_app",
          ipAddress: null,
          userAgent: null,
          tokenHash: hashToken(token),
          absoluteTimeoutSeconds: 3600,
        },
        config,
      );
      expect(inserted).toMatchObject({ userId: 1, tenantId: 1, isActive: true, appType: "tenant_app" });
      const checked = await checkSessionByTokenHash(db, hashToken(token), {
        idleTimeoutMinutes: 30,
        touchIntervalSeconds: 60,
      });
      expect(checked.status).toBe("valid");
      expect(await endSession(db, (inserted as { id: string }).id, "logout", config)).toBe(true);
    });
  });
});
