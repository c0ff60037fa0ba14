import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin";
import { bundleWorker, scratchDir } from "../../examples/harness";
import { createTestRoles } from "../setup/test-roles";

/*
 * The contract with the existing application, checked with its own code instead of a hand-written
 * fixture: its ORM (the seed model, unchanged: test/existing-app/) creates the schema, writes and
 * ends sessions and reads them back, while the Worker, bundled as deployed and running as the
 * least-privilege role, checks, ends and shows the same rows. One story on one database, so the
 * tests below run in order, each carrying on from the last.
 */

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const serverUrl = process.env.TEST_DATABASE_URL;
// Debian's interpreter: it sees python3-sqlalchemy and python3-psycopg2 (.ci/run installs them).
const PYTHON = "/usr/bin/python3";
const EXISTING_APP = join(projectRoot, "test/existing-app/existing_app.py");
// The application's connections run in a zone far from UTC (libpq's PGTZ), whatever the server's
// TimeZone: existing_app.py pins its sessions to UTC, and this proves the pin holds, so that
// to_dict()'s strings and ours compare as the same instants written the same way.
const APPLICATION_TIMEZONE = "Asia/Kolkata";
const ADMIN_API_KEY = randomBytes(24).toString("base64url");
const CRON = "*/5 * * * *";

type Row = "live" | "expired" | "idle" | "logout" | "tenant_app";
interface Written {
  user_id: number;
  tenant_id: number;
  sessions: Record<Row, { id: string; token: string }>;
}
type ToDict = Record<string, unknown> & { id: string; revoke_reason: string | null; ended_at: string | null };
interface ReadRow {
  id: string;
  to_dict: ToDict;
  is_expired: boolean;
}

