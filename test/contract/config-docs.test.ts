import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configTableRows, devVarsExample, TABLE_END, TABLE_START } from "../../dev/config-docs";

/** The documentation of the configuration is written from its definition: `npm run docs:config` after a change. */
describe("the configuration's documentation", () => {
  it("README.md's table lists every variable, its default and meaning, as src/config.ts defines them", () => {
    const readme = readFileSync("README.md", "utf8");
    const table = readme.slice(readme.indexOf(TABLE_START) + TABLE_START.length, readme.indexOf(TABLE_END));
    // Cells as written, whatever padding the formatter added; the header and its rule skipped.
    const rows = table
      .split("\n")
      .filter((line) => line.startsWith("|"))
      .slice(2)
      .map((line) =>
        line
          .slice(1, -1)
          .split(" | ")
          .map((cell) => cell.trim()),
      );
    expect(rows).toEqual(configTableRows());
  });

  it(".dev.vars.example lists every variable", () => {
    expect(readFileSync(".dev.vars.example", "utf8")).toBe(devVarsExample());
  });
});
