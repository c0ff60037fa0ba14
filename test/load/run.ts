/**
 * `npm run test:load`: the production build of the Worker (wrangler.toml, bundled by `wrangler
 * deploy --dry-run` and served by Miniflare's workerd, as the benchmark does), through the genuine
 * Neon driver to the local stand-in, driven at a fixed request rate (open loop: requests leave on
 * schedule whether or not earlier ones have answered) with 75% valid tokens, 20% well-formed
 * unknown ones and 5% garbage. Halfway through, the expiry job ends LOAD_EXPIRED_ROWS (100,000)
 * expired sessions seeded beside the live ones: run from Node through the same stand-in, as
 * `npm run expire` runs it, with the Worker's own limits, run after run (as the cron would) until
 * none is left. Every answer is checked against the one it must be; workerd's resident memory is
 * sampled every second. Exits non-zero on any error, any wrong answer, a p99 over LOAD_MAX_P99_MS
 * (50), a p99 of valid checks during the expiry runs over twice the minute's before them, or a
 * secret in the Worker's log.
 *
 * Not `wrangler dev`: its second workerd (a proxy Worker) and inspector sit in front of ours, and
 * under this load their RSS grew for as long as we ran (190 → 480 MB over 150 s), so the memory
 * figure measured wrangler dev rather than the Worker.
 *
 * - LOAD_RPS (50), LOAD_SECONDS (60), LOAD_MAX_P99_MS (50), LOAD_EXPIRED_ROWS (100000)
 * - LOAD_WARMUP_SECONDS (a third of LOAD_SECONDS); RSS growth is reported from the end of the
 *   warm-up to the end (each end the median of 5 one-second samples) and fails the run only when
 *   LOAD_MAX_GROWTH_MB is set: workerd's RSS grows under load whatever the Worker runs (a Worker
 *   that only answers "ok" grows as fast: `npm run test:memory` measures both, and our isolate's
 *   heap, which stays flat).
 * - LOAD_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres): a scratch database is made
 *   there and dropped after; LOAD_EMBEDDED=1 uses an in-memory PGlite instead.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { rssMb, startWorker, type WorkerProcess } from "../../bench/worker-process";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";
import { parseConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { runExpiryJob } from "../../src/jobs/expiry-job";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const wranglerConfig = "wrangler.toml";

// 50 req/s: what workerd, the stand-in and PostgreSQL sustain together on a 2-core machine with
// latency to spare; raise it on a bigger one.
const rps = readNumber("LOAD_RPS", 50);
const seconds = readNumber("LOAD_SECONDS", 60);
const warmupSeconds = readNumber("LOAD_WARMUP_SECONDS", seconds / 3);
const maxGrowthMb = process.env.LOAD_MAX_GROWTH_MB ? readNumber("LOAD_MAX_GROWTH_MB", 0) : Number.POSITIVE_INFINITY;
const maxP99Ms = readNumber("LOAD_MAX_P99_MS", 50);
const expiredRows = readNumber("LOAD_EXPIRED_ROWS", 100_000);
const embedded = process.env.LOAD_EMBEDDED === "1";
const serverUrl = process.env.LOAD_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const adminKey = randomBytes(32).toString("base64url");
const POOL = 200;

type Kind = "valid" | "unknown" | "expired" | "revoked" | "malformed";
// Out of every 20 requests: 15 valid, 4 unknown, 1 malformed.
const MIX: Kind[] = [...Array<Kind>(15).fill("valid"), ...Array<Kind>(4).fill("unknown"), "malformed"];
const MALFORMED = [
  "Bearer",
  "Bearer short",
  "Basic dXNlcjpwYXNz",
  `Bearer ${"A".repeat(600)}`,
  "Bearer a b c d e f g h i j k l",
];

let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
let standIn: StandIn | undefined;
let worker: WorkerProcess | undefined;
let logDir: string | undefined;
let stopping = false;

process.on("SIGINT", () => void cleanUp().then(() => process.exit(130)));
process.on("SIGTERM", () => void cleanUp().then(() => process.exit(143)));

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`load: failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}

async function main(): Promise<number> {
  scratch = embedded ? undefined : await createScratchDatabase(serverUrl, "sessiongate_load");
  standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0, log: (line) => console.error(line) });
  await standIn.backend.migrate(`${projectRoot}drizzle`);
  const tokens = await seed(standIn);
  await standIn.backend.query(
    `insert into sessions (user_id, session_token_hash, absolute_expires_at, is_active)
     select (select min(id) from users), encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'),
            now() - interval '1 minute', true
     from generate_series(1, $1::int)`,
    [String(expiredRows)],
  );
  console.log(
    `load: ${standIn.backend.description}; ${POOL} sessions of each kind seeded, and ${expiredRows} expired for the job`,
  );

  logDir = mkdtempSync(path.join(os.tmpdir(), "session-gate-load-"));
  const logFile = path.join(logDir, "worker.log");
  // The bundle carries no [vars]: wrangler.toml's go in as bindings, as a deploy would set them.
  const { vars } = unstable_readConfig({ config: path.join(projectRoot, wranglerConfig) });
  const workerVars = Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, String(value)]));
  worker = await startWorker({
    config: wranglerConfig,
    logFile,
    vars: {
      ...workerVars,
      DATABASE_URL: standIn.databaseUrl(),
      NEON_LOCAL_HTTP: "true",
      ADMIN_API_KEY: adminKey,
    },
  });
  const base = worker.url;
  const workerd = worker.workerdPids();
  console.log(
    `load: ${wranglerConfig} build in workerd on ${base} (pid ${workerd.join(", ")}); ${rps} req/s for ${seconds} s`,
  );

  const memory: { atSeconds: number; rssMb: number }[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    memory.push({ atSeconds: (performance.now() - started) / 1000, rssMb: rssMb(workerd) });
  }, 1000);

  const total = Math.round(rps * seconds);
  const results = {
    sent: 0,
    ok: 0,
    wrong: [] as string[],
    errors: [] as string[],
    latencies: [] as number[],
    valid: [] as { at: number; ms: number }[],
  };
  // Halfway: the expiry job, run after run as the cron would, until no expired row is left.
  const jobConfig = parseConfig({ ...workerVars, DATABASE_URL: standIn.databaseUrl(), NEON_LOCAL_HTTP: "true" });
  const expiry = { startedAt: 0, endedAt: 0, runs: 0, ended: 0, batches: 0, failed: [] as string[] };
  const expiryDone = new Promise<void>((resolve) => {
    setTimeout(
      async () => {
        expiry.startedAt = performance.now();
        for (;;) {
          const run = await runExpiryJob(createDb(jobConfig), jobConfig).catch((error: Error) => {
            expiry.failed.push(error.message);
            return undefined;
          });
          if (run === undefined) break;
          expiry.runs++;
          expiry.batches += run.batches;
          const ended = run.ended.absolute_timeout + run.ended.idle_timeout;
          expiry.ended += ended;
          if (!run.cutShort && ended === 0) break;
        }
        expiry.endedAt = performance.now();
        resolve();
      },
      (seconds * 1000) / 2,
    );
  });
  const byKind = new Map<Kind, number>();
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  // Open loop: every few ms, send every request whose scheduled time has come.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rps) + 1);
      while (next < due) {
        const i = next++;
        const kind = MIX[i % MIX.length] as Kind;
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        const p = send(base, kind, i, tokens, results).finally(() => inFlight.delete(p));
        inFlight.add(p);
        results.sent++;
      }
      if (next < total) setTimeout(tick, 2);
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  await expiryDone;
  const elapsedSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  // Stopped before its log is read, so every line it wrote has reached the file.
  await worker.stop();
  await new Promise((resolve) => setTimeout(resolve, 250));
  const workerLog = readFileSync(logFile, "utf8");
  const checkLines = workerLog.split("\n").filter((line) => line.includes('"event":"session_check"')).length;

  const lat = results.latencies.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? Number.NaN;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const afterWarmup = memory.filter((m) => m.atSeconds >= warmupSeconds);
  const baselineMb = median(afterWarmup.slice(0, 5).map((m) => m.rssMb));
  const finalMb = median(afterWarmup.slice(-5).map((m) => m.rssMb));
  const peakMb = Math.max(...memory.map((m) => m.rssMb));
  const growthMb = finalMb - baselineMb;
  const leaked = findSecrets(workerLog, [...tokens.valid, ...tokens.expired, ...tokens.revoked, adminKey]);

  const p99Of = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? Number.NaN;
  };
  const validBefore = results.valid.filter((v) => v.at >= expiry.startedAt - 60_000 && v.at < expiry.startedAt);
  const validDuring = results.valid.filter((v) => v.at >= expiry.startedAt && v.at < expiry.endedAt);
  const expiryP99 = { before: p99Of(validBefore.map((v) => v.ms)), during: p99Of(validDuring.map((v) => v.ms)) };
  const rowsLeft = await standIn.backend.query(
    "select count(*) from sessions where is_active and absolute_expires_at <= now()",
    [],
  );
  const summary = {
    backend: standIn.backend.description,
    targetRps: rps,
    achievedRps: Math.round((results.sent / elapsedSeconds) * 10) / 10,
    seconds: Math.round(elapsedSeconds * 10) / 10,
    requests: results.sent,
    mix: Object.fromEntries(byKind),
    correct: results.ok,
    wrongAnswers: results.wrong.length,
    errors: results.errors.length,
    latencyMs: { p50: round(pct(50)), p95: round(pct(95)), p99: round(pct(99)), max: round(lat.at(-1) ?? Number.NaN) },
    workerdRssMb: {
      warmupSeconds: round(warmupSeconds),
      afterWarmup: round(baselineMb),
      final: round(finalMb),
      peak: round(peakMb),
      growth: round(growthMb),
    },
    workerdRssMbEvery5s: memory.filter((_, k) => k % 5 === 4).map((m) => round(m.rssMb)),
    expiry: {
      startedAtSecond: round((expiry.startedAt - started) / 1000),
      seconds: round((expiry.endedAt - expiry.startedAt) / 1000),
      runs: expiry.runs,
      batches: expiry.batches,
      ended: expiry.ended,
      expiredRowsLeft: Number(rowsLeft.rows[0]?.[0]),
      validP99MsMinuteBefore: round(expiryP99.before),
      validP99MsDuring: round(expiryP99.during),
      validChecksDuring: validDuring.length,
      failed: expiry.failed,
    },
    sessionCheckLinesInWorkerLog: checkLines,
    secretsInWorkerLog: leaked,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const line of [...results.wrong, ...results.errors].slice(0, 10)) console.error(`load: ${line}`);

  const failures = [
    results.wrong.length > 0 && `${results.wrong.length} wrong answers`,
    results.errors.length > 0 && `${results.errors.length} errors`,
    growthMb > maxGrowthMb &&
      `workerd memory grew ${round(growthMb)} MB after the ${round(warmupSeconds)} s warm-up (limit ${maxGrowthMb})`,
    leaked > 0 && `${leaked} secrets in the Worker's log`,
    // Without the Worker's log lines the secrets check would have looked at nothing.
    checkLines === 0 && "no session_check lines in the Worker's log",
    results.sent !== total && `sent ${results.sent} of ${total}`,
    !(pct(99) <= maxP99Ms) && `p99 ${round(pct(99))} ms over ${maxP99Ms} ms`,
    expiry.failed.length > 0 && `the expiry job failed: ${expiry.failed.join("; ")}`,
    Number(rowsLeft.rows[0]?.[0]) !== 0 && "expired rows left after the expiry runs",
    !(expiryP99.during <= 2 * expiryP99.before) &&
      `valid checks' p99 during the expiry runs ${round(expiryP99.during)} ms, over twice the minute before's ${round(expiryP99.before)} ms`,
  ].filter(Boolean);
  if (failures.length > 0) {
    console.error(`load: FAIL: ${failures.join("; ")}`);
    console.error(`load: the Worker's log is kept: ${logFile}`);
    return 1;
  }
  console.log("load: PASS");
  return 0;
}

interface Tokens {
  valid: string[];
  validIds: string[];
  expired: string[];
  revoked: string[];
}

/** Seeds POOL sessions of each kind with plain SQL, as the existing application writes them. */
async function seed(s: StandIn): Promise<Tokens> {
  const make = () => Array.from({ length: POOL }, () => randomBytes(32).toString("base64url"));
  const tokens = { valid: make(), expired: make(), revoked: make() };
  const hash = (t: string) => createHash("sha256").update(t, "utf8").digest("hex");
  const user = await s.backend.query("insert into users default values returning id", []);
  const userId = String(user.rows[0]?.[0]);
  const insert = async (list: string[], extra: string) =>
    s.backend.query(
      `insert into sessions (user_id, session_token_hash, absolute_expires_at, is_active, revoked_at, revoke_reason, ended_at)
       select $1::int, h, ${extra} from unnest($2::text[]) as h returning id`,
      [userId, `{${list.map(hash).join(",")}}`],
    );
  const valid = await insert(tokens.valid, "now() + interval '8 hours', true, null, null, null");
  await insert(tokens.expired, "now() - interval '1 minute', true, null, null, null");
  await insert(tokens.revoked, "now() + interval '8 hours', false, now(), 'logout', now()");
  return { ...tokens, validIds: valid.rows.map((r) => String(r[0])) };
}

