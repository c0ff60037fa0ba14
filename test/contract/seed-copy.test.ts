import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/*
 * The existing application's model runs in test/e2e/existing-app.test.ts from a copy kept in this
 * repository (a clone anywhere has it); the seed we were given beside the repository is the
 * original. They must be the same bytes: the contract is the seed's, not our copy's.
 */
const copy = fileURLToPath(new URL("../existing-app/seed/session_model.py", import.meta.url));
const original = fileURLToPath(new URL("../../../shared/seed/session_model.py", import.meta.url));

describe("the seed model's copy", () => {
  it.skipIf(!existsSync(original))("is byte for byte ../shared/seed/session_model.py", () => {
    expect(readFileSync(copy, "utf8")).toBe(readFileSync(original, "utf8"));
  });
});