/** Runs a subcommand of the application's CLI and returns the JSON it prints. */
function existingApp<T>(...args: string[]): T {
  const result = spawnSync(PYTHON, [EXISTING_APP, ...args], {
    cwd: projectRoot,
    env: { ...process.env, PGTZ: APPLICATION_TIMEZONE },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`existing_app.py ${args[0]} failed (${result.error?.message ?? result.status}):\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

function npmRun(script: string, databaseUrl: string) {
  const result = spawnSync("npm", ["run", "--silent", script], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// Skipped without TEST_DATABASE_URL: psycopg2 needs a PostgreSQL server, which the embedded PGlite is not.
describe.skipIf(serverUrl === undefined)(
  "the existing application's ORM and the Worker on one database (PostgreSQL server: TEST_DATABASE_URL)",
  () => {
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
    let standIn: StandIn;
    let roles: Awaited<ReturnType<typeof createTestRoles>>;
    let mf: Miniflare;
    const migrations: ReturnType<typeof npmRun>[] = [];
    const workerLog: string[] = [];
    let dir: ReturnType<typeof scratchDir>;
    let written: Written;

    const request = (path: string, init: { method?: string; token?: string } = {}) =>
      mf.dispatchFetch(`http://session-gate.test${path}`, {
        method: init.method ?? "GET",
        headers: init.token === undefined ? {} : { authorization: `Bearer ${init.token}` },
      });
    const validate = (row: Row) => request("/v1/validate", { token: written.sessions[row].token });
    const read = (...rows: Row[]) =>
      existingApp<ReadRow[]>("read", scratch.url, ...rows.map((r) => written.sessions[r].id));

    beforeAll(async () => {
      scratch = await createScratchDatabase(serverUrl ?? "", "sessiongate_existing_app");
      // The application's schema first, as in production: our migrations meet its tables.
      existingApp("create-schema", scratch.url);
      for (let i = 0; i < 2; i++) migrations.push(npmRun("db:migrate", scratch.url));
      standIn = await startStandIn({ databaseUrl: scratch.url, port: 0 });
      roles = await createTestRoles(standIn, randomBytes(18).toString("base64url"));
      dir = scratchDir();
      const script = await bundleWorker("wrangler.toml", join(dir.path, "worker"));
      mf = new Miniflare({
        modules: true,
        scriptPath: script,
        modulesRoot: dirname(script),
        // As wrangler.toml.
        compatibilityDate: "2026-08-03",
        compatibilityFlags: ["nodejs_compat"],
        bindings: {
          DATABASE_URL: standIn.databaseUrl(undefined, roles.worker),
          NEON_LOCAL_HTTP: "true",
          ADMIN_API_KEY,
        },
        handleRuntimeStdio(stdout: Readable, stderr: Readable) {
          for (const stream of [stdout, stderr]) stream.on("data", (chunk: Buffer) => workerLog.push(chunk.toString()));
        },
      });
      await mf.ready;
      written = existingApp<Written>("write-sessions", scratch.url);
    });

    afterAll(async () => {
      await mf?.dispose();
      await roles?.drop();
      await standIn?.close();
      await scratch?.drop();
      dir?.remove();
    });

    it("migrates the ORM's schema, and a second db:migrate applies nothing", () => {
      const applied = migrations.map((run) => {
        expect(run.status, run.output).toBe(0);
        return Number(/applied (\d+) new migration/.exec(run.output)?.[1]);
      });
      expect(applied[0]).toBeGreaterThan(0);
      expect(applied[1]).toBe(0);
    });

    it.each([
      ["live", false, "control_panel"],
      ["logout", false, "control_panel"],
      ["tenant_app", true, "tenant_app"],
    ] as const)("accepts the ORM's %s session with the identity it stored", async (row, withTenant, appType) => {
      const res = await validate(row);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-session-id")).toBe(written.sessions[row].id);
      expect(res.headers.get("x-user-id")).toBe(String(written.user_id));
      expect(res.headers.get("x-tenant-id")).toBe(withTenant ? String(written.tenant_id) : "");
      expect(res.headers.get("x-app-type")).toBe(appType);
    });

    it("refuses a session the application logged out", async () => {
      existingApp("logout", scratch.url, written.sessions.logout.id);
      expect((await validate("logout")).status).toBe(401);
    });

    it("ends the absolute-expired session when it is presented, as of its absolute limit", async () => {
      expect((await validate("expired")).status).toBe(401);
      const [row] = read("expired");
      expect(row?.to_dict).toMatchObject({ is_active: false, revoke_reason: "absolute_timeout" });
      expect(row?.to_dict.ended_at).toBe(row?.to_dict.absolute_expires_at);
    });

    it("ends the idle session in the expiry job (the scheduled handler), as of its idle limit", async () => {
      const worker = await mf.getWorker();
      expect((await worker.scheduled({ cron: CRON })).outcome).toBe("ok");
      const summary = workerLog
        .join("")
        .split("\n")
        .find((line) => line.includes('"event":"expiry_run"'));
      expect(JSON.parse(summary ?? "{}")).toMatchObject({ ended: { idle_timeout: 1, absolute_timeout: 0 } });
      const [row] = read("idle");
      expect(row?.to_dict).toMatchObject({ is_active: false, revoke_reason: "idle_timeout" });
      // 30 minutes (IDLE_TIMEOUT_MINUTES) after the last activity, to the microsecond.
      const lastActivity = String(row?.to_dict.last_activity_at);
      const endedAt = String(row?.to_dict.ended_at);
      expect(Date.parse(endedAt) - Date.parse(lastActivity)).toBe(30 * 60_000);
      expect(endedAt.slice(19)).toBe(lastActivity.slice(19));
    });

    it("ends a session through the admin route", async () => {
      const res = await request(`/v1/sessions/${written.sessions.tenant_app.id}`, {
        method: "DELETE",
        token: ADMIN_API_KEY,
      });
      expect(res.status).toBe(204);
      expect((await validate("tenant_app")).status).toBe(401);
    });

    it("shows every row exactly as the ORM's to_dict(), and is_expired agrees", async () => {
      // Ours first: a check may move last_activity_at, and the ORM must read what we showed.
      const current = await request("/v1/sessions/current", { token: written.sessions.live.token });
      expect(current.status).toBe(200);
      const list = await request(`/v1/users/${written.user_id}/sessions?limit=100`, { token: ADMIN_API_KEY });
      expect(list.status).toBe(200);
      const ours = ((await list.json()) as { sessions: ToDict[] }).sessions;

      const rows = read("live", "expired", "idle", "logout", "tenant_app");
      expect(Object.fromEntries(rows.map((row) => [row.id, row.is_expired]))).toEqual({
        [written.sessions.live.id]: false,
        [written.sessions.expired.id]: true,
        [written.sessions.idle.id]: true,
        [written.sessions.logout.id]: true,
        [written.sessions.tenant_app.id]: true,
      });
      expect(ours.map((session) => session.id).sort()).toEqual(rows.map((row) => row.id).sort());
      for (const row of rows) {
        expect(
          ours.find((session) => session.id === row.id),
          row.id,
        ).toStrictEqual(row.to_dict);
      }
      expect(((await current.json()) as { session: ToDict }).session).toStrictEqual(rows[0]?.to_dict);
      expect(rows.map((row) => row.to_dict.revoke_reason)).toEqual([
        null,
        "absolute_timeout",
        "idle_timeout",
        "logout",
        "admin_revoke",
      ]);
    });
  },
);
