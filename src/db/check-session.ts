import { sql } from "drizzle-orm";
import type { AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/outcome";
import { type Db, queryRows } from "./client";
import { expiryRule, isoTimestamp } from "./expiry-rule";

export type SessionLookup =
  | { status: "valid"; session: ValidSession }
  | { status: "unknown" }
  | { status: "inactive"; sessionId: string }
  | {
      status: "expired";
      sessionId: string;
      reason: "idle_timeout" | "absolute_timeout";
    };

interface CheckRow extends Record<string, unknown> {
  id: string;
  user_id: number;
  tenant_id: number | null;
  app_type: AppType;
  status: "valid" | "inactive" | "expired";
  ended_reason: "idle_timeout" | "absolute_timeout" | null;
  created_at: string;
  last_activity_at: string;
  absolute_expires_at: string;
  idle_expires_at: string;
}

/**
 * Validates, touches and lazily expires a session in ONE statement (one round trip):
 * - `target` reads the row as of the statement's snapshot: a logout or revoke committed before the
 *   statement started is seen, so such a session is never answered valid.
 * - `ended` ends an expired row by the shared expiry rule. `touched` moves `last_activity_at` only
 *   when it is older than the touch interval: an UPDATE that matches writes a new row version even
 *   when nothing changes, so a busy session costs at most one write per interval.
 * - Both UPDATEs re-check liveness and the rule on the row's latest version (PostgreSQL re-reads a
 *   row another transaction changed meanwhile), so an ended row is never re-activated or touched,
 *   and a row ended by someone else keeps its first reason. `greatest(...)` keeps two racing touches
 *   from moving `last_activity_at` backwards.
 * - A due touch that found the row ended meanwhile answers 'inactive': the end committed first.
 */
export async function checkSessionByTokenHash(
  db: Db,
  tokenHash: string,
  options: { idleTimeoutMinutes: number; touchIntervalSeconds: number },
): Promise<SessionLookup> {
  const snapshot = expiryRule("t", options.idleTimeoutMinutes);
  const current = expiryRule("s", options.idleTimeoutMinutes);
  const touchDue = sql`t.last_activity_at < now() - make_interval(secs => ${options.touchIntervalSeconds}::int)`;
  const rows = await queryRows<CheckRow>(
    db,
    sql`with target as (
      select id, user_id, tenant_id, app_type, created_at, last_activity_at, absolute_expires_at, is_active,
        ended_at, revoked_at
      from sessions where session_token_hash = ${tokenHash}
    ), decided as (
      select t.*, ${snapshot.isLive} as live, ${snapshot.isExpired} as expired, ${snapshot.reason} as expired_reason, ${touchDue} as touch_due
      from target t
    ), ended as (
      update sessions s
      set is_active = false, revoke_reason = ${current.reason}, ended_at = ${current.endedAt}, revoked_at = now()
      from decided d
      where s.id = d.id and d.live and d.expired and ${current.isLive} and ${current.isExpired}
      returning s.revoke_reason
    ), touched as (
      update sessions s
      set last_activity_at = greatest(s.last_activity_at, now())
      from decided d
      where s.id = d.id and d.live and not d.expired and d.touch_due and ${current.isLive} and not ${current.isExpired}
      returning s.last_activity_at
    ), answer as (
      select d.*,
        case
          when not d.live then 'inactive'
          when d.expired then 'expired'
          when d.touch_due and not exists (select 1 from touched) then 'inactive'
          else 'valid'
        end as status,
        coalesce((select last_activity_at from touched), d.last_activity_at) as seen_activity_at
      from decided d
    )
    select a.id, a.user_id, a.tenant_id, a.app_type, a.status,
      a.expired_reason as ended_reason,
      ${isoTimestamp(sql`a.created_at`)} as created_at,
      ${isoTimestamp(sql`a.seen_activity_at`)} as last_activity_at,
      ${isoTimestamp(sql`a.absolute_expires_at`)} as absolute_expires_at,
      ${isoTimestamp(sql`a.seen_activity_at + make_interval(mins => ${options.idleTimeoutMinutes}::int)`)} as idle_expires_at
    from answer a`,
  );
  const row = rows[0];
  if (row === undefined) return { status: "unknown" };
  if (row.status === "inactive") return { status: "inactive", sessionId: row.id };
  if (row.status === "expired") {
    return {
      status: "expired",
      sessionId: row.id,
      reason: row.ended_reason ?? "idle_timeout",
    };
  }
  return {
    status: "valid",
    session: {
      id: row.id,
      userId: row.user_id,
      tenantId: row.tenant_id,
      appType: row.app_type,
      createdAt: row.created_at,
      lastActivityAt: row.last_activity_at,
      absoluteExpiresAt: row.absolute_expires_at,
      idleExpiresAt: row.idle_expires_at,
    },
  };
}
