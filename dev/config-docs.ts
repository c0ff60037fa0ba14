import { VARIABLE_DEFAULTS, VARIABLE_DOCS, WORKER_VARIABLES } from "../src/config";

/*
 * The configuration's documentation, written from its one definition (src/config.ts): the table
 * in README.md and .dev.vars.example. `npm run docs:config` writes both; a contract test fails when
 * either is out of date.
 */

export const TABLE_START = "<!-- config table: written by `npm run docs:config` from src/config.ts -->";
export const TABLE_END = "<!-- end of config table -->";

function defaultCell(name: (typeof WORKER_VARIABLES)[number]): string {
  const value = VARIABLE_DEFAULTS[name];
  const secret = VARIABLE_DOCS[name].secret ? ", secret" : "";
  if (value === "required") return `(required${secret})`;
  if (value === undefined) return `(unset${secret})`;
  return `\`${String(value)}\``;
}

/** The rows of README's table: variable, default, meaning. */
export function configTableRows(): [string, string, string][] {
  return WORKER_VARIABLES.map((name) => [`\`${name}\``, defaultCell(name), VARIABLE_DOCS[name].description]);
}

export function configTable(): string {
  const rows = [["variable", "default", "meaning"], ["---", "---", "---"], ...configTableRows()];
  return rows.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** .dev.vars.example: every variable, commented, with its default; secrets left empty. */
export function devVarsExample(): string {
  const lines = [
    "# Every variable session-gate reads (src/config.ts), for a .dev.vars of your own: copy this file",
    "# to .dev.vars (git ignores it) and uncomment what you set. `npm run dev` needs none of them: it",
    "# runs its own database and passes the variables set in your shell. Written by `npm run docs:config`.",
  ];
  for (const name of WORKER_VARIABLES) {
    const doc = VARIABLE_DOCS[name];
    const value = VARIABLE_DEFAULTS[name];
    lines.push(
      "",
      `# ${doc.description.replaceAll("`", "")}${doc.secret ? " (a secret: `wrangler secret put` in production)" : ""}`,
    );
    lines.push(`# ${name}=${value === "required" || value === undefined || doc.secret ? "" : String(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** README with its configuration table replaced by the current one. */
export function readmeWithConfigTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error("README.md has no configuration table markers");
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${configTable()}\n\n${readme.slice(end)}`;
}
