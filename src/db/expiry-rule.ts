import { type SQL, sql } from "drizzle-orm";
import type { SessionsAlias } from "./sessions-alias";

/**
 * The expiry rule, defined once and evaluated by the database (its `now()`, never the edge's
 * clock). The check statement and the expiry job both build their SQL from here, so the two
 * cannot drift apart.
 *
 * - expired: `now() >= absolute_expires_at` or `now() >= last_activity_at + idle timeout`; the seed's
 *   `is_expired` uses `>=`, so the boundary instant itself is already expired. The idle test is
 *   written with the column alone on one side so the partial index on active rows serves it.
 * - reason: whichever limit was reached first; on a tie, 'absolute_timeout'.
 * - ended_at: the moment the session actually expired, not the moment somebody noticed.
 */
export interface ExpiryRule {
  /**
   * Active and not marked ended in any way. A row another writer left `is_active` with `ended_at`
   * or `revoked_at` set is a half-done revoke: it fails closed here, and the expiry job's repair
   * pass ends it as 'cleanup_stale'.
   */
  isLive: SQL;
  idleExpiresAt: SQL;
  /** Each limit alone, written with its column alone on one side so its partial index serves it. */
  absoluteReached: SQL;
  idleReached: SQL;
  isExpired: SQL;
  reason: SQL;
  endedAt: SQL;
}

/**
 * The rule over the row that `table` (an alias of `sessions`) names. `idleTimeoutMinutes` is a
 * number, or SQL naming it (a parameter of the check function).
 */
export function expiryRule(table: SessionsAlias, idleTimeoutMinutes: number | SQL): ExpiryRule {
  const lastActivityAt = sql`${table.lastActivityAt}`;
  const absoluteExpiresAt = sql`${table.absoluteExpiresAt}`;
  const idleTimeout = sql`make_interval(mins => ${intValue(idleTimeoutMinutes)})`;
  const idleExpiresAt = sql`(${lastActivityAt} + ${idleTimeout})`;
  return {
    isLive: sql`(${table.isActive} and ${table.endedAt} is null and ${table.revokedAt} is null)`,
    idleExpiresAt,
    absoluteReached: sql`${absoluteExpiresAt} <= now()`,
    idleReached: sql`${lastActivityAt} <= now() - ${idleTimeout}`,
    isExpired: sql`(${absoluteExpiresAt} <= now() or ${lastActivityAt} <= now() - ${idleTimeout})`,
    reason: sql`(case when ${absoluteExpiresAt} <= ${idleExpiresAt} then 'absolute_timeout' else 'idle_timeout' end)`,
    endedAt: sql`least(${absoluteExpiresAt}, ${idleExpiresAt})`,
  };
}

/** A number as an int parameter, or SQL as it stands. */
export function intValue(value: number | SQL): SQL {
  return typeof value === "number" ? sql`${value}::int` : value;
}

/**
 * A timestamptz as ISO-8601 in UTC exactly as Python's `datetime.isoformat()` writes it for a UTC
 * value (the seed's `to_dict`): `+00:00`, not `Z` (which `fromisoformat` before Python 3.11
 * refuses), and six digits of microseconds only when there are any. Whatever the connection's
 * TimeZone.
 */
export function isoTimestamp(value: SQL): SQL {
  // Written with the fraction always, then without it when it is all zeros: the only '.' in the
  // text is the fraction's. One `to_char` and a `replace` cost PostgreSQL less than two `to_char`s
  // and a numeric `extract`: in the check function, about 3 µs less per call (of 13 µs).
  return sql`(replace(to_char(((${value}) at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') || '+00:00')`;
}
