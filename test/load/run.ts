/**
 * `npm run test:load`: the Worker under `wrangler dev`, through the genuine Neon driver to the local
 * stand-in, driven at a fixed request rate (open loop: requests leave on schedule whether or not
 * earlier ones have answered) with a mix of valid, unknown, expired and malformed tokens. Every
 * answer is checked against the one it must be; workerd's resident memory is sampled every second.
 * Exits non-zero on any error, any wrong answer, memory growth past the limit, or a secret in the
 * Worker's output.
 *
 * - LOAD_RPS (50), LOAD_SECONDS (60), LOAD_WARMUP_SECONDS (5), LOAD_MAX_GROWTH_MB (50)
 * - LOAD_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres): a scratch database is made
 *   there and dropped after; LOAD_EMBEDDED=1 uses an in-memory PGlite instead.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const wranglerBin = fileURLToPath(new URL("../../node_modules/.bin/wrangler", import.meta.url));

// 50 req/s: what `wrangler dev`, the stand-in and PostgreSQL sustain together on a 2-core machine with
// latency to spare (at 100 req/s p50 is already ~250 ms there); raise it on a bigger one.
const rps = readNumber("LOAD_RPS", 50);
const seconds = readNumber("LOAD_SECONDS", 60);
const warmupSeconds = readNumber("LOAD_WARMUP_SECONDS", 5);
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
let wrangler: ChildProcess | undefined;
let stopping = false;
const wranglerOutput: string[] = [];

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

  const port = await freePort();
  wrangler = startWrangler(port, {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${standIn.port}/load`,
    NEON_LOCAL_HTTP: "true",
    ADMIN_API_KEY: adminKey,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntilReady(base);
  const workerd = () => descendants(wrangler?.pid ?? 0).filter((pid) => processName(pid) === "workerd");
  console.log(`load: wrangler dev on ${base} (workerd ${workerd().join(", ")}); ${rps} req/s for ${seconds} s`);

  const memory: { atSeconds: number; rssMb: number }[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    memory.push({ atSeconds: (performance.now() - started) / 1000, rssMb: rssMb(workerd()) });
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

  const lat = results.latencies.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? Number.NaN;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const afterWarmup = memory.filter((m) => m.atSeconds >= warmupSeconds);
  const baselineMb = median(afterWarmup.slice(0, 5).map((m) => m.rssMb));
  const finalMb = median(afterWarmup.slice(-5).map((m) => m.rssMb));
  const peakMb = Math.max(...memory.map((m) => m.rssMb));
  const growthMb = finalMb - baselineMb;
  const leaked = findSecrets(wranglerOutput.join(""), [
    ...tokens.valid,
    ...tokens.expired,
    ...tokens.revoked,
    adminKey,
  ]);

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
      afterWarmup: round(baselineMb),
      final: round(finalMb),
      peak: round(peakMb),
      growth: round(growthMb),
    },
    workerdRssMbEvery5s: memory.filter((_, k) => k % 5 === 4).map((m) => round(m.rssMb)),
    secretsInWorkerOutput: leaked,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const line of [...results.wrong, ...results.errors].slice(0, 10)) console.error(`load: ${line}`);

  const failures = [
    results.wrong.length > 0 && `${results.wrong.length} wrong answers`,
    results.errors.length > 0 && `${results.errors.length} errors`,
    !(growthMb <= maxGrowthMb) && `workerd memory grew ${round(growthMb)} MB (limit ${maxGrowthMb})`,
    leaked > 0 && `${leaked} secrets in the Worker's output`,
    results.sent !== total && `sent ${results.sent} of ${total}`,
  ].filter(Boolean);
  if (failures.length > 0) {
    console.error(`load: FAIL: ${failures.join("; ")}`);
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

function startWrangler(port: number, vars: Record<string, string>): ChildProcess {
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1"];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // Its own process group, so stopping the group stops the workerd it starts as well.
  const child = spawn(wranglerBin, args, {
    cwd: projectRoot,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", DATABASE_URL: "", ADMIN_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (chunk: Buffer) => wranglerOutput.push(chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => wranglerOutput.push(chunk.toString("utf8")));
  return child;
}

async function waitUntilReady(base: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (wrangler?.exitCode !== null) throw new Error(`wrangler exited:\n${wranglerOutput.join("").slice(-2000)}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("wrangler dev was not ready within 90 s");
}

async function cleanUp(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const child = wrangler;
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    killGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => killGroup(child.pid ?? 0, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await standIn?.close().catch((error) => console.error(`load: stand-in: ${String(error)}`));
  await scratch?.drop().catch((error) => console.error(`load: dropping ${scratch?.name}: ${String(error)}`));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Every descendant of `root`, from the parent pids in /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited meanwhile.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // Exited meanwhile.
    }
  }
  return kb / 1024;
}

function findSecrets(output: string, secrets: string[]): number {
  return secrets.filter((s) => output.includes(s)).length;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
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
