/**
 * The bench build of the Worker (wrangler.bench.toml) in workerd: bundled by `wrangler deploy
 * --dry-run`, exactly as it would be deployed, then served by Miniflare from this process. Not
 * `wrangler dev`: that runs two workerd instances with a proxy Worker in front of ours (every
 * request crosses both), and it rebuilds and restarts the Worker whenever a file in src/ changes.
 * Requests reach the Worker's own socket, as they reach a deployed Worker, without Miniflare's
 * entry Worker in between.
 * Plus what /proc says about the workerd process.
 */
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const wranglerBin = fileURLToPath(new URL("../node_modules/.bin/wrangler", import.meta.url));
/** The workerd binary Miniflare runs: the one set in MINIFLARE_WORKERD_PATH (a profiler's wrapper, say), else its own. */
const workerdBinary =
  process.env.MINIFLARE_WORKERD_PATH ??
  (createRequire(createRequire(import.meta.url).resolve("miniflare"))("workerd") as { default: string }).default;
/** Runs `workerdBinary` with the Worker's stdout appended to its log file (see the script). */
const workerdWithStdoutToLog = fileURLToPath(new URL("./workerd-stdout-to-log.sh", import.meta.url));
const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** Kept in step with wrangler.bench.toml (and so with ../wrangler.toml). */
const compatibilityDate = "2026-08-03";
const compatibilityFlags = ["nodejs_compat"];

export interface WorkerProcess {
  url: string;
  logFile: string;
  /** The workerd process(es) serving the Worker. */
  workerdPids(): number[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
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

/**
 * `wrangler deploy --dry-run`: the bundle a deploy would upload, in a temporary directory.
 * `config` is relative to the project root.
 */
async function bundleWorker(logFile: string, config: string): Promise<{ dir: string; script: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "session-gate-bench-build-"));
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(wranglerBin, ["deploy", "--dry-run", "--outdir", dir, "--config", config], {
    cwd: projectRoot,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`bundling the Worker failed (wrangler exited ${code}); see ${logFile}`);
  }
  // The bundle is named after the config's `main` (worker.ts → worker.js, src/index.ts → index.js);
  // without code splitting it is the only .js file wrangler writes (next to its .map and a README).
  const scripts = readdirSync(dir).filter((name) => name.endsWith(".js"));
  if (scripts.length !== 1) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`expected one .js bundle from ${config}, found ${scripts.length}: ${scripts.join(", ")}`);
  }
  return { dir, script: path.join(dir, scripts[0] as string) };
}

export interface StartWorkerOptions {
  vars: Record<string, string>;
  logFile: string;
  /** The wrangler config to bundle, relative to the project root; the bench build by default. */
  config?: string;
}

export async function startWorker(options: StartWorkerOptions): Promise<WorkerProcess> {
  const bundle = await bundleWorker(options.logFile, options.config ?? "bench/wrangler.bench.toml");
  const port = await freePort();
  const before = new Set(workerdBelow(process.pid));
  const log = createWriteStream(options.logFile, { flags: "a" });
  // Read by Miniflare when it spawns workerd (by `ready`, below); put back then, so that no other
  // Miniflare in this process starts the wrapper without its two variables.
  const workerdPathBefore = process.env.MINIFLARE_WORKERD_PATH;
  process.env.MINIFLARE_WORKERD_PATH = workerdWithStdoutToLog;
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: true,
    scriptPath: bundle.script,
    modulesRoot: bundle.dir,
    compatibilityDate,
    compatibilityFlags,
    bindings: options.vars,
    // As in `wrangler dev`: no request log line sent back to Node for every request.
    logRequests: false,
    // Load goes to the Worker's own socket, not to Miniflare's entry Worker: that entry rewrites
    // every request (its URL, a `cf` object) and hands it on over a service binding, about 0.2 ms
    // of workerd CPU per request (measured on the cached check: 0.36 against 0.16 ms) that no
    // deployed Worker pays. Every system is served this way, so all of them shed the same cost.
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    // The Worker's console output (one line per validation) goes to the log file from workerd
    // itself: relayed through this process, it cost the bench's Node about 0.02 ms of CPU per line
    // on the cores the systems share, which only the systems that log paid.
    unsafeRuntimeEnv: { SESSION_GATE_BENCH_WORKERD: workerdBinary, SESSION_GATE_BENCH_WORKER_LOG: options.logFile },
    // stderr (console.error, workerd's own messages) still comes through here. Not `stdout.pipe(log)`: the
    // wrapper leaves that pipe empty and closed at once, and its end would end the log stream too.
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.resume();
      stderr.pipe(log);
    },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await miniflare.dispose();
    } finally {
      rmSync(bundle.dir, { recursive: true, force: true });
    }
  };
  try {
    try {
      await miniflare.ready;
    } finally {
      if (workerdPathBefore === undefined) delete process.env.MINIFLARE_WORKERD_PATH;
      else process.env.MINIFLARE_WORKERD_PATH = workerdPathBefore;
    }
    const url = (await miniflare.unsafeGetDirectURL()).toString().replace(/\/$/, "");
    const workerd = workerdBelow(process.pid).filter((pid) => !before.has(pid));
    const response = await fetch(`${url}/healthz`);
    if (response.status !== 200)
      throw new Error(`the Worker answered /healthz with ${response.status}: ${await response.text()}`);
    return { url, logFile: options.logFile, workerdPids: () => workerd, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every PostgreSQL server process on this machine (the server must be local for this to mean anything). */
/**
 * PostgreSQL's server processes on this machine; with `database`, only the backends connected to
 * it (their process title names it), so that other work on the same server is not counted.
 */
export function postgresPids(database?: string): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter(
      (pid) =>
        Number.isInteger(pid) &&
        processName(pid) === "postgres" &&
        (database === undefined || processTitle(pid).includes(` ${database} `)),
    );
}

function processTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function workerdBelow(root: number): number[] {
  return descendants(root).filter((pid) => processName(pid) === "workerd");
}

interface ProcStat {
  ppid: number;
  /** User + system CPU time in milliseconds. */
  cpuMs: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The name (field 2) is in parentheses and may contain spaces: fields are counted after it.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { ppid: Number(fields[1]), cpuMs: (ticks * 1000) / clockTicksPerSecond };
  } catch {
    return undefined;
  }
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Every live process below `root` in the process tree. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Summed user + system CPU milliseconds of `pids`. */
export function cpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuMs ?? 0), 0);
}

/** CPU milliseconds per pid, for pids alive now. */
export function cpuMsByPid(pids: number[]): Map<number, number> {
  const found = new Map<number, number>();
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat !== undefined) found.set(pid, stat.cpuMs);
  }
  return found;
}

/**
 * CPU used since `before` by the processes of `pidsNow`: all of it for one that started since
 * (PostgreSQL forks a backend for every connection a pool opens during a run: the stand-in's pools
 * close connections idle for 10 s, so a run that follows one without queries starts on new ones).
 * A process that exited meanwhile is left out.
 */
export function cpuMsSince(before: Map<number, number>, pidsNow: number[]): number {
  let total = 0;
  for (const [pid, now] of cpuMsByPid(pidsNow)) total += now - (before.get(pid) ?? 0);
  return total;
}

/** Summed resident set size of `pids`, in MiB (VmRSS). */
export function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      kb += Number(match?.[1] ?? 0);
    } catch {
      // Gone.
    }
  }
  return Math.round((kb / 1024) * 10) / 10;
}
