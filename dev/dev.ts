/**
 * `npm run dev`: the Worker under `wrangler dev`, talking through the genuine Neon driver to a local
 * stand-in for Neon's SQL-over-HTTP endpoint, with the schema migrated and one demo session to try.
 *
 * - `DATABASE_URL` (a postgres:// URL) set: the stand-in serves that database as it is, and writes
 *   nothing into it unless asked: `npm run dev -- --demo` (a demo user, tenant and session) or
 *   `-- --demo-user=ID` (a session for that existing user); unset: an in-memory PGlite with a
 *   demo session, gone when this stops.
 * - `PORT`: the Worker's port (default 8787). `STANDIN_PORT`: the stand-in's (default: any free).
 * - Every other Worker variable (WORKER_VARIABLES in src/config.ts) set in the shell is passed to the Worker.
 *
 * Ctrl-C or SIGTERM stops wrangler and the stand-in and exits 0; if wrangler exits by itself the
 * rest is stopped and its exit code is returned.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WORKER_VARIABLES } from "../src/config";
import { describeError } from "./describe-error";
import { createDemoSession, readDemoRequest } from "./dev-demo";
import { writeEnvFile } from "./env-file";
import { type StandIn, startStandIn } from "./standin/index";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const wranglerBin = fileURLToPath(new URL("../node_modules/.bin/wrangler", import.meta.url));
// Wrangler stops workerd in about a second on SIGTERM; past this it is stuck and gets SIGKILL.
const wranglerStopTimeoutMs = 10_000;

let standIn: StandIn | undefined;
let wrangler: ChildProcess | undefined;
let varsDir: string | undefined;
let stopping = false;

process.on("SIGINT", () => void stop(0));
// However this process ends (a crash, a closed terminal pipe), the secrets file goes with it.
process.on("exit", () => removeVarsDir());
process.on("SIGTERM", () => void stop(0));
// The terminal closing: wrangler would get it too, the stand-in would be left to die unclosed.
process.on("SIGHUP", () => void stop(0));

try {
  const port = readPort("PORT", 8787);
  const standInPort = readPort("STANDIN_PORT", 0);
  const absoluteTimeoutHours = readPositiveInt("ABSOLUTE_TIMEOUT_HOURS", 8);
  const databaseUrl = readDatabaseUrl();
  const request = readDemoRequest(process.argv.slice(2));

  standIn = await startStandIn({
    databaseUrl,
    port: standInPort,
    log: (line) => console.error(line),
  });
  await checkDatabase(standIn);
  console.log(`dev: database: ${standIn.backend.description}, served over Neon's HTTP protocol at ${standIn.url}/sql`);
  await standIn.backend.migrate(`${projectRoot}drizzle`);
  console.log("dev: migrations from drizzle/ applied");

  // The embedded database is ours to fill; a real one gets a demo session only when asked.
  if (databaseUrl === undefined || request.demo) {
    const demo = await createDemoSession(standIn, { userId: request.userId, absoluteTimeoutHours });
    const tenant = demo.tenantId === null ? "no tenant" : `tenant ${demo.tenantId}`;
    console.log(
      `dev: demo session for user ${demo.userId}, ${tenant} (control_panel), valid until ${demo.absoluteExpiresAt}`,
    );
    console.log("");
    console.log(`export SESSION_TOKEN=${demo.token}`);
    console.log("");
    console.log("dev: ready once wrangler says so; then try");
    console.log(`curl -i -H "Authorization: Bearer $SESSION_TOKEN" http://localhost:${port}/v1/validate`);
  } else {
    console.log(
      "dev: no demo data written into DATABASE_URL (`npm run dev -- --demo` or `-- --demo-user=ID` to have one)",
    );
    console.log("dev: ready once wrangler says so");
  }
  console.log("dev: run the expiry cron locally with");
  console.log(`curl "http://localhost:${port}/__scheduled?cron=*/5+*+*+*+*"`);
  console.log("");

  // A signal may have arrived while the stand-in was starting: do not start wrangler then.
  if (!stopping) {
    wrangler = startWrangler(port, writeVarsFile(workerVars(standIn)));
  }
} catch (error) {
  console.error(`dev: startup failed: ${describeError(error)}`);
  await stop(1);
}

