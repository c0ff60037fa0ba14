import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type Managed, run, stopProcess, waitFor } from "./stack";

/*
 * `npm run dev` and the CLIs as a developer runs them: the service comes up, the cron route runs
 * the expiry job, and no secret handed to it (the database password, the admin key, the gateway
 * key) appears in any process's arguments or in anything it prints.
 */

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const PORT = 8797;
const ADMIN_API_KEY = "dev-e2e-admin-key-0123456789abcdefghijkl";
// A `$` and a quote, which a .env file would expand or end on if written carelessly.
const GATEWAY_SIGNING_KEY = "dev-e2e-gateway-$HOME-key-'0123456789abcdefghij";
const PASSWORD = "dev-e2e-Database-Password-42";
const serverUrl = process.env.TEST_DATABASE_URL;

/** Every process's command line on this machine, joined. */
function allCommandLines(): string {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        return "";
      }
    })
    .join("\n");
}

function devVarsDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("session-gate-dev-"));
}

/** A database URL with a password in it: the server trusts local connections and ignores it. */
function withPassword(url: string): string {
  const withPw = new URL(url);
  withPw.password = PASSWORD;
  return withPw.toString();
}

/** An origin that answers with the headers and the path it received. */
async function startOrigin(): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** docs/gateway.md's verification, in Node: true when `key` signed what the origin received (no body). */
function signedWith(key: string, seen: { url: string; method: string; headers: Record<string, string> }): boolean {
  const match = /^t=(\d+),v2=([0-9a-f]{64})$/.exec(seen.headers["x-session-signature"] ?? "");
  const digest = `sha-256=:${createHash("sha256").update("").digest("base64")}:`;
  if (!match || seen.headers["content-digest"] !== digest) return false;
  const h = seen.headers;
  const payload = [
    "v2",
    match[1],
    seen.method,
    seen.url,
    h["x-session-id"],
    h["x-user-id"],
    h["x-tenant-id"] ?? "",
    h["x-app-type"],
    digest,
  ];
  return createHmac("sha256", key).update(payload.join("\n")).digest("hex") === match[2];
}

describe("npm run dev", () => {
  let dev: Managed;
  let origin: { server: Server; url: string };
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  const dirsBefore = new Set(devVarsDirs());

  beforeAll(async () => {
    origin = await startOrigin();
    scratch = serverUrl ? await createScratchDatabase(serverUrl, "sessiongate_dev_e2e") : undefined;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(PORT),
      ADMIN_API_KEY,
      GATEWAY_SIGNING_KEY,
      ORIGIN_URL: origin.url,
    };
    if (scratch) env.DATABASE_URL = withPassword(scratch.url);
    else delete env.DATABASE_URL;
    // A database of its own: npm run dev writes a demo session into it only when asked.
    dev = run("npm run dev", "npm", ["run", "dev", ...(scratch ? ["--", "--demo"] : [])], { cwd: projectRoot, env });
    await waitFor("npm run dev", async () => (await fetch(`http://127.0.0.1:${PORT}/healthz`)).ok, dev, 120_000);
  });

  afterAll(async () => {
    if (dev) await stopProcess(dev);
    if (origin) await new Promise((resolve) => origin.server.close(resolve));
    await scratch?.drop();
  });

  it("puts no secret in any process's arguments", () => {
    const commandLines = allCommandLines();
    for (const secret of [ADMIN_API_KEY, GATEWAY_SIGNING_KEY, PASSWORD]) expect(commandLines).not.toContain(secret);
    // The stand-in's password is in DATABASE_URL, which reaches wrangler in a file, not as an argument.
    expect(commandLines).not.toMatch(/postgres(ql)?:\/\/[^\s:@/]*:[^\s@]+@/);
  });

  it("hands the Worker its variables in a file only this user can read", () => {
    const created = devVarsDirs().filter((name) => !dirsBefore.has(name));
    expect(created).toHaveLength(1);
    const dir = join(tmpdir(), created[0] ?? "");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "worker.env")).mode & 0o777).toBe(0o600);
  });

  it("serves the demo session, and /__scheduled runs the expiry job", async () => {
    const token = /export SESSION_TOKEN=(\S+)/.exec(dev.output.join(""))?.[1];
    expect(token).toBeDefined();
    const res = await fetch(`http://127.0.0.1:${PORT}/v1/validate`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    // Gateway mode signs with the key exactly as given in the shell, $ and quote included.
    const forwarded = await fetch(`http://127.0.0.1:${PORT}/app/page?x=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(forwarded.status).toBe(200);
    const seen = (await forwarded.json()) as { url: string; method: string; headers: Record<string, string> };
    expect(seen.url).toBe("/app/page?x=1");
    expect(signedWith(GATEWAY_SIGNING_KEY, seen)).toBe(true);
    const scheduled = await fetch(`http://127.0.0.1:${PORT}/__scheduled?cron=*/5+*+*+*+*`);
    expect(scheduled.status).toBe(200);
    await waitFor(
      "the expiry run's log line",
      async () => dev.output.join("").includes('"event":"expiry_run"'),
      dev,
      20_000,
    );
  });

  it("prints no secret", () => {
    const output = dev.output.join("");
    for (const secret of [ADMIN_API_KEY, GATEWAY_SIGNING_KEY, PASSWORD]) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/postgres(ql)?:\/\/[^\s:@/]*:[^\s@]+@/);
  });

  it("removes the variables file when it stops", async () => {
    await stopProcess(dev);
    // npm exits on the signal at once; dev.ts cleans up once wrangler has stopped.
    await waitFor(
      "the variables directory to go",
      async () => devVarsDirs().every((name) => dirsBefore.has(name)),
      undefined,
      15_000,
    );
  });
});

