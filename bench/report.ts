/** The results: the terminal table, bench/results.json, BENCHMARKS.md and the charts beside it. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { median } from "./load";
import { chartFiles } from "./report-charts";
import { renderComparison } from "./report-comparison";
import { markdownTable, percent } from "./report-format";
import { renderMethod } from "./report-method";
import type { Check, Results } from "./results";
import type { RoundTrips } from "./round-trips";
import type { SystemName } from "./systems";
import type { MeasuredRun } from "./throughput";

export type { Results } from "./results";

function atMost(figure: string, value: number, target: number, unit = ""): Check {
  return {
    figure,
    measured: `${value}${unit}`,
    target: `≤ ${target}${unit}`,
    met: value <= target,
    margin: target === 0 ? (value === 0 ? "exact" : `${value} over`) : `${percent(value / target)} of the limit`,
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const OUTCOMES = ["valid", "touched", "expired", "unknown"] as const satisfies (keyof RoundTrips)[];
const PEERS: SystemName[] = ["lucia", "better-auth"];

/** Per round in which both ran: the first system's req/s over the second's. */
function pairedRatios(runs: MeasuredRun[], mine: string, theirs: string): number[] {
  const rounds = [...new Set(runs.map((run) => run.round))];
  return rounds.flatMap((round) => {
    const a = runs.find((run) => run.round === round && run.target === mine);
    const b = runs.find((run) => run.round === round && run.target === theirs);
    return a && b && b.rps > 0 ? [a.rps / b.rps] : [];
  });
}

/** session-gate against the peers: throughput, round trips, delay, concurrent touches. */
function comparisonChecks(r: Pick<Results, "comparison">, loadRuns: MeasuredRun[]): Check[] {
  const c = r.comparison;
  const label = (name: SystemName) => c.descriptions[name]?.label ?? name;
  const peers = PEERS.filter((name) => c.systems.includes(name));
  const checks: Check[] = [];

  const gateRps = c.load["session-gate"]?.rps ?? 0;
  const fastest = peers.reduce<SystemName | undefined>(
    (best, name) => ((c.load[name]?.rps ?? 0) > (best ? (c.load[best]?.rps ?? 0) : -1) ? name : best),
    undefined,
  );
  if (fastest !== undefined) {
    const peerRps = c.load[fastest]?.rps ?? 0;
    // Judged as the guide says to compare on a shared machine: the ratio of the two systems' runs
    // in the same round (same load on the machine, order rotated), the median over the rounds.
    // The medians of each system's own req/s are shown beside it: they mix rounds of different load.
    const paired = pairedRatios(loadRuns, "session-gate", fastest);
    const ratio = paired.length > 0 ? median(paired) : gateRps / peerRps;
    checks.push({
      figure: "throughput: session-gate against the fastest peer (median of the rounds' req/s ratios)",
      measured: `${round2(ratio)} (rounds: ${paired.map(round2).join(", ")}); medians of req/s ${gateRps} against ${peerRps} (${label(fastest)})`,
      target: "≥ 1",
      met: ratio >= 1,
      margin: `${percent(ratio)} of it`,
    });
  }

  const gateTrips = c.roundTrips["session-gate"];
  if (gateTrips !== undefined && peers.length > 0) {
    const pairs = peers.flatMap((peer) =>
      OUTCOMES.map((outcome) => ({ mine: gateTrips[outcome], theirs: c.roundTrips[peer]?.[outcome] ?? 0 })),
    );
    const fewer = pairs.filter((p) => p.mine < p.theirs).length;
    const equal = pairs.filter((p) => p.mine === p.theirs).length;
    checks.push({
      figure: "round trips per outcome (valid, touched/refreshed, expired, unknown)",
      measured: [
        `session-gate ${OUTCOMES.map((o) => gateTrips[o]).join("/")}`,
        ...peers.map((peer) => `${label(peer)} ${OUTCOMES.map((o) => c.roundTrips[peer]?.[o] ?? "?").join("/")}`),
      ].join("; "),
      target: "≤ every peer's, per outcome",
      met: pairs.every((p) => p.mine <= p.theirs),
      margin: `fewer in ${fewer} and as many in ${equal} of ${pairs.length} comparisons`,
    });
  }

  // A delay is judged against p50 with the same idle time (the client pausing the delay, none held:
  // bench/delay.ts says why); p50 at 0 back to back, and what the floor route (one point query
  // through the same Worker and driver) and a bare HTTP hop (no Worker, no database) show over
  // their own baselines, go in the margin.
  const excessOf = (baselineMs: number | null | undefined, point: { p50Ms: number; appliedMs: number } | undefined) =>
    baselineMs != null && point !== undefined ? round2(point.p50Ms - point.appliedMs - baselineMs) : undefined;
  const overOrSpare = (ms: number) => (ms >= 0 ? `${ms} ms over` : `${-ms} ms to spare`);
  const points = c.delay["session-gate"] ?? [];
  const atZero = points.find((p) => p.delayMs === 0);
  const floorPoints = c.delay.floor ?? [];
  const hopAtZero = c.delayHop?.find((p) => p.delayMs === 0)?.p50Ms;
  for (const point of points.filter((p) => p.delayMs > 0)) {
    if (atZero === undefined) break;
    const paused = point.pausedP50Ms ?? undefined;
    const baseline = paused ?? atZero.p50Ms;
    const limit = round2(point.appliedMs + baseline);
    const spare = round2(limit - point.p50Ms);
    const floorPoint = floorPoints.find((p) => p.delayMs === point.delayMs);
    const hopPoint = c.delayHop?.find((p) => p.delayMs === point.delayMs);
    const backToBack = excessOf(atZero.p50Ms, point);
    const floorExcess = excessOf(
      floorPoint?.pausedP50Ms ?? floorPoints.find((p) => p.delayMs === 0)?.p50Ms,
      floorPoint,
    );
    const hopExcess = excessOf(hopPoint?.pausedP50Ms ?? hopAtZero, hopPoint);
    const others = [
      paused === undefined || backToBack === undefined
        ? undefined
        : `against p50 at 0 back to back: ${overOrSpare(backToBack)}`,
      floorExcess === undefined ? undefined : `the floor route: ${overOrSpare(floorExcess)}`,
      hopExcess === undefined ? undefined : `a bare HTTP hop: ${overOrSpare(hopExcess)}`,
    ].filter((text) => text !== undefined);
    checks.push({
      figure: `p50 under a ${point.delayMs} ms delay (held ${point.appliedMs} ms)`,
      measured: `${point.p50Ms} ms (${round2(point.p50Ms / point.delayMs)} × the delay; ${round2((point.p50Ms - baseline) / point.appliedMs)} × it over p50 at 0${paused === undefined ? "" : " pausing as long"})`,
      target:
        paused === undefined
          ? `≤ delay held + p50 at 0 = ${limit} ms`
          : `≤ delay held + p50 at 0 pausing ${point.delayMs} ms between checks = ${limit} ms`,
      met: point.p50Ms <= limit,
      margin: `${spare >= 0 ? `${spare} ms to spare` : `${-spare} ms over`}${others.length === 0 ? "" : ` (${others.join("; ")})`}`,
    });
  }

  const bursts = c.bursts["session-gate"];
  if (bursts !== undefined) {
    checks.push({
      figure: `row versions per burst of ${bursts.size} checks due a touch`,
      measured: bursts.writes.join(", "),
      target: "1 per burst",
      met: bursts.writes.every((n) => n === 1),
      margin: bursts.writes.every((n) => n === 1) ? "exact" : "differs",
    });
  }
  return checks;
}