async function send(
  base: string,
  kind: Kind,
  i: number,
  tokens: Tokens,
  results: { ok: number; wrong: string[]; errors: string[]; latencies: number[]; valid: { at: number; ms: number }[] },
): Promise<void> {
  const pick = (list: string[]) => list[i % list.length] as string;
  const authorization = {
    valid: () => `Bearer ${pick(tokens.valid)}`,
    unknown: () => `Bearer ${randomBytes(32).toString("base64url")}`,
    expired: () => `Bearer ${pick(tokens.expired)}`,
    revoked: () => `Bearer ${pick(tokens.revoked)}`,
    malformed: () => pick(MALFORMED),
  }[kind]();
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/v1/validate`, { headers: { authorization } });
    const body = await res.text();
    results.latencies.push(performance.now() - t0);
    if (kind === "valid") results.valid.push({ at: t0, ms: performance.now() - t0 });
    const challenge = res.headers.get("www-authenticate") ?? "";
    let right: boolean;
    if (kind === "valid") {
      right = res.status === 200 && res.headers.get("x-session-id") === tokens.validIds[i % tokens.valid.length];
    } else if (kind === "malformed") {
      right = res.status === 401 && challenge.includes('error="invalid_request"');
    } else {
      right = res.status === 401 && challenge.includes('error="invalid_token"');
    }
    if (right) results.ok++;
    else results.wrong.push(`#${i} ${kind}: ${res.status} ${challenge} ${body.slice(0, 120)}`);
  } catch (error) {
    results.latencies.push(performance.now() - t0);
    results.errors.push(`#${i} ${kind}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function cleanUp(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await worker?.stop().catch((error) => console.error(`load: stopping the Worker: ${String(error)}`));
  await standIn?.close().catch((error) => console.error(`load: stand-in: ${String(error)}`));
  await scratch?.drop().catch((error) => console.error(`load: dropping ${scratch?.name}: ${String(error)}`));
  // Kept after a failure, to be read.
  if (logDir !== undefined && process.exitCode === 0) rmSync(logDir, { recursive: true, force: true });
}

function findSecrets(output: string, secrets: string[]): number {
  return secrets.filter((s) => output.includes(s)).length;
}

function readNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
