/** The results: the terminal table, bench/results.json and BENCHMARKS.md. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { RunEnvironment } from "./environment";
import type { Expiry } from "./expiry";
import type { HotSessionWrites, RoundTrips } from "./round-trips";
import type { ScalePoint } from "./scale";
import type { BenchSettings } from "./settings";
import type { MeasuredRun, Throughput } from "./throughput";

export interface Results {
  roundTrips: RoundTrips;
  hotSessionWrites: number;
  throughput: Throughput;
  cpuMsPerValidation: number;
  scale: { p50Ms10k: number; p50Ms100k: number; p50Ms1M: number; ratio1MTo10k: number };
  expiry: Omit<Expiry, "batches" | "plan" | "floorExpired" | "endedByReason" | "floorEndedByReason">;
  memory: { rssBeforeMb: number; rssAfterMb: number };
  checks: Check[];
  details: {
    hotSession: HotSessionWrites;
    cpuMsPerFloorRequest: number;
    loadRuns: MeasuredRun[];
    scalePoints: ScalePoint[];
    expiry: Pick<Expiry, "batches" | "plan" | "floorExpired" | "endedByReason" | "floorEndedByReason">;
  };
  settings: BenchSettings;
  environment: RunEnvironment;
  durationSeconds: number;
}

export interface Check {
  figure: string;
  measured: string;
  target: string;
  met: boolean;
  /** How far inside (or outside) the target the figure is. */
  margin: string;
}

const percent = (value: number) => `${Math.round(value * 100)} %`;

function atMost(figure: string, value: number, target: number, unit = ""): Check {
  return {
    figure,
    measured: `${value}${unit}`,
    target: `≤ ${target}${unit}`,
    met: value <= target,
    margin: target === 0 ? (value === 0 ? "exact" : `${value} over`) : `${percent(value / target)} of the limit`,
  };
}