/** Every figure against its target (issue 6, and the comparison with the peers). */
export function checkTargets(
  r: Omit<Results, "checks" | "settings" | "environment" | "durationSeconds" | "details">,
  loadRuns: MeasuredRun[],
): Check[] {
  const trips = r.roundTrips;
  const wanted: RoundTrips = { valid: 1, touched: 1, expired: 1, unknown: 1, malformed: 0 };
  const tripsMet = (Object.keys(wanted) as (keyof RoundTrips)[]).every((k) => trips[k] === wanted[k]);
  const ratioRuns = r.throughput.ratios.length;
  return [
    {
      figure: "roundTrips (valid, touched, expired, unknown, malformed)",
      measured: [trips.valid, trips.touched, trips.expired, trips.unknown, trips.malformed].join(", "),
      target: "1, 1, 1, 1, 0",
      met: tripsMet,
      margin: tripsMet ? "exact" : "differs",
    },
    atMost("hotSessionWrites (1,000 validations, one interval)", r.hotSessionWrites, 1),
    {
      figure: `throughput.ratio (validate / floor req/s, median of ${ratioRuns} paired runs)`,
      measured: `${r.throughput.ratio} (runs: ${r.throughput.ratios.join(", ")})`,
      target: "≥ 0.85",
      met: r.throughput.ratio >= 0.85,
      margin: `${percent(r.throughput.ratio / 0.85)} of the minimum`,
    },
    atMost("cpuMsOverFloor (workerd CPU per check − floor route's, same round)", r.cpuMsOverFloor, 0.1, " ms"),
    {
      ...atMost(
        `scale.ratio1MTo10k (p50 against a 10k table, median of alternating rounds)`,
        r.scale.ratio1MTo10k,
        1.2,
      ),
      measured: `${r.scale.ratio1MTo10k}${r.scale.ratios1MTo10k ? ` (rounds: ${r.scale.ratios1MTo10k.join(", ")})` : ""}`,
    },
    {
      ...atMost(
        `expiry.ratio (job / one UPDATE, table written in order, median of ${r.expiry.ratios.length} rounds)`,
        r.expiry.ratio,
        1.5,
      ),
      measured: `${r.expiry.ratio} (rounds: ${r.expiry.ratios.join(", ")})${spreadClause(r.expiry)}`,
    },
    {
      ...atMost("expiry.maxBatchSeconds", r.expiry.maxBatchSeconds, 1, " s"),
      target: "< 1 s",
      met: r.expiry.maxBatchSeconds < 1,
    },
    {
      figure: "expiry.usesIndex (EXPLAIN)",
      measured: String(r.expiry.usesIndex),
      target: "true",
      met: r.expiry.usesIndex,
      margin: "",
    },
    ...comparisonChecks(r, loadRuns),
  ];
}

