import { type SQL, sql } from "drizzle-orm";
import type { RevokeReason } from "../sessions/constants";
import { type Db, queryRows } from "./client";
import { expiryRule } from "./expiry-rule";
import { columnName, type SessionsAlias, sessionsAs, sessionsTable } from "./sessions-alias";

/*
 * The expiry job's statements. Neon's HTTP endpoint has no interactive transactions, so each batch
 * is ONE statement and therefore atomic: it picks at most `limit` rows with `FOR UPDATE SKIP
 * LOCKED`, changes them, and reports what it changed from RETURNING.
 *
 * - SKIP LOCKED: a row another run (or a check ending or touching it) holds is left for later
 *   instead of waited on, so the job never queues behind checks and two overlapping runs
 *   split the work instead of colliding.
 * - A row another run ended after this statement's snapshot was taken is re-read when it is locked
 *   (READ COMMITTED re-checks the WHERE clause on the latest version) and dropped; the UPDATE
 *   checks the condition again on the row it writes. So no row is ended, or counted, twice.
 * - Oldest first, by index order: each batch reads only index entries it will use, and an
 *   expired row's `ended_at` is the moment it expired whenever the job gets to it.
 */

export type TimeoutReason = Extract<RevokeReason, "idle_timeout" | "absolute_timeout">;

const CLEANUP_REASON: RevokeReason = "cleanup_stale";

/** Which partial index a batch of the expiry pass reads: one limit at a time, each in its own order. */
export type ExpiryScan = "absolute" | "idle";

/**
 * One batch of the expiry pass, as SQL: exported so a test can EXPLAIN the very statement the job
 * runs. It reads one partial index on active rows in order, from the oldest entry, and stops at
 * `limit`: an ordered, limited scan stays an index scan whatever the planner guesses about how many
 * rows match, so a batch costs what it ends, not what the table holds (a table that is mostly
 * ended history, as every real one is, would otherwise be read whole whenever the planner's
 * statistics lag behind). Whichever scan picks a row, the rule decides its reason and `ended_at`.
 * `= any(array(...))` makes the update primary-key lookups of exactly the picked rows. Rows that
 * are active but not live (half-revoked) are the repair pass's, never this one's, just as
 * the check leaves them alone.
 */
export function endExpiredSessionsQuery(options: { idleTimeoutMinutes: number; limit: number; scan: ExpiryScan }): SQL {
  // `c` is a candidate as the scan found it, `s` the row the UPDATE writes.
  const [c, s] = [sessionsAs("c"), sessionsAs("s")];
  const candidate = expiryRule(c, options.idleTimeoutMinutes);
  const current = expiryRule(s, options.idleTimeoutMinutes);
  const [reached, order] =
    options.scan === "absolute"
      ? [candidate.absoluteReached, c.absoluteExpiresAt]
      : [candidate.idleReached, c.lastActivityAt];
  return sql`with picked as (
      select ${c.id} from ${sessionsTable(c)}
      where ${c.isActive} and ${reached} and ${candidate.isLive}
      order by ${order}
      limit ${options.limit}::int
      for update skip locked
    ), ended as (
      update ${sessionsTable(s)}
      set ${columnName(s.isActive)} = false, ${columnName(s.revokeReason)} = ${current.reason},
        ${columnName(s.endedAt)} = ${current.endedAt}, ${columnName(s.revokedAt)} = now()
      where ${s.id} = any(array(select ${columnName(c.id)} from picked)) and ${current.isLive} and ${current.isExpired}
      returning ${s.revokeReason}
    )
    select ${columnName(s.revokeReason)} as reason, count(*)::int as sessions from ended group by ${columnName(s.revokeReason)}`;
}

/**
 * Ends up to `limit` live sessions past their absolute or idle limit, by the shared expiry rule
 * (reason: whichever limit came first; `ended_at`: when it came; `revoked_at`: now).
 */
export async function endExpiredSessions(
  db: Db,
  options: { idleTimeoutMinutes: number; limit: number; scan: ExpiryScan; statementTimeoutMs: number },
): Promise<Record<TimeoutReason, number>> {
  const rows = await queryRows<{ reason: TimeoutReason; sessions: number }>(
    db,
    endExpiredSessionsQuery(options),
    options,
  );
  const ended: Record<TimeoutReason, number> = {
    idle_timeout: 0,
    absolute_timeout: 0,
  };
  for (const row of rows) ended[row.reason] = row.sessions;
  return ended;
}

/**
 * Ends up to `limit` rows another writer left half-done: `is_active` still true although
 * `ended_at` or `revoked_at` is set (active, but not live by the shared rule). The check refuses
 * them already; this makes the row say so too.
 *
 * `ended_at` keeps the writer's own value, else its `revoked_at`: the session ended when it was
 * revoked, not when the job noticed. `revoked_at` likewise keeps the writer's value, else now().
 */
export async function endInconsistentSessions(
  db: Db,
  options: { limit: number; statementTimeoutMs: number },
): Promise<number> {
  const rows = await queryRows<{ sessions: number }>(db, endInconsistentSessionsQuery(options), options);
  return rows[0]?.sessions ?? 0;
}

/**
 * The repair batch as SQL, for EXPLAIN. The planner guesses the half-ended share from `is_active`
 * and `ended_at` as if they were independent, which on a table of ended history (all with
 * `ended_at`) comes out large enough to prefer reading the whole table; asking for index order
 * makes a partial index (`ix_sessions_half_ended`, or one over active rows) the cheap way.
 */
export function endInconsistentSessionsQuery(options: { limit: number }): SQL {
  const [c, s] = [sessionsAs("c"), sessionsAs("s")];
  const inconsistent = (table: SessionsAlias) =>
    sql`(${table.isActive} and (${table.endedAt} is not null or ${table.revokedAt} is not null))`;
  return sql`with picked as (
      select ${c.id} from ${sessionsTable(c)}
      where ${inconsistent(c)}
      order by ${c.id}
      limit ${options.limit}::int
      for update skip locked
    ), repaired as (
      update ${sessionsTable(s)}
      set ${columnName(s.isActive)} = false, ${columnName(s.revokeReason)} = ${CLEANUP_REASON},
        ${columnName(s.endedAt)} = coalesce(${s.endedAt}, ${s.revokedAt}), ${columnName(s.revokedAt)} = coalesce(${s.revokedAt}, now())
      from picked p
      where ${s.id} = p.${columnName(c.id)} and ${inconsistent(s)}
      returning 1
    )
    select count(*)::int as sessions from repaired`;
}

/**
 * Deletes up to `limit` ended sessions whose `ended_at` is more than `retentionDays` days before
 * now(). Rows ended without an `ended_at` are kept: there is no moment to measure retention from.
 */
export async function purgeEndedSessions(
  db: Db,
  options: { retentionDays: number; limit: number; statementTimeoutMs: number },
): Promise<number> {
  const [c, s] = [sessionsAs("c"), sessionsAs("s")];
  const pastRetention = (table: SessionsAlias) =>
    sql`(not ${table.isActive} and ${table.endedAt} < now() - make_interval(days => ${options.retentionDays}::int))`;
  const rows = await queryRows<{ sessions: number }>(
    db,
    sql`with picked as (
      select ${c.id} from ${sessionsTable(c)}
      where ${pastRetention(c)}
      limit ${options.limit}::int
      for update skip locked
    ), purged as (
      delete from ${sessionsTable(s)}
      using picked p
      where ${s.id} = p.${columnName(c.id)} and ${pastRetention(s)}
      returning 1
    )
    select count(*)::int as sessions from purged`,
    options,
  );
  return rows[0]?.sessions ?? 0;
}
