import { sql } from "drizzle-orm";
import { type Db, queryRows } from "./client";

/** Resolves when the database answers a trivial statement; rejects with a `DatabaseError` otherwise. */
export async function pingDatabase(db: Db): Promise<void> {
  await queryRows(db, sql`select 1`);
}
