import { writeFileSync } from "node:fs";
import { CHECK_FUNCTION_MIGRATION, checkFunctionDdl } from "../src/db/check-function";

/** Part of `npm run db:generate`: writes the check function's migration from the code that defines it. */
writeFileSync(CHECK_FUNCTION_MIGRATION, checkFunctionDdl());
console.log(`db:generate: wrote ${CHECK_FUNCTION_MIGRATION}`);