/** Every figure against its target (issue 6). */
export function checkTargets(
  r: Omit<Results, "checks" | "settings" | "environment" | "durationSeconds" | "details">,
): Check[] {
  const trips = r.roundTrips;
  const wanted: RoundTrips = { valid: 1, touched: 1, expired: 1, unknown: 1, malformed: 0 };
  const tripsMet = (Object.keys(wanted) as (keyof RoundTrips)[]).every((k) => trips[k] === wanted[k]);
  return [
    {
      figure: "roundTrips (valid, touched, expired, unknown, malformed)",
      measured: Object.values(trips).join(", "),
      target: "1, 1, 1, 1, 0",
      met: tripsMet,
      margin: tripsMet ? "exact" : "differs",
    },
    atMost("hotSessionWrites (1,000 validations, one interval)", r.hotSessionWrites, 1),
    {
      figure: "throughput.ratio (validate / floor req/s)",
      measured: `${r.throughput.ratio} (${r.throughput.validateRps} / ${r.throughput.floorRps})`,
      target: "≥ 0.85",
      met: r.throughput.ratio >= 0.85,
      margin: `${percent(r.throughput.ratio / 0.85)} of the minimum`,
    },
    {
      ...atMost("cpuMsPerValidation (workerd)", r.cpuMsPerValidation, 1, " ms"),
      target: "< 1 ms",
      met: r.cpuMsPerValidation < 1,
    },
    atMost("scale.ratio1MTo10k (p50)", r.scale.ratio1MTo10k, 1.2),
    atMost("expiry.ratio (job / one UPDATE)", r.expiry.ratio, 1.5),
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

function markdownTable(header: string[], rows: (string | number)[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

/** BENCHMARKS.md: generated from the results, plus the analysis kept by hand in bench/findings.md. */
export function renderMarkdown(r: Results, findingsFile: string): string {
  const env = r.environment;
  const s = r.settings;
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, "utf8").trim() : "";
  const batches = r.details.expiry.batches;
  const endBatches = batches.filter((b) => b.pass === "end");
  return `# Benchmarks

Measured by \`npm run bench\` (bench/run.ts) on ${env.date.slice(0, 10)}; the raw figures are in
[bench/results.json](bench/results.json). The run took ${Math.round(r.durationSeconds)} s. This file is generated,
except the findings at the end, which come from bench/findings.md.

## Results against the targets (issue 6)

${markdownTable(
  ["figure", "measured", "target", "met", "margin"],
  r.checks.map((c) => [c.figure, c.measured, c.target, c.met ? "yes" : "**no**", c.margin]),
)}

Also measured: workerd RSS ${r.memory.rssBeforeMb} MB before the load runs and ${r.memory.rssAfterMb} MB after them;
workerd CPU per floor request ${r.details.cpuMsPerFloorRequest} ms; /v1/validate p50 ${r.throughput.validateP50Ms} ms and
p99 ${r.throughput.validateP99Ms} ms under load (floor: ${r.throughput.floorP50Ms} / ${r.throughput.floorP99Ms} ms).

## Machine and versions

- CPU: ${env.machine.cpu}, ${env.machine.cores} cores available, ${env.machine.memoryGb} GB RAM, ${env.machine.kernel}
- ${Object.entries(env.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ")}
- PostgreSQL settings: ${Object.entries(env.postgres)
    .map(([name, value]) => `${name}=${value}`)
    .join(", ")}
- Everything on one machine: PostgreSQL, the stand-in, autocannon and Miniflare (all three in the bench's Node process), and workerd.

## Method

- A database of its own on \`BENCH_DATABASE_URL\` (default the local server), migrated with drizzle/, dropped at the end.
  The stand-in for Neon's SQL-over-HTTP endpoint runs in the bench's process in front of it and counts requests.
- The Worker is the real one in workerd: bench/wrangler.bench.toml (src/app.ts plus one bench-only route,
  \`GET /__bench/floor\`, which runs \`select id from sessions where session_token_hash = $1\` through the same
  createDb/queryRows, config and stand-in) bundled by \`wrangler deploy --dry-run\` and served by Miniflare. Variables: TOUCH_INTERVAL_SECONDS=${s.touchIntervalSeconds},
  IDLE_TIMEOUT_MINUTES=${s.idleTimeoutMinutes}, the rest defaults.
- **roundTrips**: the stand-in's request count before and after one validation, nothing else running: a session
  active just now (valid), one last active ${s.touchIntervalSeconds * 2} s ago (touched; the bench checks the touch was
  written), one idle past the timeout (expired; checked ended), a well-formed token with no row (unknown), and
  \`Bearer not*a*token\` (malformed).
- **hotSessionWrites**: ${r.details.hotSession.validations} sequential validations of a session inserted as active just now; the
  row's xmin is read after every validation, so each new row version is counted exactly (cross-check:
  \`pg_stat_user_tables.n_tup_upd\` after an 11 s wait for the statistics flush: ${r.details.hotSession.nTupUpd}).
  Also with a session whose touch is due at the first validation: ${r.details.hotSession.writesTouchDue} write(s)
  (1 is right).
- **throughput**: autocannon, ${s.loadConnections} connections, ${s.loadSeconds} s per run after ${s.warmupSeconds} s
  warm-ups, /v1/validate (one valid token) and the floor alternated ${s.loadRounds} times; the median run of each is
  reported, all runs are below. Latencies are per response (autocannon's \`response\` event).
- **cpuMsPerValidation**: utime+stime of the workerd process(es) (the process(es) Miniflare started, found in /proc),
  summed over the validate runs, divided by the requests they served.
- **scale**: the table grown to ${s.scaleRows.join(", ")} bulk rows (one INSERT … SELECT generate_series each, then
  VACUUM ANALYZE); ${s.scaleSamples} live sessions drawn at random from the whole table, each validated twice in a row
  from Node, sequentially. The second validation of each (touch just done: read only, the common case) gives the
  figure; the first one (due a touch, so it writes and commits) is reported as touch p50.
- **expiry**: on the largest table (every ${s.expiredEvery}th bulk row expired: idle only, absolute only, or both),
  after VACUUM ANALYZE, \`CREATE DATABASE … TEMPLATE\` makes an identical copy. The job (src/jobs/expiry-job.ts,
  \`runExpiryJob\`, EXPIRY_BATCH_SIZE=${s.expiryBatchSize}, a budget long enough to finish) runs in Node through the
  genuine driver and a stand-in on the original; every driver request (one batch each) is timed. The floor is one
  \`UPDATE\` doing the end pass without batches on the copy, through the same driver and a stand-in. A CHECKPOINT
  precedes each. Both must end exactly the expired rows. \`usesIndex\`: EXPLAIN (FORMAT JSON) of the job's batch
  statement (\`endExpiredSessionsQuery\`) has an index scan.

## Details

### Load runs

${markdownTable(
  [
    "route",
    "req/s",
    "p50 ms",
    "p99 ms",
    "requests",
    "workerd CPU ms/req",
    "postgres CPU ms/req",
    "bench process CPU ms/req",
    "load avg 1 min",
  ],
  r.details.loadRuns.map((run) => [
    run.path,
    run.rps,
    run.p50Ms,
    run.p99Ms,
    run.requests,
    run.workerdCpuMsPerRequest,
    run.postgresCpuMsPerRequest,
    run.benchProcessCpuMsPerRequest,
    run.loadAverage,
  ]),
)}

### Validation latency by table size

${markdownTable(
  ["rows in sessions", "p50 ms (read only)", "p99 ms (read only)", "touch p50 ms", "samples"],
  r.details.scalePoints.map((p) => [p.rows, p.p50Ms, p.p99Ms, p.touchP50Ms, p.samples]),
)}

### Expiry

${r.expiry.rows} rows, ${r.expiry.expired} expired; the job ended ${JSON.stringify(r.details.expiry.endedByReason)}, the floor
${JSON.stringify(r.details.expiry.floorEndedByReason)}. The job took ${r.expiry.jobSeconds} s in ${batches.length} statements
(${endBatches.length} end batches; seconds each, in order: ${batches.map((b) => `${b.pass} ${b.seconds}`).join(", ")}); the
floor took ${r.expiry.floorSeconds} s.

The batch statement's plan on the full table, before the run:

\`\`\`
${r.details.expiry.plan}
\`\`\`
${findings ? `\n${findings}\n` : ""}`;
}

export function writeResults(r: Results, jsonFile: string, markdownFile: string, findingsFile: string): void {
  writeFileSync(jsonFile, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(markdownFile, renderMarkdown(r, findingsFile));
}
