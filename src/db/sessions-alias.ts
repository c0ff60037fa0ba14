import { getTableName, type SQL, sql } from "drizzle-orm";
import { type AnyPgColumn, alias } from "drizzle-orm/pg-core";
import { sessions } from "./schema";

/*
 * The `sessions` table under the short names the statements of this folder give it, with every
 * column reached through the schema object (src/db/schema.ts): a renamed column fails typecheck
 * instead of failing in the database.
 */

export type SessionsAlias = ReturnType<typeof alias<typeof sessions, string>>;

/** `sessions` as `name`: `${s.lastActivityAt}` renders `"s"."last_activity_at"`. */
export function sessionsAs<Alias extends string>(name: Alias) {
  return alias(sessions, name);
}

/** `"sessions" as "s"`, for a FROM or UPDATE clause. */
export function sessionsTable(table: SessionsAlias): SQL {
  return sql`${sessions} as ${sql.identifier(getTableName(table))}`;
}

/** A column's bare name: the target of a SET, or a CTE's column of the same name. */
export function columnName(column: AnyPgColumn): SQL {
  return sql`${sql.identifier(column.name)}`;
}
