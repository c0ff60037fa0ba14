import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";
import { writeEnvFile } from "../../dev/env-file";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin";
import { PORTS, RECIPE_HEADERS } from "./ports";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
export const NGINX_CONF = join(projectRoot, "docs/proxies/nginx.conf");
export const CADDYFILE = join(projectRoot, "docs/proxies/Caddyfile");

/** A process of the stack: its own process group, so stopping it stops its children (workerd). */
export interface Managed {
  name: string;
  child: ChildProcess;
  output: string[];
}

export function run(name: string, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const managed: Managed = { name, child, output: [] };
  const keep = (chunk: Buffer) => {
    managed.output.push(chunk.toString());
    if (managed.output.length > 200) managed.output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (error) => managed.output.push(`spawn failed: ${error.message}`));
  return managed;
}

export async function stopProcess(managed: Managed): Promise<void> {
  const { child } = managed;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

async function assertPortFree(port: number, what: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", () =>
      reject(new Error(`port ${port} (${what}) is taken: the e2e tests need it, as docs/proxies/ fixes it`)),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

/** Polls until `check` passes, or fails with the process's last output. */
export async function waitFor(what: string, check: () => Promise<boolean>, managed?: Managed, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (managed && managed.child.exitCode !== null) break;
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} did not come up:\n${managed?.output.join("").slice(-4000) ?? ""}`);
}

function envFile(file: string, vars: Record<string, string>): string {
  writeEnvFile(file, vars);
  return file;
}

/**
 * What the Worker under test is configured with for browsers, and what an application behind the
 * proxies needs to know of it (examples/browser-app reads the same values).
 */
export interface BrowserSetup {
  /** session-gate as the application's server reaches it: admin API, JWKS. */
  sessionGateUrl: string;
  cookieName: string;
  /** The login page, through nginx (a browser that came through Caddy is sent there too). */
  loginUrl: string;
  /** The hosts an `rd` may name: nginx's and Caddy's. */
  redirectAllowedHosts: string[];
  adminApiKey: string;
  assertionIssuer: string;
  assertionAudience: string;
}

export interface Stack {
  standIn: StandIn;
  browser: BrowserSetup;
  /** Stops the stand-in: from then on the Worker's database is down. */
  stopDatabase(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The local stack of `npm run dev` (stand-in + migrations + `wrangler dev` on 8787) with nginx and
 * Caddy running docs/proxies/nginx.conf and docs/proxies/Caddyfile as published, the Worker set up
 * as those files and a browser app expect (`browser`). The stand-in runs on a scratch database of
 * TEST_DATABASE_URL's server, or an embedded PGlite.
 */
export async function startStack(): Promise<Stack> {
  // The origin is the caller's, on PORTS.origin: nothing here needs it up yet.
  for (const what of ["sessionGate", "nginx", "caddy"] as const) await assertPortFree(PORTS[what], what);
  // A signing key of this run's own, as `npm run keys:assertion` makes one.
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const signingKey = JSON.stringify({ ...(await exportJWK(privateKey)), kid: `e2e-${randomUUID().slice(0, 8)}` });
  const browser: BrowserSetup = {
    sessionGateUrl: `http://127.0.0.1:${PORTS.sessionGate}`,
    cookieName: "__Host-session",
    loginUrl: `http://127.0.0.1:${PORTS.nginx}/login`,
    redirectAllowedHosts: [`127.0.0.1:${PORTS.nginx}`, `127.0.0.1:${PORTS.caddy}`],
    adminApiKey: randomBytes(32).toString("base64url"),
    assertionIssuer: "session-gate",
    assertionAudience: "e2e-browser-app",
  };

  const scratchDir = mkdtempSync(join(tmpdir(), "session-gate-e2e-"));
  const serverUrl = process.env.TEST_DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, "sessiongate_e2e") : undefined;
  const standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
  await standIn.backend.migrate(join(projectRoot, "drizzle"));
  let databaseStopped = false;
  const processes: Managed[] = [];

  const stop = async () => {
    await Promise.all(processes.map(stopProcess));
    if (!databaseStopped) await standIn.close();
    await scratch?.drop();
    rmSync(scratchDir, { recursive: true, force: true });
  };

  try {
    const vars = {
      DATABASE_URL: standIn.databaseUrl(),
      NEON_LOCAL_HTTP: "true",
      VALIDATION_TIMEOUT_MS: "1000",
      ADMIN_API_KEY: browser.adminApiKey,
      // What docs/proxies/ expects of session-gate (the header names in the files) and what a
      // browser app needs: the cookie, the login page, the signed assertion.
      SESSION_ID_HEADER: RECIPE_HEADERS.sessionId,
      USER_ID_HEADER: RECIPE_HEADERS.userId,
      TENANT_ID_HEADER: RECIPE_HEADERS.tenantId,
      APP_TYPE_HEADER: RECIPE_HEADERS.appType,
      ASSERTION_HEADER: RECIPE_HEADERS.assertion,
      SESSION_COOKIE_NAME: browser.cookieName,
      LOGIN_URL: browser.loginUrl,
      REDIRECT_ALLOWED_HOSTS: browser.redirectAllowedHosts.join(","),
      ASSERTION_SIGNING_KEY: signingKey,
      ASSERTION_ISSUER: browser.assertionIssuer,
      ASSERTION_AUDIENCE: browser.assertionAudience,
    };
    const wranglerEnv: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };
    for (const name of Object.keys(vars)) delete wranglerEnv[name];
    const wrangler = run(
      "wrangler",
      join(projectRoot, "node_modules/.bin/wrangler"),
      [
        "dev",
        "--port",
        String(PORTS.sessionGate),
        "--ip",
        "127.0.0.1",
        "--inspector-port",
        "0",
        "--persist-to",
        join(scratchDir, "wrangler-state"),
        "--show-interactive-dev-session=false",
        // A file only this user can read, not --var: the stand-in's password, the admin key and the
        // signing key must not be in argv.
        "--env-file",
        envFile(join(scratchDir, "worker.env"), vars),
      ],
      { cwd: projectRoot, env: wranglerEnv },
    );
    processes.push(wrangler);

    // nginx's prefix: the published file puts its temp directories there, relative paths.
    const nginxPrefix = join(scratchDir, "nginx");
    mkdirSync(nginxPrefix);
    const nginx = run(
      "nginx",
      "nginx",
      ["-e", "stderr", "-p", `${nginxPrefix}/`, "-c", NGINX_CONF, "-g", `daemon off; pid ${nginxPrefix}/nginx.pid;`],
      { cwd: projectRoot },
    );
    processes.push(nginx);

    // Caddy keeps its state (certificates, autosave) under $HOME / XDG dirs: a scratch one here.
    const caddyHome = join(scratchDir, "caddy");
    const caddy = run("caddy", "caddy", ["run", "--adapter", "caddyfile", "--config", CADDYFILE], {
      cwd: projectRoot,
      env: {
        ...process.env,
        HOME: caddyHome,
        XDG_DATA_HOME: join(caddyHome, "data"),
        XDG_CONFIG_HOME: join(caddyHome, "config"),
      },
    });
    processes.push(caddy);

    const answers = (url: string) => async () => (await fetch(url)).status > 0;
    await waitFor(
      "wrangler dev",
      async () => (await fetch(`http://127.0.0.1:${PORTS.sessionGate}/healthz`)).ok,
      wrangler,
    );
    await waitFor("nginx", answers(`http://127.0.0.1:${PORTS.nginx}/`), nginx);
    await waitFor("caddy", answers(`http://127.0.0.1:${PORTS.caddy}/`), caddy);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    standIn,
    browser,
    async stopDatabase() {
      databaseStopped = true;
      await standIn.close();
    },
    stop,
  };
}
