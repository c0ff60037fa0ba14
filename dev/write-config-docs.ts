import { readFileSync, writeFileSync } from "node:fs";
import { devVarsExample, readmeWithConfigTable } from "./config-docs";

/** `npm run docs:config`: README's configuration table and .dev.vars.example, from src/config.ts. */
writeFileSync("README.md", readmeWithConfigTable(readFileSync("README.md", "utf8")));
writeFileSync(".dev.vars.example", devVarsExample());
console.log("docs:config: wrote README.md's configuration table and .dev.vars.example (run `npm run format` next)");
