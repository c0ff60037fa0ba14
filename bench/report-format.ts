/** Markdown and number formatting shared by the report's sections. */

export function markdownTable(header: string[], rows: (string | number)[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map((cell) => String(cell).replace(/\|/g, "\\|")).join(" | ")} |`),
  ].join("\n");
}

export const percent = (value: number) => `${Math.round(value * 100)} %`;

/** "–" for a figure a system does not have. */
export const orDash = (value: string | number | undefined) => (value === undefined ? "–" : String(value));
