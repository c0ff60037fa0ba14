import { writeFileSync } from "node:fs";

/**
 * Writes variables as a .env file that `wrangler dev --env-file` reads back unchanged, readable by
 * this user only (0600): the way to hand a Worker its secrets without putting them in argv.
 *
 * Wrangler reads the file with dotenv and then dotenv-expand, which expands `$NAME` even inside
 * single quotes; `\$` is a literal `$` in every quoting. So every `$` is written as `\$`, values are
 * single-quoted (literal otherwise), or double-quoted when they hold a single quote, and a value
 * that no quoting carries unchanged (a newline; a backslash next to a `$`; both quote kinds) is
 * refused with its name, never its value.
 */
export function writeEnvFile(file: string, vars: Record<string, string>): void {
  const lines = Object.entries(vars).map(([name, value]) => `${name}=${quoteEnvValue(name, value)}`);
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
}

export function quoteEnvValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${name} must be one line`);
  if (/\\\$|\$\\/.test(value)) throw new Error(`${name} cannot hold a backslash next to a $ in a .env file`);
  const escaped = value.replaceAll("$", "\\$");
  if (!value.includes("'")) return `'${escaped}'`;
  if (!value.includes('"') && !value.includes("\\")) return `"${escaped}"`;
  throw new Error(`${name} cannot hold both ' and " (or ' and \\): a .env file could not carry it unchanged`);
}