describe.skipIf(serverUrl === undefined)("npm run dev on a database it was pointed at (PostgreSQL server)", () => {
  it("writes nothing into it unless asked, and with --demo-user=ID a session for that user only", async () => {
    const scratch = await createScratchDatabase(serverUrl ?? "", "sessiongate_dev_nodemo");
    const url = withPassword(scratch.url);
    const count = async (table: string) => {
      const result = spawnSync("psql", [scratch.url, "-Atc", `select count(*) from ${table}`], { encoding: "utf8" });
      return Number(result.stdout.trim());
    };
    try {
      for (const args of [[], ["--", "--demo-user=1"]]) {
        if (args.length > 0)
          spawnSync("psql", [scratch.url, "-c", "insert into users default values"], { encoding: "utf8" });
        const dev = run("npm run dev", "npm", ["run", "dev", ...args], {
          cwd: projectRoot,
          env: { ...process.env, PORT: String(PORT + 1), DATABASE_URL: url },
        });
        try {
          await waitFor(
            "npm run dev",
            async () => (await fetch(`http://127.0.0.1:${PORT + 1}/healthz`)).ok,
            dev,
            120_000,
          );
          const output = dev.output.join("");
          if (args.length === 0) {
            expect(output).toContain("no demo data written");
            expect(output).not.toContain("SESSION_TOKEN");
            expect([await count("users"), await count("tenants"), await count("sessions")]).toEqual([0, 0, 0]);
          } else {
            expect(output).toMatch(/demo session for user 1, no tenant/);
            expect([await count("users"), await count("tenants"), await count("sessions")]).toEqual([1, 0, 1]);
          }
        } finally {
          await stopProcess(dev);
        }
      }
    } finally {
      await scratch.drop();
    }
  });
});

describe.skipIf(serverUrl === undefined)("npm run db:migrate and npm run expire (PostgreSQL server)", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    scratch = await createScratchDatabase(serverUrl ?? "", "sessiongate_cli_e2e");
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  function npm(script: string, databaseUrl: string) {
    const result = spawnSync("npm", ["run", "--silent", script], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      encoding: "utf8",
      timeout: 60_000,
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it("migrates, twice, and the expiry job runs and reports its summary", () => {
    const url = withPassword(scratch.url);
    for (let i = 0; i < 2; i++) {
      const migrate = npm("db:migrate", url);
      expect(migrate.status, migrate.output).toBe(0);
      expect(migrate.output).not.toContain(PASSWORD);
    }
    const expire = npm("expire", url);
    expect(expire.status, expire.output).toBe(0);
    const summary = JSON.parse(expire.output.split("\n").find((line) => line.includes('"expiry_run"')) ?? "{}");
    expect(summary).toMatchObject({
      event: "expiry_run",
      cutShort: false,
      ended: { idle_timeout: 0, absolute_timeout: 0 },
    });
    expect(expire.output).not.toContain(PASSWORD);
  });

  it("fails with exit 1 and no password in its output when the database is unreachable", () => {
    const down = new URL(withPassword(scratch.url));
    down.port = "1";
    for (const script of ["db:migrate", "expire"]) {
      const result = npm(script, down.toString());
      expect(result.status, result.output).toBe(1);
      expect(result.output).not.toContain(PASSWORD);
    }
  });
});
