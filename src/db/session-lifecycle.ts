import { type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { AppType, RevokeReason } from "../sessions/constants";
import type { Session } from "../sessions/session";
import { DatabaseError, type Db, queryRows } from "./client";
import { expiryRule, isoTimestamp } from "./expiry-rule";
import { sessions } from "./schema";
import { columnName, sessionsAs, sessionsTable } from "./sessions-alias";

/** Every statement here names the row it reads or writes `s`. */
const s = sessionsAs("s");

/** A `Session` from `s`: the `to_dict` columns, with the effective `isActive` by the shared expiry rule. */
function sessionColumns(idleTimeoutMinutes: number): SQL {
  const rule = expiryRule(s, idleTimeoutMinutes);
  return sql`${s.id}, ${s.userId} as "userId", ${s.tenantId} as "tenantId",
    ${isoTimestamp(sql`${s.createdAt}`)} as "createdAt",
    ${isoTimestamp(sql`${s.lastActivityAt}`)} as "lastActivityAt",
    ${isoTimestamp(sql`${s.absoluteExpiresAt}`)} as "absoluteExpiresAt",
    ${s.ipAddress} as "ipAddress", (${rule.isLive} and not ${rule.isExpired}) as "isActive",
    ${isoTimestamp(sql`${s.revokedAt}`)} as "revokedAt", ${s.revokeReason} as "revokeReason",
    ${isoTimestamp(sql`${s.endedAt}`)} as "endedAt", ${s.appType} as "appType"`;
}

/** The column list of an INSERT. */
const columns = (...list: AnyPgColumn[]) => sql.join(list.map(columnName), sql`, `);

export interface NewSession {
  userId: number;
  tenantId: number | null;
  appType: AppType;
  ipAddress: string | null;
  userAgent: string | null;
  tokenHash: string;
  absoluteTimeoutSeconds: number;
}

export type InsertSessionResult = Session | { missing: "user" | "tenant" };

/**
 * Inserts a session, every column explicit: the existing application's table has no server
 * defaults for `id`, `is_active` or `app_type` (its model sets them in Python). The absolute
 * expiry is computed from the database's clock. An unknown user or tenant is an expected miss.
 */
/**
 * What the lifecycle statements need of the configuration: the idle timeout of the expiry rule,
 * and the deadline of a write, which the database enforces (`statement_timeout`).
 */
export interface LifecycleLimits {
  idleTimeoutMinutes: number;
  validationTimeoutMs: number;
}

export async function insertSession(db: Db, n: NewSession, limits: LifecycleLimits): Promise<InsertSessionResult> {
  const t = sessions;
  try {
    const rows = await queryRows<Session>(
      db,
      sql`insert into ${sessionsTable(s)} (${columns(t.id, t.userId, t.sessionTokenHash, t.createdAt, t.lastActivityAt, t.absoluteExpiresAt, t.ipAddress, t.userAgent, t.tenantId, t.isActive, t.appType)})
        values (gen_random_uuid(), ${n.userId}, ${n.tokenHash}, now(), now(),
          now() + make_interval(secs => ${n.absoluteTimeoutSeconds}::double precision),
          ${n.ipAddress}, ${n.userAgent}, ${n.tenantId}, true, ${n.appType})
        returning ${sessionColumns(limits.idleTimeoutMinutes)}`,
      { statementTimeoutMs: limits.validationTimeoutMs },
    );
    return rows[0] as Session;
  } catch (error) {
    if (error instanceof DatabaseError && error.code === "23503") {
      return { missing: error.constraint?.includes("tenant") ? "tenant" : "user" };
    }
    throw error;
  }
}

export async function findSessionById(db: Db, id: string, idleTimeoutMinutes: number): Promise<Session | null> {
  const rows = await queryRows<Session>(
    db,
    sql`select ${sessionColumns(idleTimeoutMinutes)} from ${sessionsTable(s)} where ${s.id} = ${id}`,
  );
  return rows[0] ?? null;
}

/**
 * Ends the live sessions `which` selects, in one statement, and counts those ended with `reason`.
 * A session already past a limit is ended truthfully, with its timeout reason and the moment it
 * expired, and not counted: it was over before anyone revoked it. An ended session is never
 * touched again, so its first reason and times stay.
 *
 * The rows are locked first, in id order: two of these statements ending overlapping sets (a
 * user's revoke-others racing an admin's revoke-all) would otherwise lock them in whatever order
 * their scans meet them and could deadlock. A racing check either sees the end (and refuses)
 * or committed its touch first.
 */
async function endSessions(db: Db, which: SQL, reason: RevokeReason, limits: LifecycleLimits): Promise<number> {
  const rule = expiryRule(s, limits.idleTimeoutMinutes);
  const rows = await queryRows<{ id: string; revoked: boolean }>(
    db,
    sql`with locked as (
        select ${s.id} from ${sessionsTable(s)} where ${which} and ${rule.isLive} order by ${s.id} for update
      )
      update ${sessionsTable(s)} set ${columnName(s.isActive)} = false, ${columnName(s.revokedAt)} = now(),
        ${columnName(s.revokeReason)} = case when ${rule.isExpired} then ${rule.reason} else ${reason} end,
        ${columnName(s.endedAt)} = case when ${rule.isExpired} then ${rule.endedAt} else now() end
      where ${s.id} = any(array(select ${columnName(s.id)} from locked)) and ${rule.isLive}
      returning ${s.id}, (${s.revokeReason} = ${reason}) as revoked`,
    { statementTimeoutMs: limits.validationTimeoutMs },
  );
  return rows.filter((row) => row.revoked).length;
}

/** Ends one session; true when it was live until now. */
export async function endSession(db: Db, id: string, reason: RevokeReason, limits: LifecycleLimits): Promise<boolean> {
  return (await endSessions(db, sql`${s.id} = ${id}`, reason, limits)) === 1;
}

/** Ends every live session of a user, except one if given; returns how many were live. */
export async function endSessionsOfUser(
  db: Db,
  userId: number,
  reason: RevokeReason,
  limits: LifecycleLimits & { exceptSessionId?: string },
): Promise<number> {
  const except = limits.exceptSessionId === undefined ? sql`true` : sql`${s.id} <> ${limits.exceptSessionId}`;
  return endSessions(db, sql`${s.userId} = ${userId} and ${except}`, reason, limits);
}

export interface SessionPage {
  sessions: Session[];
  /** Where the next page starts (the last row's created_at and id), or null at the end. */
  next: { createdAt: string; id: string } | null;
}

/** A user's sessions, newest first, keyset-paginated on (created_at, id) so pages never shift. */
export async function listSessionsOfUser(
  db: Db,
  userId: number,
  options: { active?: boolean; limit: number; after?: { createdAt: string; id: string }; idleTimeoutMinutes: number },
): Promise<SessionPage> {
  const rule = expiryRule(s, options.idleTimeoutMinutes);
  const live = sql`(${rule.isLive} and not ${rule.isExpired})`;
  const activeFilter = options.active === undefined ? sql`true` : options.active ? live : sql`not ${live}`;
  const afterFilter =
    options.after === undefined
      ? sql`true`
      : sql`(${s.createdAt}, ${s.id}) < (${options.after.createdAt}::timestamptz, ${options.after.id}::uuid)`;
  const rows = await queryRows<Session>(
    db,
    sql`select ${sessionColumns(options.idleTimeoutMinutes)} from ${sessionsTable(s)}
      where ${s.userId} = ${userId} and ${activeFilter} and ${afterFilter}
      order by ${s.createdAt} desc, ${s.id} desc
      limit ${options.limit + 1}::int`,
  );
  const sessions = rows.slice(0, options.limit);
  const last = sessions.at(-1);
  return {
    sessions,
    next: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
  };
}
