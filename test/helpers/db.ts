import { env } from "cloudflare:workers";
import { getConfig } from "../../src/config";
import { createDb } from "../../src/db/client";

/*
 * Direct access to the test database, playing the part of the existing application: plain SQL
 * through the genuine driver and the stand-in, with the token's hash computed by PostgreSQL itself
 * (`sha256()`), not by our code, and as the database's owner (the Worker itself runs as the
 * least-privilege role). The driver is reached through src/db/client.ts, the code path production
 * uses (which alone points it at the stand-in), never configured again here.
 */
export const sql = createDb(getConfig({ ...env, DATABASE_URL: env.TEST_OWNER_DATABASE_URL })).$client;

export async function createUser(): Promise<number> {
  const rows = await sql`insert into users default values returning id`;
  return Number(rows[0]?.id);
}

export async function createTenant(): Promise<number> {
  const rows = await sql`insert into tenants default values returning id`;
  return Number(rows[0]?.id);
}

/** A fresh random token in the shape our issuer uses: 32 random bytes, base64url. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export interface SessionSpec {
  userId?: number;
  tenantId?: number | null;
  appType?: string;
  token?: string;
  /** Seconds before the database's now() that the session was last active (default 0). */
  idleSeconds?: number;
  /** Seconds from the database's now() until the absolute expiry (default 8 h); negative = past. */
  absoluteInSeconds?: number;
  /** Seconds before now() the session was created (default: as long ago as it was idle). */
  ageSeconds?: number;
  isActive?: boolean;
  endedAgoSeconds?: number;
  revokeReason?: string;
}

export interface TestSession {
  id: string;
  token: string;
  userId: number;
  tenantId: number | null;
  appType: string;
}

/** Inserts a session row the way the existing application writes one, every column explicit. */
export async function insertSession(spec: SessionSpec = {}): Promise<TestSession> {
  const userId = spec.userId ?? (await createUser());
  const token = spec.token ?? newToken();
  const idle = spec.idleSeconds ?? 0;
  const age = spec.ageSeconds ?? idle;
  const ended = spec.endedAgoSeconds;
  const rows = await sql`
    insert into sessions (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
      ip_address, user_agent, tenant_id, is_active, revoked_at, revoke_reason, ended_at, app_type)
    values (gen_random_uuid(), ${userId}, encode(sha256(convert_to(${token}, 'UTF8')), 'hex'),
      now() - make_interval(secs => ${age}), now() - make_interval(secs => ${idle}),
      now() + make_interval(secs => ${spec.absoluteInSeconds ?? 8 * 3600}),
      '203.0.113.7', 'test-agent', ${spec.tenantId ?? null}, ${spec.isActive ?? true},
      ${ended === undefined ? null : sql`now() - make_interval(secs => ${ended})`},
      ${spec.revokeReason ?? null},
      ${ended === undefined ? null : sql`now() - make_interval(secs => ${ended})`},
      ${spec.appType ?? "control_panel"})
    returning id`;
  return {
    id: String(rows[0]?.id),
    token,
    userId,
    tenantId: spec.tenantId ?? null,
    appType: spec.appType ?? "control_panel",
  };
}

export interface StoredSession {
  is_active: boolean;
  revoke_reason: string | null;
  /** Times as the service shows them (ISO-8601, `+00:00`, microseconds when any), computed by the database. */
  ended_at: string | null;
  revoked_at: string | null;
  last_activity_at: string;
  absolute_expires_at: string;
  xmin: string;
  /** What the expiry rule says `ended_at` must be, with the default 30-minute idle timeout. */
  expected_ended_at: string;
}

/** A time as the service shows it, written independently of src/: Python's isoformat() of a UTC value. */
export const isoformatOf = (column: string) =>
  `(to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || case when extract(microseconds from ${column} at time zone 'UTC')::int % 1000000 = 0 then '' else to_char(${column} at time zone 'UTC', '.US') end || '+00:00')`;

export async function readSession(id: string, idleTimeoutMinutes = 30): Promise<StoredSession> {
  const rows = await sql.query(
    `select is_active, revoke_reason, ${isoformatOf("ended_at")} as ended_at, ${isoformatOf("revoked_at")} as revoked_at,
       ${isoformatOf("last_activity_at")} as last_activity_at, ${isoformatOf("absolute_expires_at")} as absolute_expires_at,
       xmin::text as xmin,
       ${isoformatOf(`least(absolute_expires_at, last_activity_at + make_interval(mins => ${idleTimeoutMinutes}))`)} as expected_ended_at
     from sessions where id = $1`,
    [id],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`no session ${id}`);
  return row as StoredSession;
}

/**
 * A database URL whose requests the stand-in counts apart from every other test's (it keys its
 * counters by application_name), and a way to read that count: how many round trips a call cost.
 */
export function countedDatabase(): {
  databaseUrl: string;
  requests: () => Promise<number>;
} {
  const name = `count-${crypto.randomUUID()}`;
  const url = new URL(env.DATABASE_URL);
  url.searchParams.set("application_name", name);
  return {
    databaseUrl: url.toString(),
    requests: async () => {
      const res = await fetch(`http://127.0.0.1:${env.TEST_STANDIN_PORT}/__standin/stats`);
      const stats = (await res.json()) as {
        byApplicationName: Record<string, number>;
      };
      return stats.byApplicationName[name] ?? 0;
    },
  };
}

/** Which backend the stand-in serves ("pg" or "pglite"): PGlite runs one statement at a time, so tests of concurrency skip it. */
export async function backendKind(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${env.TEST_STANDIN_PORT}/__standin/health`);
  return ((await res.json()) as { backend: string }).backend;
}
