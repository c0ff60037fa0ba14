/** The results: the terminal table, bench/results.json, BENCHMARKS.md and the charts beside it. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { DelayPoint } from "./delay";
import { chartFiles } from "./report-charts";
import { renderComparison } from "./report-comparison";
import { markdownTable, percent } from "./report-format";
import type { Check, Results } from "./results";
import type { RoundTrips } from "./round-trips";
import type { SystemName } from "./systems";

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

/** session-gate against the peers: throughput, round trips, delay, concurrent touches. */
function comparisonChecks(r: Pick<Results, "comparison">): Check[] {
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
    checks.push({
      figure: "throughput: session-gate against the fastest peer (req/s)",
      measured: `${gateRps} against ${peerRps} (${label(fastest)})`,
      target: "≥ the fastest peer",
      met: gateRps >= peerRps,
      margin: `${percent(gateRps / peerRps)} of it`,
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

  // What the set-up itself adds under a delay, beyond the delay: the floor route's excess over its own d + p50 at 0.
  const excess = (points: DelayPoint[] | undefined, delayMs: number) => {
    const atZero = points?.find((p) => p.delayMs === 0);
    const point = points?.find((p) => p.delayMs === delayMs);
    return atZero && point ? round2(point.p50Ms - point.appliedMs - atZero.p50Ms) : undefined;
  };
  const points = c.delay["session-gate"] ?? [];
  const atZero = points.find((p) => p.delayMs === 0);
  for (const point of points.filter((p) => p.delayMs > 0)) {
    if (atZero === undefined) break;
    const limit = point.appliedMs + atZero.p50Ms;
    const spare = round2(limit - point.p50Ms);
    const floorExcess = excess(c.delay.floor, point.delayMs);
    checks.push({
      figure: `p50 under a ${point.delayMs} ms delay (held ${point.appliedMs} ms)`,
      measured: `${point.p50Ms} ms (${round2(point.p50Ms / point.delayMs)} × the delay; ${round2((point.p50Ms - atZero.p50Ms) / point.appliedMs)} × it over p50 at 0)`,
      target: `≤ delay + p50 at 0 = ${round2(limit)} ms`,
      met: point.p50Ms <= limit,
      margin: `${spare >= 0 ? `${spare} ms to spare` : `${-spare} ms over`}${floorExcess === undefined ? "" : ` (the floor route: ${floorExcess >= 0 ? `${floorExcess} ms over` : `${-floorExcess} ms to spare`})`}`,
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
    atMost("scale.ratio1MTo10k (p50)", r.scale.ratio1MTo10k, 1.2),
    {
      ...atMost(`expiry.ratio (job / one UPDATE, median of ${r.expiry.ratios.length} rounds)`, r.expiry.ratio, 1.5),
      measured: `${r.expiry.ratio} (rounds: ${r.expiry.ratios.join(", ")})`,
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
    ...comparisonChecks(r),
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

/** BENCHMARKS.md: generated from the results, plus the analysis kept by hand in bench/findings.md. */
export function renderMarkdown(r: Results, findingsFile: string): string {
  const env = r.environment;
  const s = r.settings;
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
differences): the check statement over the floor (bearer read, SHA-256, \`session_gate_check\`'s call and its larger
row) ${parts.statement} ms, the whole check over its statement (\`checkToken\`: its log line, the outcome)
${parts.checkToken} ms, \`/v1/validate\` over the whole check (Hono, middleware, query validation, identity headers, the
JSON body) ${parts.http} ms;
workerd RSS ${r.memory.rssBeforeMb} MB before the load runs and ${r.memory.rssAfterMb} MB after them; /v1/validate p50
${r.throughput.validateP50Ms} ms and p99 ${r.throughput.validateP99Ms} ms under load (floor: ${r.throughput.floorP50Ms} /
${r.throughput.floorP99Ms} ms).

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

## Method

- A database of its own on \`BENCH_DATABASE_URL\` (default the local server), migrated with drizzle/, the peers' tables
  created in their own schemas (bench/peers/*/schema.sql), dropped at the end. The stand-in for Neon's SQL-over-HTTP
  endpoint runs in the bench's process in front of it and counts requests per \`application_name\`, which each Worker
  sets in its DATABASE_URL.
- Every system is a Worker bundled by \`wrangler deploy --dry-run\` and served by Miniflare in its own workerd
  process: session-gate's bench build (bench/wrangler.bench.toml: src/app.ts, its log line per check, plus one
  bench-only route, \`GET /__bench/floor\`, which runs \`select id from sessions where session_token_hash = $1\`
  through the same createDb/queryRows, config and stand-in), the same build with VALID_CACHE_SECONDS=${s.cacheSeconds},
  and the peers in bench/peers/ (configurations below). Variables are Miniflare bindings: TOUCH_INTERVAL_SECONDS=${s.touchIntervalSeconds},
  IDLE_TIMEOUT_MINUTES=${s.idleTimeoutMinutes}, VALIDATION_TIMEOUT_MS=${s.requestTimeoutMs} (the peers' request deadline too).
- Sessions: session-gate's are inserted with SQL as the existing application writes them; the peers' through their
  own APIs (\`POST /issue\`: Lucia's createSession, Better Auth's internal adapter). To make one due a touch or
  refresh, or expired, the bench moves its timestamps with SQL; a revoke is what each system's own revoke writes
  (session-gate: is_active false with revoked_at and ended_at; the peers: DELETE). Before the load runs each peer's
  table is filled with SQL to as many rows as session-gate's, so every lookup reads an index of the same size.
- **Load** (throughput, latency, CPU): autocannon, ${s.loadConnections} connections, ${s.loadSeconds} s per run after a
  ${s.warmupSeconds} s warm-up of each target; ${s.loadRounds} rounds, each running every target once (the systems'
  checks of one valid session, and the floor route) in an order rotated by one per round; medians over the rounds.
  Latencies are per response (autocannon's \`response\` event). CPU is utime+stime from /proc: the target's workerd
  process(es), every PostgreSQL process (alive at both ends of the run), and the bench's own process. The requests
  reaching the stand-in from the target's Worker are counted too. throughput.ratio and cpuMsOverFloor pair each check
  run with the floor run of the same round and take the median of the rounds.
- **Round trips**: the stand-in's count for the system before and after one check (and 100 ms after, for anything sent
  after the answer): a session active just now (valid), one due a touch or refresh (the bench checks it was written),
  one idle past its limit (checked ended or deleted), a well-formed token with no row (unknown), \`Bearer not*a*token\`.
- **Hot session writes**: ${s.hotValidations} sequential checks of a session made just before, the row's xmin read after
  each, so every new row version is counted exactly (session-gate's count is cross-checked with
  \`pg_stat_user_tables.n_tup_upd\` after an 11 s wait for the statistics flush: ${r.details.hotSession.nTupUpd}); the
  same for a session due a touch or refresh at the first check (1 is right).
- **Bursts**: ${s.bursts} times, the session is made due a touch or refresh, then ${s.burstSize} checks are sent at once;
  an AFTER UPDATE trigger (installed for this phase only) logs each row version written.
- **Revocation**: ${s.revocationTrials} trials per system: a new session checked once (200), its end committed with SQL,
  then checked every 100 ms until the first 401; the time from the commit to that answer. With VALID_CACHE_SECONDS the
  trials' revokes are spread evenly over the ${s.cacheSeconds} s after the check, so the lags cover the cache's range.
- **Network delay**: the stand-in restarted (same port) with \`delayMs\` ${s.delaysMs.join(", ")}: each /sql request is
  held that long before it runs. Per system and delay: ${s.delaySeconds} s of checks of one valid session on one connection,
  one after another, and ${s.delayDueSamples} checks of sessions due a touch or refresh. The applied delay is the median of
  20 timed holds of the same timer in the bench's process.
- **Database down**: the stand-in restarted in front of a port nothing listens on (PostgreSQL refuses: the stand-in
  answers 500, as Neon does for an unreachable compute), stopped (connection refused), and restarted holding every
  request for a minute (no answer). Each system checks its session once while the database is up, then, per failure,
  once uncounted and ${s.downRequests} time(s) counted; the bench gives up after 15 s.
- **Scale**: the table grown to ${s.scaleRows.join(", ")} bulk rows (one INSERT … SELECT generate_series each, then
  VACUUM ANALYZE); ${s.scaleSamples} live sessions drawn at random from the whole table, each validated twice in a row
  from Node, sequentially. The second validation of each (touch just done: read only, the common case) gives the
  figure; the first one (due a touch, so it writes and commits) is reported as touch p50.
- **Expiry**: on the largest table (every ${s.expiredEvery}th bulk row expired: idle only, absolute only, or both), after
  VACUUM ANALYZE, ${s.expiryRounds} rounds of four variants, each on a fresh \`CREATE DATABASE … TEMPLATE … STRATEGY
  FILE_COPY\` copy, through the genuine driver and a stand-in of its own, after a CHECKPOINT, in an order rotated per
  round: the job (\`runExpiryJob\`, EXPIRY_BATCH_SIZE=${s.expiryBatchSize}, a budget long enough to finish: each batch a
  one-request transaction with \`set_config('statement_timeout', …)\`), the same statements sent alone (no wrapper),
  the same statements with no batch limit (one per pass), and one \`UPDATE\` doing the end pass (the floor). Each
  must end exactly the expired rows. Every driver request is timed. \`usesIndex\`: EXPLAIN (FORMAT JSON) of the
  job's batch statement (\`endExpiredSessionsQuery\`) has an index scan.

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
  ["rows in sessions", "p50 ms (read only)", "p99 ms (read only)", "touch p50 ms", "samples"],
  r.details.scalePoints.map((p) => [p.rows, p.p50Ms, p.p99Ms, p.touchP50Ms, p.samples]),
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
