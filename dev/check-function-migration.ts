import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CHECK_FUNCTION } from "../src/db/check-function";

const drizzleFolder = fileURLToPath(new URL("../drizzle/", import.meta.url));

/**
 * The newest migration that installs the check function (`NNNN_session_gate_check_json.sql`), by the
 * journal; undefined before the first.
 */
export function latestCheckFunctionMigration(): { tag: string; path: string; sql: string } | undefined {
  const journal = JSON.parse(readFileSync(`${drizzleFolder}meta/_journal.json`, "utf8")) as {
    entries: { tag: string }[];
  };
  const tag = journal.entries.map((entry) => entry.tag).findLast((t) => t.endsWith(`_${CHECK_FUNCTION}`));
  if (tag === undefined) return undefined;
  const path = `${drizzleFolder}${tag}.sql`;
  return { tag, path, sql: readFileSync(path, "utf8") };
}
