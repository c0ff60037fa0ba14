import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { CHECK_FUNCTION, checkFunctionDdl } from "../src/db/check-function";
import { latestCheckFunctionMigration } from "./check-function-migration";

/*
 * Part of `npm run db:generate`: when the check function the code defines differs from the one
 * the newest migration installs, adds a migration that installs it (drizzle-kit makes the empty
 * custom migration and its journal entry). An applied migration is never edited: databases that
 * ran it would never see the new body.
 */
const ddl = checkFunctionDdl();
if (latestCheckFunctionMigration()?.sql === ddl) {
  console.log(`db:generate: ${CHECK_FUNCTION} unchanged`);
} else {
  execFileSync("npx", ["drizzle-kit", "generate", "--custom", `--name=${CHECK_FUNCTION}`], { stdio: "inherit" });
  const migration = latestCheckFunctionMigration();
  if (migration === undefined) throw new Error(`drizzle-kit made no migration named ${CHECK_FUNCTION}`);
  writeFileSync(migration.path, ddl);
  console.log(`db:generate: wrote ${migration.tag}.sql`);
}
