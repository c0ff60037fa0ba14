/**
 * `npm run test:load`: the production build of the Worker (wrangler.toml, bundled by `wrangler
 * deploy --dry-run` and served by Miniflare's workerd, as the benchmark does), through the genuine
 * Neon driver to the local stand-in, driven at a fixed request rate (open loop: requests leave on
 * schedule whether or not earlier ones have answered) with a mix of valid, unknown, expired and
 * malformed tokens. Every answer is checked against the one it must be; workerd's resident memory
 * is sampled every second. Exits non-zero on any error, any wrong answer, memory growth past the
 * limit after the warm-up, or a secret in the Worker's log.
 *
 * Not `wrangler dev`: its second workerd (a proxy Worker) and inspector sit in front of ours, and
 * under this load their RSS grew for as long as we ran (190 → 480 MB over 150 s), so the memory
 * figure measured wrangler dev rather than the Worker.
 *
 * - LOAD_RPS (50), LOAD_SECONDS (60), LOAD_MAX_GROWTH_MB (50)
 * - LOAD_WARMUP_SECONDS (a third of LOAD_SECONDS): V8 sizes workerd's heap up while the load starts,
 *   so RSS climbs and then levels off; "flat" means RSS grows less than LOAD_MAX_GROWTH_MB from the
 *   end of the warm-up to the end of the run (each end the median of 5 one-second samples).
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

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const wranglerConfig = "wrangler.toml";

// 50 req/s: what workerd, the stand-in and PostgreSQL sustain together on a 2-core machine with
// latency to spare; raise it on a bigger one.
const rps = readNumber("LOAD_RPS", 50);
const seconds = readNumber("LOAD_SECONDS", 60);
const warmupSeconds = readNumber("LOAD_WARMUP_SECONDS", seconds / 3);
const maxGrowthMb = readNumber("LOAD_MAX_GROWTH_MB", 50);
const embedded = process.env.LOAD_EMBEDDED === "1";
const serverUrl = process.env.LOAD_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const adminKey = randomBytes(32).toString("base64url");
const POOL = 200;

type Kind = "valid" | "unknown" | "expired" | "revoked" | "malformed";
// Out of every 20 requests: 10 valid, 3 unknown, 3 expired, 1 revoked, 3 malformed.
const MIX: Kind[] = [
  ...Array<Kind>(10).fill("valid"),
  ...Array<Kind>(3).fill("unknown"),
  ...Array<Kind>(3).fill("expired"),
  "revoked",
  ...Array<Kind>(3).fill("malformed"),
];
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
  console.log(`load: ${standIn.backend.description}; ${POOL} sessions of each kind seeded`);

  logDir = mkdtempSync(path.join(os.tmpdir(), "session-gate-load-"));
  const logFile = path.join(logDir, "worker.log");
  // The bundle carries no [vars]: wrangler.toml's go in as bindings, as a deploy would set them.
  const { vars } = unstable_readConfig({ config: path.join(projectRoot, wranglerConfig) });
  worker = await startWorker({
    config: wranglerConfig,
    logFile,
    vars: {
      ...Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, String(value)])),
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
  const results = { sent: 0, ok: 0, wrong: [] as string[], errors: [] as string[], latencies: [] as number[] };
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
    sessionCheckLinesInWorkerLog: checkLines,
    secretsInWorkerLog: leaked,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const line of [...results.wrong, ...results.errors].slice(0, 10)) console.error(`load: ${line}`);

  const failures = [
    results.wrong.length > 0 && `${results.wrong.length} wrong answers`,
    results.errors.length > 0 && `${results.errors.length} errors`,
    !(growthMb <= maxGrowthMb) &&
      `workerd memory grew ${round(growthMb)} MB after the ${round(warmupSeconds)} s warm-up (limit ${maxGrowthMb})`,
    leaked > 0 && `${leaked} secrets in the Worker's log`,
    // Without the Worker's log lines the secrets check would have looked at nothing.
    checkLines === 0 && "no session_check lines in the Worker's log",
    results.sent !== total && `sent ${results.sent} of ${total}`,
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
  results: { ok: number; wrong: string[]; errors: string[]; latencies: number[] },
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
