import { sql } from "drizzle-orm";
import { CHECK_FUNCTION_SIGNATURE } from "./check-function";
import { type Db, queryRows } from "./client";

export interface DatabaseState {
  /** The check function's comment (`session-gate check <digest>`), or null when it is not there. */
  checkFunctionVersion: string | null;
  /** Whether this role may call it, and write what the check writes. */
  canCheck: boolean;
}

/**
 * What the Worker needs of the database, read from the catalogs in one statement: that it answers,
 * that the migrations installed the check function this code expects, and that this role may use
 * it. A missing function is null, not an error: to_regprocedure() says so without failing.
 */
export async function inspectDatabase(db: Db): Promise<DatabaseState> {
  const [row] = await queryRows<{ version: string | null; can_check: boolean | null }>(
    db,
    sql`select obj_description(to_regprocedure(${CHECK_FUNCTION_SIGNATURE}), 'pg_proc') as version,
      to_regprocedure(${CHECK_FUNCTION_SIGNATURE}) is not null
        and has_function_privilege(to_regprocedure(${CHECK_FUNCTION_SIGNATURE}), 'EXECUTE')
        and to_regclass('sessions') is not null
        and has_column_privilege('sessions', 'last_activity_at', 'UPDATE') as can_check`,
  );
  return { checkFunctionVersion: row?.version ?? null, canCheck: row?.can_check === true };
}
