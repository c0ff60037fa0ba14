/** BENCHMARKS.md's comparison of session-gate with the peers (and with itself, cache on). */

import type { DelayPoint } from "./delay";
import { DOWN_SCENARIOS, type DownScenario } from "./down-database";
import { markdownTable, orDash, targetLabel } from "./report-format";
import type { Comparison, Results } from "./results";
import type { SystemName } from "./systems";
import type { TargetName } from "./throughput";

const round2 = (value: number) => Math.round(value * 100) / 100;

function guarantees(c: Comparison): string {
  const rows = c.systems.map((name) => {
    const d = c.descriptions[name];
    const revocation = c.revocation[name];
    const down = c.down[name];
    const passed = down?.answers.filter((a) => a.status === 200) ?? [];
    const failClosed =
      down === undefined
        ? "–"
        : passed.length === 0
          ? `yes: ${down.answers.map((a) => a.status || "no answer").join(", ")}${d?.failureNote ? ` (${d.failureNote})` : ""}`
          : `no: 200 in ${passed.length} of ${down.answers.length} failures (answered from the cache)`;
    const nextCheck =
      revocation === undefined
        ? "–"
        : revocation.refusedOnNextCheck === revocation.trials
          ? `yes (${revocation.trials} of ${revocation.trials})`
          : `no: ${revocation.refusedOnNextCheck} of ${revocation.trials}; passed up to ${round2(revocation.maxLagMs / 1000)} s`;
    return [
      d?.label ?? name,
      d?.hashAtRest ?? "–",
      d?.absoluteTimeout ?? "–",
      d?.databaseClock ?? "–",
      nextCheck,
      failClosed,
    ];
  });
  return markdownTable(
    [
      "system",
      "hash at rest",
      "absolute timeout",
      "database clock",
      "revocation seen on the next check (measured)",
      "fail closed when the database is down (measured: refused, unreachable, hanging)",
    ],
    rows,
  );
}

function perSystem(c: Comparison, r: Results): string {
  const names = c.systems;
  const row = (figure: string, cell: (name: SystemName) => string | number | undefined) => [
    figure,
    ...names.map((name) => orDash(cell(name))),
  ];
  const trips = (name: SystemName) => {
    const t = c.roundTrips[name];
    return t && [t.valid, t.touched, t.expired, t.unknown, t.malformed].join(" / ");
  };
  const down = (name: SystemName) => c.down[name]?.answers.map((a) => `${a.status || "none"} in ${a.ms} ms`).join("; ");
  return markdownTable(
    ["", ...names.map((name) => c.descriptions[name]?.label ?? name)],
    [
      row("req/s (median)", (n) => c.load[n]?.rps),
      row("p50 / p99 ms under load", (n) => c.load[n] && `${c.load[n]?.p50Ms} / ${c.load[n]?.p99Ms}`),
      row("workerd CPU ms per check", (n) => c.load[n]?.workerdCpuMsPerCheck),
      row("PostgreSQL CPU ms per check", (n) => c.load[n]?.postgresCpuMsPerCheck),
      row("stand-in requests per check under load", (n) => c.load[n]?.standInRequestsPerCheck),
      row("round trips: valid / touched or refreshed / expired / unknown / malformed", trips),
      row(`row versions written, ${r.settings.hotValidations} checks of a hot session`, (n) => c.hotWrites[n]?.writes),
      row(
        "row versions written, the same due a touch or refresh at the first check",
        (n) => c.hotWrites[n]?.writesTouchDue,
      ),
      row(`row versions per burst of ${r.settings.burstSize} simultaneous checks due a touch or refresh`, (n) =>
        c.bursts[n]?.writes.join(", "),
      ),
      row(
        "revocation: refused on the next check; lag median / max ms",
        (n) =>
          c.revocation[n] &&
          `${c.revocation[n]?.refusedOnNextCheck} of ${c.revocation[n]?.trials}; ${c.revocation[n]?.medianLagMs} / ${c.revocation[n]?.maxLagMs}`,
      ),
      row("database down (refused; unreachable; hanging)", down),
    ],
  );
}

