import { vi } from "vitest";

/** Captures every console line the Worker writes while `run` runs (and shows none of them). */
export async function captureLogs(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => {
    lines.push(
      args
        .map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.message} ${a.stack}` : JSON.stringify(a)))
        .join(" "),
    );
  };
  const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation(capture),
  );
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines;
}

/** The JSON log lines among `lines` whose `event` is `event`, parsed. */
export function events(lines: string[], event: string): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed.event === event ? [parsed] : [];
    } catch {
      return [];
    }
  });
}
