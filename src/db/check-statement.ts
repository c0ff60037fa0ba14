import { type SQL, sql } from "drizzle-orm";
import type { AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/session";
import { type Db, type PreparedStatement, prepareStatement, queryPrepared } from "./client";
import { expiryRule, intValue, isoTimestamp } from "./expiry-rule";

export type SessionLookup =
  | { status: "valid"; session: ValidSession }
  | { status: "unknown" }
  | { status: "inactive"; sessionId: string }
  | {
      status: "expired";
      sessionId: string;
      reason: "idle_timeout" | "absolute_timeout";
    };

interface CheckRow {
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

/** The columns the check answers with, in order: the check function's result type. */
export const CHECK_COLUMNS = [
  ["id", "uuid"],
  ["user_id", "integer"],
  ["tenant_id", "integer"],
  ["app_type", "varchar"],
  ["status", "text"],
  ["ended_reason", "varchar"],
  ["created_at", "text"],
  ["last_activity_at", "text"],
  ["absolute_expires_at", "text"],
  ["idle_expires_at", "text"],
] as const;

/**
 * Validates, touches and lazily expires a session in ONE statement (one round trip), by calling
 * the `session_gate_check` function (src/db/check-function.ts) that a migration installs with the
 * statement below as its body. A function's plan is kept per connection, so PostgreSQL parses and
 * plans this statement once rather than on every request.
 */
export async function checkSessionByTokenHash(
  db: Db,
  tokenHash: string,
  options: { idleTimeoutMinutes: number; touchIntervalSeconds: number },
): Promise<SessionLookup> {
  const rows = await queryPrepared<CheckRow>(db, CHECK_CALL, {
    tokenHash,
    idleTimeoutMinutes: options.idleTimeoutMinutes,
    touchIntervalSeconds: options.touchIntervalSeconds,
  });
  const row = rows[0];
  if (row === undefined) return { status: "unknown" };
  if (row.status === "inactive") return { status: "inactive", sessionId: row.id };
  if (row.status === "expired") {
    return { status: "expired", sessionId: row.id, reason: row.ended_reason ?? "idle_timeout" };
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

const CHECK_CALL: PreparedStatement = prepareStatement(
  sql`select * from session_gate_check(${sql.placeholder("tokenHash")}, ${sql.placeholder("idleTimeoutMinutes")}::int, ${sql.placeholder("touchIntervalSeconds")}::int)`,
);

/**
 * The check as one statement:
 * - `target` reads the row as of the statement's snapshot: a logout or revoke committed before the
 *   statement started is seen, so such a session is never answered valid.
 * - `changed` is the only write, and only when one is due: an expired row is ended by the shared
 *   expiry rule, or a live one has `last_activity_at` moved because it is older than the touch
 *   interval. PostgreSQL writes a new row version for every row an UPDATE matches, even when
 *   nothing changes, so a busy session costs at most one write per interval.
 * - The UPDATE re-checks liveness and the rule on the row's latest version (PostgreSQL re-reads a
 *   row another transaction changed meanwhile): an ended row is never re-activated or touched, a
 *   row ended by someone else keeps its first reason, and a row whose expiry changed meanwhile is
 *   left alone. `greatest(...)` keeps two racing touches from moving `last_activity_at` backwards.
 * - A due write that found the row changed answers 'inactive': the end committed first, and the
 *   answer errs on the side of refusing.
 */
export function buildCheckQuery(options: { tokenHash: SQL; idleTimeoutMinutes: SQL; touchIntervalSeconds: SQL }): SQL {
  const snapshot = expiryRule("t", options.idleTimeoutMinutes);
  const current = expiryRule("s", options.idleTimeoutMinutes);
  const touchDue = sql`t.last_activity_at < now() - make_interval(secs => ${intValue(options.touchIntervalSeconds)})`;
  return sql`with target as (
      select t.id, t.user_id, t.tenant_id, t.app_type, t.created_at, t.last_activity_at, t.absolute_expires_at,
        ${snapshot.isLive} as live, ${snapshot.isExpired} as expired, ${touchDue} as touch_due
      from sessions t where t.session_token_hash = ${options.tokenHash}
    ), changed as (
      update sessions s set
        is_active = not t.expired,
        revoke_reason = case when t.expired then ${current.reason} else s.revoke_reason end,
        ended_at = case when t.expired then ${current.endedAt} else s.ended_at end,
        revoked_at = case when t.expired then now() else s.revoked_at end,
        last_activity_at = case when t.expired then s.last_activity_at else greatest(s.last_activity_at, now()) end
      from target t
      where s.id = t.id and t.live and (t.expired or t.touch_due) and ${current.isLive} and ${current.isExpired} = t.expired
      returning s.is_active, s.revoke_reason, s.last_activity_at
    )
    select t.id, t.user_id, t.tenant_id, t.app_type::varchar,
      case
        when not t.live then 'inactive'
        when c.is_active is null then case when t.expired or t.touch_due then 'inactive' else 'valid' end
        when c.is_active then 'valid'
        else 'expired'
      end::text as status,
      c.revoke_reason::varchar as ended_reason,
      ${isoTimestamp(sql`t.created_at`)} as created_at,
      ${isoTimestamp(sql`coalesce(c.last_activity_at, t.last_activity_at)`)} as last_activity_at,
      ${isoTimestamp(sql`t.absolute_expires_at`)} as absolute_expires_at,
      ${isoTimestamp(sql`coalesce(c.last_activity_at, t.last_activity_at) + make_interval(mins => ${intValue(options.idleTimeoutMinutes)})`)} as idle_expires_at
    from target t left join changed c on true`;
}
