/**
 * The benchmark's rows, written with plain SQL as the existing application would write them. Bulk
 * rows come from generate_series: row `i` has the token `tokenFor(i)` (hashed by PostgreSQL
 * itself), so the bench can present any row's token without storing one.
 */
import { createHash } from "node:crypto";
import type pg from "pg";

export const USERS = 1000;
export const TENANTS = 100;

/** Row i's token: 35 characters of b64token syntax, like a real opaque token. */
export function tokenFor(i: number): string {
  return `tok${createHash("md5").update(`bench${i}`).digest("hex")}`;
}

export function hashOf(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Whether bulk row i was written already expired (see `insertBulkSessions`). */
export function isExpiredRow(i: number, expiredEvery: number): boolean {
  return i % expiredEvery === 0;
}

export async function insertUsersAndTenants(client: pg.ClientBase): Promise<void> {
  await client.query("insert into users select from generate_series(1, $1::int)", [USERS]);
  await client.query("insert into tenants select from generate_series(1, $1::int)", [TENANTS]);
}

/**
 * Where a table's expired rows lie:
 * - `written in order`: as an application writes its table, one row after another in time, so the
 *   rows that expired first were written first and rows that expire together lie together;
 * - `spread`: each minute's expired rows spread evenly over the whole table (their times cycle every
 *   60 rows), so every page holds rows that expire minutes apart: a worst case for a job that ends
 *   them in expiry order, and the bench's only layout before 2026-11-29.
 */
export type ExpiredLayout = "written in order" | "spread";

/**
 * Bulk rows `from..to` of a table of `tableRows`, one statement. Live rows were last active 90-570
 * s ago (so a touch is due on their next validation, with a 60 s interval) and expire in 1-8 h.
 * Every `expiredEvery`-th row is expired, in three kinds: idle only (last active 35-94 min ago),
 * absolute only (absolute limit 1-60 min ago) and both; `layout` says which expired row gets which
 * of those 60 minutes. The idle timeout the expiry is measured against is 30 minutes, and a live
 * row stays live for 20+ minutes after it is written: longer than the whole bench runs.
 */
export async function insertBulkSessions(
  client: pg.ClientBase,
  range: { from: number; to: number; tableRows: number; expiredEvery: number; layout: ExpiredLayout },
): Promise<void> {
  // The expired row's minute, 0-59: 59 for the first rows written (expired longest ago), 0 for the last.
  const minute = range.layout === "spread" ? "(i % 60)::int" : "(59 - (i::bigint * 60 / ($6::int + 1::bigint)))::int";
  await client.query(
    `insert into sessions (user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
       ip_address, user_agent, tenant_id, app_type)
     select 1 + i % $3::int,
       encode(sha256(convert_to('tok' || md5('bench' || i), 'UTF8')), 'hex'),
       now() - interval '3 hours',
       case when i % $5::int = 0 and (i / $5::int) % 3 <> 1 then now() - make_interval(mins => 35 + ${minute})
            else now() - make_interval(secs => 90 + ((i::bigint * 7919) % 480)::int) end,
       case when i % $5::int = 0 and (i / $5::int) % 3 <> 0 then now() - make_interval(mins => 1 + ${minute})
            else now() + make_interval(hours => 1 + (i % 8)::int) end,
       '203.0.113.' || (i % 250)::text, 'bench-agent/1.0',
       case when i % 3 = 0 then null else 1 + i % $4::int end,
       case when i % 5 = 0 then 'customer_portal' else 'control_panel' end
     from generate_series($1::int, $2::int) as i`,
    [range.from, range.to, USERS, TENANTS, range.expiredEvery, ...(range.layout === "spread" ? [] : [range.tableRows])],
  );
}

export interface SessionSpec {
  token: string;
  /** Seconds before now() the session was last active. */
  idleSeconds: number;
  /** Seconds from now() to the absolute limit; negative = past. */
  absoluteInSeconds: number;
}

/** One session row, every column explicit; returns its id. */
export async function insertSession(
  client: Pick<pg.ClientBase, "query"> | pg.Pool,
  spec: SessionSpec,
): Promise<string> {
  const result = await client.query<{ id: string }>(
    `insert into sessions (user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
       ip_address, user_agent, tenant_id, app_type)
     values (1, $1, now() - make_interval(secs => $2::int), now() - make_interval(secs => $2::int),
       now() + make_interval(secs => $3::int), '203.0.113.7', 'bench-agent/1.0', 1, 'control_panel')
     returning id`,
    [hashOf(spec.token), spec.idleSeconds, spec.absoluteInSeconds],
  );
  const id = result.rows[0]?.id;
  if (id === undefined) throw new Error("inserting a session returned no row");
  return id;
}

export async function countRows(client: pg.ClientBase): Promise<number> {
  const result = await client.query<{ n: number }>("select count(*)::int as n from sessions");
  return result.rows[0]?.n ?? 0;
}