/** Fails with the database's own reason (refused, unknown database, bad password) up front. */
async function checkDatabase(standIn: StandIn): Promise<void> {
  try {
    await standIn.backend.query("select 1", []);
  } catch (error) {
    throw new Error(`cannot use ${standIn.backend.description}: ${describeError(error)}`);
  }
}

function readDatabaseUrl(): string | undefined {
  const raw = process.env.DATABASE_URL;
  if (raw === undefined || raw === "") return undefined;
  if (!/^postgres(ql)?:\/\/./.test(raw) || !isUrl(raw)) {
    throw new Error("DATABASE_URL must be a postgres:// or postgresql:// URL, or unset for an in-memory PGlite");
  }
  return raw;
}

function isUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

function readPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return port;
}

function readPositiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  }
  return value;
}

/**
 * The Worker's variables: the stand-in as its database (with the stand-in's per-run secret as the
 * password: the real database's password never reaches the Worker), plus every Worker variable
 * set in this shell.
 */
function workerVars(standIn: StandIn): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const name of WORKER_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined && value !== "") vars[name] = value;
  }
  vars.DATABASE_URL = standIn.databaseUrl();
  vars.NEON_LOCAL_HTTP = "true";
  return vars;
}

/**
 * Writes the Worker's variables to a file only this user can read, in a private directory removed
 * on exit, for `wrangler dev --env-file`: as `--var` arguments, secrets (ADMIN_API_KEY, the
 * stand-in's password) would be visible to every user of the machine in `ps`.
 */
function writeVarsFile(vars: Record<string, string>): string {
  varsDir = mkdtempSync(join(tmpdir(), "session-gate-dev-"));
  const file = join(varsDir, "worker.env");
  writeEnvFile(file, vars);
  return file;
}

function removeVarsDir(): void {
  if (varsDir !== undefined) rmSync(varsDir, { recursive: true, force: true });
}

function startWrangler(port: number, varsFile: string): ChildProcess {
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--test-scheduled", "--env-file", varsFile];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
  };
  // The Worker gets its variables from the file above only, never from this shell's copies (the
  // real DATABASE_URL with its password) through CLOUDFLARE_INCLUDE_PROCESS_ENV.
  for (const name of WORKER_VARIABLES) delete env[name];

  const child = spawn(wranglerBin, args, {
    cwd: projectRoot,
    env,
    stdio: "inherit",
  });
  child.on("error", (error) => {
    console.error(`dev: could not run wrangler: ${error.message}`);
    void stop(1);
  });
  child.on("exit", (code, signal) => {
    if (stopping) return;
    console.error(`dev: wrangler exited (${signal ?? `code ${code}`}); stopping the stand-in`);
    void stop(code ?? 1);
  });
  return child;
}

/** Stops what was started, wrangler first (it is the stand-in's client), then exits. */
async function stop(exitCode: number): Promise<void> {
  // A second Ctrl-C, or wrangler exiting because of the first, must not start a second stop.
  if (stopping) return;
  stopping = true;
  let code = exitCode;
  try {
    // First: wrangler has read the file long ago, and nothing below may leave it behind.
    removeVarsDir();
    if (wrangler) await stopChild(wrangler);
    await standIn?.close();
  } catch (error) {
    console.error(`dev: could not stop cleanly: ${describeError(error)}`);
    code = 1;
  }
  process.exit(code);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      console.error(`dev: wrangler did not stop within ${wranglerStopTimeoutMs} ms, killing it`);
      child.kill("SIGKILL");
    }, wranglerStopTimeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
