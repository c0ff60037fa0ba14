/** The charts BENCHMARKS.md shows, by file name (written into bench/ beside it). */
import { barChart, batchTimeline, lineChart } from "./charts";
import { targetLabel } from "./report-format";
import type { Results } from "./results";
import type { SystemName } from "./systems";
import type { TargetName } from "./throughput";

const COLORS: Record<TargetName, string> = {
  "session-gate": "#2563eb",
  "session-gate-cached": "#93c5fd",
  floor: "#9ca3af",
  statement: "#d1d5db",
  "check-token": "#e5e7eb",
  "check-token-cached": "#f3f4f6",
  lucia: "#9333ea",
  "better-auth": "#16a34a",
};

export function chartFiles(r: Results): Record<string, string> {
  const c = r.comparison;
  const label = (name: TargetName) => targetLabel(c, name);
  const loaded = [...c.systems, "floor" as const].filter((name) => c.load[name] !== undefined);
  const runs = `median of ${r.settings.loadRounds} runs, ${r.settings.loadConnections} connections`;
  const delayed = c.systems.filter((name) => (c.delay[name]?.length ?? 0) > 0);
  const gateDelay = c.delay["session-gate"] ?? [];
  const gateAtZero = gateDelay.find((p) => p.delayMs === 0)?.p50Ms ?? 0;

  return {
    "chart-throughput-by-system.svg": barChart({
      title: `Checks per second under the same load (${runs})`,
      unit: "requests per second",
      categories: loaded.map(label),
      series: [{ name: "req/s", color: COLORS["session-gate"] }],
      values: loaded.map((name) => [c.load[name]?.rps ?? 0]),
      categoryColors: loaded.map((name) => COLORS[name]),
    }),
    "chart-latency-by-system.svg": barChart({
      title: `Latency under the same load (${runs})`,
      unit: "milliseconds",
      categories: loaded.map(label),
      series: [
        { name: "p50", color: "#1d4ed8" },
        { name: "p99", color: "#93c5fd" },
      ],
      values: loaded.map((name) => [c.load[name]?.p50Ms ?? 0, c.load[name]?.p99Ms ?? 0]),
    }),
    "chart-cpu-by-system.svg": barChart({
      title: `CPU per check under load (${runs})`,
      unit: "CPU milliseconds per request",
      categories: loaded.map(label),
      series: [
        { name: "workerd", color: "#f59e0b" },
        { name: "PostgreSQL", color: "#0ea5e9" },
      ],
      values: loaded.map((name) => [c.load[name]?.workerdCpuMsPerCheck ?? 0, c.load[name]?.postgresCpuMsPerCheck ?? 0]),
    }),
    "chart-p50-by-delay.svg": lineChart({
      title: "p50 of a check against the network delay to the database (one connection)",
      xLabel: "delay held by the stand-in per request (ms)",
      xTicks: r.settings.delaysMs,
      yLabel: "p50 (ms)",
      series: [
        ...delayed.map((name: SystemName) => ({
          name: label(name),
          color: COLORS[name],
          points: (c.delay[name] ?? []).map((p) => [p.delayMs, p.p50Ms] as [number, number]),
        })),
        ...delayed.map((name: SystemName) => ({
          name: `${label(name)}, touch/refresh due`,
          color: COLORS[name],
          dashed: true,
          points: (c.delay[name] ?? []).map((p) => [p.delayMs, p.dueP50Ms ?? 0] as [number, number]),
        })),
        {
          name: label("floor"),
          color: COLORS.floor,
          points: (c.delay.floor ?? []).map((p) => [p.delayMs, p.p50Ms] as [number, number]),
        },
        {
          name: "target: delay + session-gate's p50 at 0 pausing as long",
          color: "#dc2626",
          dashed: true,
          points: gateDelay.map((p) => [p.delayMs, p.appliedMs + (p.pausedP50Ms ?? gateAtZero)] as [number, number]),
        },
      ],
    }),
    "chart-expiry-batches.svg": batchTimeline({
      title: `Expiry job on ${r.expiry.rows} rows (${r.expiry.expired} expired): its batches over time`,
      batches: r.details.expiry.batches,
      limitSeconds: 1,
      floorSeconds: r.expiry.floorSeconds,
      jobSeconds: r.expiry.jobSeconds,
    }),
  };
}
