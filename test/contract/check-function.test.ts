import { describe, expect, it } from "vitest";
import { latestCheckFunctionMigration } from "../../dev/check-function-migration";
import { checkFunctionDdl } from "../../src/db/check-function";

describe("the check function's migration", () => {
  it("the newest one installs exactly what the code that defines the check generates (run `npm run db:generate` after changing it)", () => {
    expect(latestCheckFunctionMigration()?.sql).toBe(checkFunctionDdl());
  });
});