export function printTable(checks: Check[]): void {
  const rows = [
    ["figure", "measured", "target", "met", "margin"],
    ...checks.map((c) => [c.figure, c.measured, c.target, c.met ? "yes" : "NO", c.margin]),
  ];
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length))) ?? [];
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, col) => cell.padEnd(widths[col] ?? 0)).join("  "));
    if (index === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

const minutes = (seconds: number) => (seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`);

/** The expiry job on the same rows with the expired ones spread (absent from results of runs before it was measured). */
function spreadSentence(e: Results["expiry"]): string {
  const spread = (e as Partial<Results["expiry"]>).spread;
  if (spread === undefined) return "";
  return `The expiry job against its one UPDATE on the same ${spread.rows} rows written again with each minute's expired rows
spread over the whole table instead of lying together (${spread.expired} expired): ${spread.ratio} (rounds:
${spread.ratios.join(", ")}; medians: the job ${spread.jobSeconds} s, one UPDATE ${spread.floorSeconds} s), against
${e.ratio} on the table written in order.`;
}

function spreadClause(e: Results["expiry"]): string {
  const spread = (e as Partial<Results["expiry"]>).spread;
  return spread === undefined ? "" : `; expired rows spread: ${spread.ratio}`;
}

/** The HTTP layer measured again with neither route reaching the database, when the cached variant ran. */
function httpWithoutDatabaseClause(parts: Results["details"]["cpuMsOverFloorParts"] | undefined): string {
  if (parts?.httpWithoutDatabase === undefined) return "";
  return ` (measured again where neither route reaches the database, the cached variant's \`/v1/validate\` over its
check-token route, both answered from the cache: ${parts.httpWithoutDatabase} ms)`;
}

/** BENCHMARKS.md: generated from the results, plus the analysis kept by hand in bench/findings.md. */
export function renderMarkdown(r: Results, findingsFile: string): string {
  const env = r.environment;
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, "utf8").trim() : "";
  const e = r.expiry;
  const d = r.details.expiry;
  const parts = r.details.cpuMsOverFloorParts ?? { statement: "–", checkToken: "–", http: "–" };
  return `# Benchmarks

Measured by \`npm run bench\` (bench/run.ts) on ${env.date.slice(0, 10)}; the raw figures are in
[bench/results.json](bench/results.json). The run took ${minutes(r.durationSeconds)}. This file and the charts in bench/ are
generated, except the findings at the end, which come from bench/findings.md.

## Results against the targets

${markdownTable(
  ["figure", "measured", "target", "met", "margin"],
  r.checks.map((c) => [c.figure, c.measured, c.target, c.met ? "yes" : "**no**", c.margin]),
)}

Also measured: workerd CPU per check ${r.cpuMsPerValidation} ms (cpuMsPerValidation, for reference; the floor route's
${r.details.cpuMsPerFloorRequest} ms; per round, check minus floor: ${r.details.cpuMsOverFloorByRound.join(", ")} ms).
Where cpuMsOverFloor goes (bench routes that do part of the check, in the same rounds; medians of the rounds'
differences): the check statement over the floor (bearer read, SHA-256, \`session_gate_check_json\`'s call and its larger
row) ${parts.statement} ms, the whole check over its statement (\`checkToken\`: its log line, the outcome)
${parts.checkToken} ms, \`/v1/validate\` over the whole check (Hono, middleware, query validation, identity headers, the
JSON body) ${parts.http} ms${httpWithoutDatabaseClause(r.details.cpuMsOverFloorParts)};
workerd RSS ${r.memory.rssBeforeMb} MB before the load runs and ${r.memory.rssAfterMb} MB after them; /v1/validate p50
${r.throughput.validateP50Ms} ms and p99 ${r.throughput.validateP99Ms} ms under load (floor: ${r.throughput.floorP50Ms} /
${r.throughput.floorP99Ms} ms).

${spreadSentence(e)}

${renderComparison(r)}

## Machine and versions

- CPU: ${env.machine.cpu}, ${env.machine.cores} cores available, ${env.machine.memoryGb} GB RAM, ${env.machine.kernel}
- ${Object.entries(env.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ")}
- PostgreSQL settings: ${Object.entries(env.postgres)
    .map(([name, value]) => `${name}=${value}`)
    .join(", ")}
- Everything on one machine: PostgreSQL, the stand-in, autocannon and Miniflare (all three in the bench's Node process),
  and one workerd process per Worker. Only one Worker is under load at a time; the others are idle.

${renderMethod(r)}

## Details

### Load runs

${markdownTable(
  [
    "round",
    "target",
    "req/s",
    "p50 ms",
    "p99 ms",
    "requests",
    "workerd CPU ms/req",
    "postgres CPU ms/req",
    "bench process CPU ms/req",
    "stand-in requests/req",
    "load avg 1 min",
  ],
  r.details.loadRuns.map((run) => [
    run.round + 1,
    run.target,
    run.rps,
    run.p50Ms,
    run.p99Ms,
    run.requests,
    run.workerdCpuMsPerRequest,
    run.postgresCpuMsPerRequest,
    run.benchProcessCpuMsPerRequest,
    run.standInRequestsPerRequest,
    run.loadAverage,
  ]),
)}

### Validation latency by table size

${markdownTable(
  [
    "rows in sessions",
    "p50 ms (read only)",
    "p99 ms (read only)",
    "touch p50 ms",
    "samples",
    "reference p50 ms",
    "ratio (rounds)",
  ],
  r.details.scalePoints.map((p) => [
    p.rows,
    p.p50Ms,
    p.p99Ms,
    p.touchP50Ms,
    p.samples,
    p.referenceP50Ms ?? "–",
    p.ratios === undefined ? "–" : `${p.ratio} (${p.ratios.join(", ")})`,
  ]),
)}

### Expiry

${e.rows} rows, ${e.expired} expired; the job ended ${JSON.stringify(d.endedByReason)}, the floor
${JSON.stringify(d.floorEndedByReason)}. Medians over ${e.ratios.length} round(s): the job ${e.jobSeconds} s, the same
statements without the wrapper ${e.jobNoWrapperSeconds} s, with no batch limit ${e.oneBatchSeconds} s, one UPDATE
${e.floorSeconds} s. Where the job's time over the floor goes (medians of the rounds' differences): the transaction
wrapper ${e.breakdown.wrapper} s, batching ${e.breakdown.batching} s, the statements' shape ${e.breakdown.statementShape} s;
${percent(e.breakdown.inRequests)} of the job's time is spent inside its requests.

![The expiry job's batches over time](bench/chart-expiry-batches.svg)

${markdownTable(
  ["round", "variant", "seconds", "statements", "slowest statement s"],
  d.runs.map((run) => [
    run.round + 1,
    run.variant,
    run.seconds,
    run.batches.length,
    Math.max(0, ...run.batches.map((b) => b.seconds)),
  ]),
)}

The job run shown (the median round): ${d.batches.length} statements, seconds each, in order:
${d.batches.map((b) => `${b.pass} ${b.seconds}`).join(", ")}.

The batch statement's plan on the full table, before the runs:

\`\`\`
${d.plan}
\`\`\`
${findings ? `\n${findings}\n` : ""}`;
}

/**
 * Writes results.json to `jsonFile`, BENCHMARKS.md to `markdownFile` and the charts into the
 * `bench/` directory beside it (where BENCHMARKS.md's links point).
 */
export function writeResults(r: Results, jsonFile: string, markdownFile: string, findingsFile: string): string[] {
  writeFileSync(jsonFile, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(markdownFile, renderMarkdown(r, findingsFile));
  const chartDir = path.join(path.dirname(markdownFile), "bench");
  mkdirSync(chartDir, { recursive: true });
  const written = [jsonFile, markdownFile];
  for (const [name, svg] of Object.entries(chartFiles(r))) {
    writeFileSync(path.join(chartDir, name), svg);
    written.push(path.join(chartDir, name));
  }
  return written;
}
