/** Markdown and number formatting, and the names shown, shared by the report's sections. */
import type { Comparison } from "./results";
import type { SystemName } from "./systems";
import type { TargetName } from "./throughput";

const PART_LABELS: Record<Exclude<TargetName, SystemName>, string> = {
  floor: "session-gate's floor route (one point query)",
  statement: "session-gate's check statement alone",
  "check-token": "session-gate's check without HTTP",
  "check-token-cached": "session-gate's check without HTTP, cached",
};

/** How a system or one of session-gate's bench routes is named in tables and charts. */
export function targetLabel(c: Comparison, name: TargetName): string {
  return name in PART_LABELS
    ? PART_LABELS[name as keyof typeof PART_LABELS]
    : (c.descriptions[name as SystemName]?.label ?? name);
}

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
