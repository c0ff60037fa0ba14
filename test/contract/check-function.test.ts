import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { CHECK_FUNCTION_MIGRATION, checkFunctionDdl } from "../../src/db/check-function";

describe("the check function's migration", () => {
  it("is exactly what the code that defines the check generates (run `npm run db:generate` after changing it)", async () => {
    expect(await readFile(CHECK_FUNCTION_MIGRATION, "utf8")).toBe(checkFunctionDdl());
  });
});