function delayTable(c: Comparison): string {
  const targets: TargetName[] = [...c.systems, "floor"];
  const label = (name: TargetName) => targetLabel(c, name);
  const heldText = (p: { delayMs: number; appliedMs: number }) =>
    p.delayMs === 0 ? "0" : `${p.delayMs} (held ${p.appliedMs})`;
  // How many delays a request waited: over the baseline with the same idle time where there is one.
  const delaysWaited = (p: Pick<DelayPoint, "delayMs" | "appliedMs" | "p50Ms" | "pausedP50Ms">, atZero?: number) => {
    const baseline = p.pausedP50Ms ?? atZero;
    return p.delayMs === 0 || baseline === undefined ? "–" : round2((p.p50Ms - baseline) / p.appliedMs);
  };
  const rows = targets.flatMap((name) => {
    const points = c.delay[name] ?? [];
    const atZero = points.find((p) => p.delayMs === 0);
    return points.map((p) => [
      label(name),
      heldText(p),
      p.p50Ms,
      p.p99Ms,
      p.delayMs === 0 ? "–" : round2(p.p50Ms / p.delayMs),
      orDash(p.pausedP50Ms ?? undefined),
      delaysWaited(p, atZero?.p50Ms),
      orDash(p.dueP50Ms ?? undefined),
      p.delayMs === 0 || p.dueP50Ms === null || atZero?.dueP50Ms == null
        ? "–"
        : round2((p.dueP50Ms - atZero.dueP50Ms) / p.appliedMs),
      p.requests,
    ]);
  });
  const hopAtZero = c.delayHop?.find((p) => p.delayMs === 0)?.p50Ms;
  const hopRows = (c.delayHop ?? []).map((p) => [
    "a bare HTTP hop (no Worker, no database)",
    heldText(p),
    p.p50Ms,
    "–",
    p.delayMs === 0 ? "–" : round2(p.p50Ms / p.delayMs),
    orDash(p.pausedP50Ms ?? undefined),
    delaysWaited(p, hopAtZero),
    "–",
    "–",
    p.requests,
  ]);
  return markdownTable(
    [
      "system",
      "delay ms",
      "p50 ms",
      "p99 ms",
      "p50 / delay",
      "p50 ms at 0, pausing the delay between checks",
      "(p50 − p50 at 0 pausing) / delay held",
      "touch/refresh p50 ms",
      "(touch/refresh p50 − at 0) / delay held",
      "checks",
    ],
    [...rows, ...hopRows],
  );
}

function downTable(c: Comparison): string {
  const rows = c.systems.flatMap((name) =>
    (c.down[name]?.answers ?? []).map((a) => [
      c.descriptions[name]?.label ?? name,
      a.scenario,
      a.status || "no answer",
      a.retryAfter ?? "–",
      a.ms,
      `\`${a.body.replace(/\s+/g, " ").slice(0, 100)}\``,
      a.bodyHasToken ? "**yes**" : "no",
      c.down[name]?.logHasToken ? "**yes**" : "no",
    ]),
  );
  return markdownTable(
    [
      "system",
      "failure",
      "status",
      "Retry-After",
      "ms (median)",
      "body (start)",
      "token in the answer",
      "token in the Worker's log",
    ],
    rows,
  );
}

function cacheSection(c: Comparison, r: Results): string {
  if (c.cacheSkipped !== undefined) return `Not measured: ${c.cacheSkipped}.`;
  const cached = c.load["session-gate-cached"];
  const plain = c.load["session-gate"];
  const lag = c.revocation["session-gate-cached"];
  return [
    `session-gate with VALID_CACHE_SECONDS=${r.settings.cacheSeconds}, in the same load runs: ${orDash(cached?.rps)} req/s`,
    `(without: ${orDash(plain?.rps)}), p50 ${orDash(cached?.p50Ms)} ms, ${orDash(cached?.standInRequestsPerCheck)} stand-in`,
    `requests per check (one valid session, checked over and over: nearly every check is answered from the cache).`,
    lag === undefined
      ? ""
      : `Revocation lag over ${lag.trials} trials (a revoke committed directly in the database, then a check every ${lag.pollMs} ms until the first 401): median ${round2(lag.medianLagMs / 1000)} s, max ${round2(lag.maxLagMs / 1000)} s; each: ${lag.lagsMs.map((ms) => round2(ms / 1000)).join(", ")} s.`,
  ].join("\n");
}

function policies(c: Comparison): string {
  return c.systems
    .map((name) => {
      const d = c.descriptions[name];
      if (d === undefined) return "";
      const cannot = d.cannotExpress.length === 0 ? "" : `\n- Cannot express: ${d.cannotExpress.join("; ")}.`;
      return `**${d.label}**: ${d.configuration}.
- Idle: ${d.idle}.
- Absolute: ${d.absolute}.
- Writes: ${d.writes}.${cannot}`;
    })
    .filter((text) => text !== "")
    .join("\n\n");
}

export function renderComparison(r: Results): string {
  const c = r.comparison;
  const labels = c.systems.map((name) => c.descriptions[name]?.label ?? name).join("; ");
  return `## session-gate against the peers

Measured in the same run, under the same load: ${labels}. Each is a Worker in workerd behind the same stand-in, on the
same PostgreSQL, on its own tables. Configurations and what each peer cannot express are at the end of this section.

![Checks per second per system](bench/chart-throughput-by-system.svg)

![p50 and p99 per system](bench/chart-latency-by-system.svg)

![CPU per check per system](bench/chart-cpu-by-system.svg)

### Per system

${perSystem(c, r)}

### Guarantees

${guarantees(c)}

"By design" columns are read from each system's code; the last two are measured in this run (revocation: see
below; down: every answer to a valid session with the database down).

### Network delay

![p50 against the delay](bench/chart-p50-by-delay.svg)

${delayTable(c)}

### Database down

${(Object.entries(DOWN_SCENARIOS) as [DownScenario, string][]).map(([key, text]) => `- \`${key}\`: ${text}.`).join("\n")}

${downTable(c)}

### VALID_CACHE_SECONDS

${cacheSection(c, r)}

### Configurations, and what each cannot express

${policies(c)}`;
}
