import { type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/session";
import { type Db, type PreparedStatement, prepareStatement, queryPrepared } from "./client";
import { DatabaseError, FOREIGN_CHECK_ROW } from "./database-error";
import { type ExpiryRule, expiryRule, intValue, isoTimestamp } from "./expiry-rule";
import { columnName, type SessionsAlias, sessionsAs, sessionsTable } from "./sessions-alias";

export type SessionLookup =
  | { status: "valid"; session: ValidSession; validForSeconds: number }
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
  valid_for_seconds: number | null;
}

/**
 * Checks, touches and lazily expires a session in ONE call (one round trip), of the
 * `session_gate_check_json` function (src/db/check-function.ts) that a migration installs with the
 * statements below as its body: `buildUnchangedQuery` when no write is due, else `buildCheckQuery`.
 * A function's plans are kept per connection, so PostgreSQL parses and plans them once rather
 * than on every request.
 */
export async function checkSessionByTokenHash(
  db: Db,
  tokenHash: string,
  options: { idleTimeoutMinutes: number; touchIntervalSeconds: number },
): Promise<SessionLookup> {
  const rows = await queryPrepared<{ row: CheckRow | null }>(db, CHECK_CALL, {
    tokenHash,
    idleTimeoutMinutes: options.idleTimeoutMinutes,
    touchIntervalSeconds: options.touchIntervalSeconds,
  });
  // Only the function's own word counts, and it is always one value: anything else (no row, a
  // record of another function of that name) fails closed, never as an unknown session.
  const row = rows.length === 1 ? rows[0]?.row : undefined;
  if (row === null) return { status: "unknown" };
  if (typeof row !== "object") throw new DatabaseError(FOREIGN_CHECK_ROW, undefined, undefined);
  if (row.status === "inactive") return { status: "inactive", sessionId: row.id };
  if (row.status === "expired") {
    return { status: "expired", sessionId: row.id, reason: row.ended_reason ?? "idle_timeout" };
  }
  if (row.status !== "valid") throw new DatabaseError(FOREIGN_CHECK_ROW, undefined, undefined);
  return {
    status: "valid",
    validForSeconds: row.valid_for_seconds ?? 0,
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

/**
 * The check function's name; the migrations that install a body of it are named
 * `NNNN_session_gate_check_json`. Migrations up to 0006 installed `session_gate_check`, which
 * answers a table: it stays as it was, so the version before this one keeps working on a database
 * migrated for this one (an upgrade migrates first, then deploys; a rollback needs it too).
 */
export const CHECK_FUNCTION = "session_gate_check_json";

// The function answers its row as one `json` value (null when there is no such session), which
// the driver parses with one `JSON.parse`. As 11 columns, every answer carried each column's
// metadata (name, type, table, size, format) and the driver built a parser and an entry per
// column: measured in workerd by instruction count, 11 columns cost the Worker about 90,000
// instructions per check more than 1 (roughly 0.05 ms of CPU), one column of the same values about
// 20,000. JSON keeps every type the row needs: text for the timestamps (the function writes them
// as text already), numbers for the integers, null.
const CHECK_CALL: PreparedStatement = prepareStatement(
  sql`select ${sql.identifier(CHECK_FUNCTION)}(${sql.placeholder("tokenHash")}, ${sql.placeholder("idleTimeoutMinutes")}::int, ${sql.placeholder("touchIntervalSeconds")}::int) as row`,
);

/**
 * The check as one statement:
 * - `t` reads the row as of the statement's snapshot: a logout or end committed before the
 *   statement started is seen, so such a session is never answered valid.
 * - `c` (changed) is the only write, and only when one is due: an expired row is ended by the shared
 *   expiry rule, or a live one has `last_activity_at` moved because it is older than the touch
 *   interval. PostgreSQL writes a new row version for every row an UPDATE matches, even when
 *   nothing changes, so a busy session costs at most one write per interval.
 * - The UPDATE re-checks everything on the row's latest version (PostgreSQL re-reads a row another
 *   transaction changed meanwhile): liveness, the rule, and whether a touch is still due. So an
 *   ended row is never re-activated or touched, a row ended by someone else keeps its first reason,
 *   and of many checks that find one session due at once, the first touches it and the others,
 *   having waited for it, find the touch done: one write per interval under concurrency too.
 *   `greatest(...)` keeps two racing touches from moving `last_activity_at` backwards.
 * - A due write that found the row changed answers 'contended': the snapshot can no longer say
 *   whether the session is live (another check touched it) or not (it was ended).
 *   `buildRereadQuery` then answers from the latest version (the check function does it in the
 *   same call).
 */
export function buildCheckQuery(options: { tokenHash: SQL; idleTimeoutMinutes: SQL; touchIntervalSeconds: SQL }): SQL {
  // `t` is the row as the snapshot saw it (and the CTE of the same name), `s` the row the UPDATE writes.
  const [t, s] = [sessionsAs("t"), sessionsAs("s")];
  const snapshot = expiryRule(t, options.idleTimeoutMinutes);
  const current = expiryRule(s, options.idleTimeoutMinutes);
  const touchDue = (table: SessionsAlias) => touchIsDue(table, options.touchIntervalSeconds);
  const set = (column: AnyPgColumn, value: SQL) => sql`${columnName(column)} = ${value}`;
  const lastActivityAt = sql`coalesce(c.${columnName(s.lastActivityAt)}, ${t.lastActivityAt})`;
  return sql`with t as (
      select ${t.id}, ${t.userId}, ${t.tenantId}, ${t.appType}, ${t.createdAt}, ${t.lastActivityAt}, ${t.absoluteExpiresAt},
        ${snapshot.isLive} as live, ${snapshot.isExpired} as expired, ${touchDue(t)} as touch_due
      from ${sessionsTable(t)} where ${t.sessionTokenHash} = ${options.tokenHash}
    ), c as (
      update ${sessionsTable(s)} set
        ${set(s.isActive, sql`not t.expired`)},
        ${set(s.revokeReason, sql`case when t.expired then ${current.reason} else ${s.revokeReason} end`)},
        ${set(s.endedAt, sql`case when t.expired then ${current.endedAt} else ${s.endedAt} end`)},
        ${set(s.revokedAt, sql`case when t.expired then now() else ${s.revokedAt} end`)},
        ${set(s.lastActivityAt, sql`case when t.expired then ${s.lastActivityAt} else greatest(${s.lastActivityAt}, now()) end`)}
      from t
      where ${s.id} = ${t.id} and t.live and (t.expired or t.touch_due) and ${current.isLive}
        and ${current.isExpired} = t.expired and (t.expired or ${touchDue(s)})
      returning ${s.isActive}, ${s.revokeReason}, ${s.lastActivityAt}
    )
    select ${t.id}, ${t.userId}, ${t.tenantId}, ${t.appType}::varchar,
      case
        when not t.live then 'inactive'
        when c.${columnName(s.isActive)} is null then case when t.expired or t.touch_due then 'contended' else 'valid' end
        when c.${columnName(s.isActive)} then 'valid'
        else 'expired'
      end::text as status,
      c.${columnName(s.revokeReason)}::varchar as ended_reason,
      ${isoTimestamp(sql`${t.createdAt}`)} as created_at,
      ${isoTimestamp(lastActivityAt)} as last_activity_at,
      ${isoTimestamp(sql`${t.absoluteExpiresAt}`)} as absolute_expires_at,
      ${isoTimestamp(sql`${lastActivityAt} + make_interval(mins => ${intValue(options.idleTimeoutMinutes)})`)} as idle_expires_at,
      ${validForSeconds(sql`${t.absoluteExpiresAt}`, sql`${lastActivityAt} + make_interval(mins => ${intValue(options.idleTimeoutMinutes)})`)} as valid_for_seconds
    from t left join c on true`;
}

/**
 * The check of a session that needs no write, which is almost every check: live, within both
 * limits, and touched within the interval. Read-only, so no UPDATE is planned or run and nothing is
 * locked; it answers such a row exactly as `buildCheckQuery` would (status 'valid', the row's own
 * times), and nothing for any other row, which then goes to `buildCheckQuery`. In the check
 * function it saves about a fifth of PostgreSQL's time per check (pgbench: 10,600 calls/s
 * without it, 13,700 with).
 */
export function buildUnchangedQuery(options: {
  tokenHash: SQL;
  idleTimeoutMinutes: SQL;
  touchIntervalSeconds: SQL;
}): SQL {
  const t = sessionsAs("t");
  const rule = expiryRule(t, options.idleTimeoutMinutes);
  return sql`select ${rowAsItStands(t, rule, sql`'valid'`)}
    from ${sessionsTable(t)} where ${t.sessionTokenHash} = ${options.tokenHash}
      and ${rule.isLive} and not ${rule.isExpired} and not ${touchIsDue(t, options.touchIntervalSeconds)}`;
}

/** Whether a touch is due: the row's last activity is older than the touch interval. */
function touchIsDue(table: SessionsAlias, touchIntervalSeconds: SQL): SQL {
  return sql`${table.lastActivityAt} < now() - make_interval(secs => ${intValue(touchIntervalSeconds)})`;
}

/**
 * The answer after a 'contended' check, from the row's latest committed version (a new statement
 * in the check function sees what committed after the first one began): 'valid' when it is live
 * and within its limits, else 'inactive'. It writes nothing: a write is what was contended, and it
 * is done.
 */
export function buildRereadQuery(options: { tokenHash: SQL; idleTimeoutMinutes: SQL }): SQL {
  const r = sessionsAs("r");
  const rule = expiryRule(r, options.idleTimeoutMinutes);
  const status = sql`(case when ${rule.isLive} and not ${rule.isExpired} then 'valid' else 'inactive' end)`;
  return sql`select ${rowAsItStands(r, rule, status)}
    from ${sessionsTable(r)} where ${r.sessionTokenHash} = ${options.tokenHash}`;
}

/**
 * The check function's answer (`CheckRow`, the same columns in the same order as `buildCheckQuery`'s)
 * for a row answered as it stands, with nothing written: the read-only first statement's answer and
 * the re-read's.
 */
function rowAsItStands(table: SessionsAlias, rule: ExpiryRule, status: SQL): SQL {
  return sql`${table.id}, ${table.userId}, ${table.tenantId}, ${table.appType}::varchar,
      ${status}::text as status,
      null::varchar as ended_reason,
      ${isoTimestamp(sql`${table.createdAt}`)} as created_at,
      ${isoTimestamp(sql`${table.lastActivityAt}`)} as last_activity_at,
      ${isoTimestamp(sql`${table.absoluteExpiresAt}`)} as absolute_expires_at,
      ${isoTimestamp(sql`${rule.idleExpiresAt}`)} as idle_expires_at,
      ${validForSeconds(sql`${table.absoluteExpiresAt}`, rule.idleExpiresAt)} as valid_for_seconds`;
}

/**
 * Whole seconds, by the database's clock, until the first of the two limits if the session is not
 * used again: what bounds how long an answer may be remembered (VALID_CACHE_SECONDS), so that no
 * edge clock is ever compared with the database's times.
 */
function validForSeconds(absoluteExpiresAt: SQL, idleExpiresAt: SQL): SQL {
  // `date_part` answers in double precision, cheaper than `extract`'s numeric, and floors to the
  // same whole second for any interval under about 300 years (a microsecond is then above its error).
  return sql`greatest(0, floor(date_part('epoch', least(${absoluteExpiresAt}, ${idleExpiresAt}) - now())))::int`;
}
