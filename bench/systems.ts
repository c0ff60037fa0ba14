/**
 * The systems the bench compares, each a Worker bundled by wrangler and served by Miniflare,
 * talking to the same stand-in and PostgreSQL: session-gate (its bench build, cache off), the same
 * with VALID_CACHE_SECONDS on when the Worker has that variable, and the two peers in bench/peers/,
 * each on its own tables in its own schema. For each: how to make a session (the peers through
 * their own API), put it in a state with SQL, revoke it as its own revoke would, and read its row.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { WORKER_VARIABLES } from "../src/config";
import type { BenchContext } from "./context";
import { insertSession } from "./data";
import type { BenchSettings } from "./settings";
import { startWorker, type WorkerProcess } from "./worker-process";

export type SystemName = "session-gate" | "session-gate-cached" | "lucia" | "better-auth";

export interface TestSession {
  token: string;
  /** What the system's row is found by in SQL: session-gate's id, the peers' token. */
  key: string;
}

export interface SessionRow {
  /** Not ended (a peer deletes an ended session: its row is then gone). */
  live: boolean;
  /** Touched or refreshed within the last minute. */
  refreshed: boolean;
  /** The row version: changes with every write. */
  xmin: string;
}

export interface System {
  name: SystemName;
  worker: WorkerProcess;
  validatePath: string;
  /** In the Worker's DATABASE_URL, so the stand-in counts its requests apart. */
  applicationName: string;
  /** Qualified table and key column, for the write counter (bench/row-writes.ts). */
  table: { name: string; key: string };
  newSession(): Promise<TestSession>;
  /** The next check must touch (session-gate) or refresh (peers) it. */
  makeDue(session: TestSession): Promise<void>;
  /** Past its idle limit. */
  makeExpired(session: TestSession): Promise<void>;
  /** Ended directly in the database, as the system's own revoke would end it. */
  revoke(session: TestSession): Promise<void>;
  /** The row, or null when it is gone. */
  row(session: TestSession): Promise<SessionRow | null>;
}

/** How each system is configured against session-gate's policy, what it cannot express, what it guarantees by design. */
export interface SystemDescription {
  label: string;
  configuration: string;
  idle: string;
  absolute: string;
  writes: string;
  cannotExpress: string[];
  /** By design, read from the code (the measured guarantees are in the results). */
  hashAtRest: string;
  absoluteTimeout: string;
  databaseClock: string;
  /** What its answer with the database down rests on, when that is not the system's own doing. */
  failureNote?: string;
}

const versionOf = (name: string) =>
  (
    JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;

export function describeSystems(settings: { cacheSeconds: number }): Record<SystemName, SystemDescription> {
  const gate = {
    idle: "30 min after the last touch, by PostgreSQL's now(): a session ends 29-30 min after its last check",
    absolute: "8 h from issue (absolute_expires_at, checked in the same statement)",
    writes:
      "a touch at most once per 60 s, re-checked on the row's latest version: one write per interval even under concurrency",
    hashAtRest: "yes: SHA-256 of the token",
    absoluteTimeout: "yes, in the check statement",
    databaseClock: "yes: now() in the statement",
  };
  return {
    "session-gate": {
      label: "session-gate",
      configuration:
        "the bench build (src/app.ts, its log line per check), IDLE_TIMEOUT_MINUTES=30, TOUCH_INTERVAL_SECONDS=60, VALIDATION_TIMEOUT_MS=2000, VALID_CACHE_SECONDS=0",
      ...gate,
      cannotExpress: [],
    },
    "session-gate-cached": {
      label: `session-gate, VALID_CACHE_SECONDS=${settings.cacheSeconds}`,
      configuration: `as session-gate, with VALID_CACHE_SECONDS=${settings.cacheSeconds}: valid answers remembered in the isolate`,
      ...gate,
      cannotExpress: [
        `a session ended elsewhere (the application, another isolate, the database) can pass for up to ${settings.cacheSeconds} s`,
      ],
    },
    lucia: {
      label: `Lucia ${versionOf("lucia")}`,
      configuration: `lucia ${versionOf("lucia")} with @lucia-auth/adapter-drizzle ${versionOf("@lucia-auth/adapter-drizzle")} over drizzle-orm/neon-http; sessionExpiresIn 30 min; absolute lifetime as a session attribute checked by the app`,
      idle: "sessionExpiresIn 30 min, refreshed only when less than half is left: a session ends 15-30 min after its last check",
      absolute:
        "none in Lucia: the peer stores absolute_expires_at as a session attribute and ends the session in app code after validateSession (+1 statement)",
      writes:
        "a refresh at most once per 15 min (half the lifetime, not configurable); the UPDATE is unconditional, so concurrent checks all write",
      cannotExpress: [
        "an idle timeout of exactly 30 min: 15-30 min after the last check (or 30-60 with sessionExpiresIn 60)",
        "a touch interval: fixed at half the lifetime",
        "an absolute lifetime (app code here, with a session attribute, as the maintainer advised in lucia-auth/lucia#1038)",
        "expiry on the database's clock: decided and written with the Worker's Date.now()",
        "a hashed token: the token is the session id, stored as it is",
        "one write per refresh under concurrency: each concurrent check that finds a refresh due writes",
        "an ended session on record: expired and invalidated sessions are deleted, with no reason",
        "a request deadline or a 503: the bench adds a 2 s deadline; a failure is an exception (500)",
      ],
      hashAtRest: "no: the token is the primary key",
      absoluteTimeout: "no: app code in this peer",
      databaseClock: "no: Worker clock",
      failureNote:
        "a 500 from the app's error handler, as Hono's default answers; within 2 s only because the bench adds a deadline, which the library lacks",
    },
    "better-auth": {
      label: `Better Auth ${versionOf("better-auth")}`,
      configuration: `better-auth ${versionOf("better-auth")}, drizzle adapter over drizzle-orm/neon-http, bearer plugin, advanced.database.joins; session.expiresIn 1800 s, updateAge 60 s, cookieCache off, rateLimit off; absolute lifetime checked by the app`,
      idle: "expiresIn 1800 s, refreshed when 60 s (updateAge) have passed since the last refresh: a session ends 29-30 min after its last check",
      absolute:
        "none in Better Auth 1.7: the peer compares created_at + 8 h in app code and deletes the session (+1 statement)",
      writes:
        "a refresh at most once per 60 s per check that sees it due; the UPDATE is unconditional, so concurrent checks all write",
      cannotExpress: [
        "an absolute lifetime (app code here; an open feature request: better-auth/better-auth#10405)",
        "expiry on the database's clock: decided and written with the Worker's clock",
        "a hashed token: session.token is stored as it is (only verification values can be hashed)",
        "one write per refresh under concurrency: each concurrent check that finds a refresh due writes",
        "an ended session on record: expired sessions are deleted, with no reason",
        "a request deadline or a 503: the bench adds a 2 s deadline; a failure is an APIError (500)",
      ],
      hashAtRest: "no: session.token in plaintext",
      absoluteTimeout: "no: app code in this peer",
      databaseClock: "no: Worker clock",
      failureNote:
        "a 500 from the app's error handler, as Hono's default answers; within 2 s only because the bench adds a deadline, which the library lacks",
    },
  };
}

/** Whether this build of session-gate has the opt-in cache (VALID_CACHE_SECONDS). */
export function hasValidCache(): boolean {
  return (WORKER_VARIABLES as string[]).includes("VALID_CACHE_SECONDS");
}

const peersDir = fileURLToPath(new URL("peers/", import.meta.url));

/** Each peer's tables, in its own schema, as its schema.sql creates them. */
export async function createPeerSchemas(client: pg.Client): Promise<void> {
  for (const peer of ["lucia", "better-auth"]) {
    await client.query(readFileSync(path.join(peersDir, peer, "schema.sql"), "utf8"));
  }
}

async function issueThroughApi(worker: WorkerProcess): Promise<TestSession> {
  const response = await fetch(`${worker.url}/issue`, { method: "POST" });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /issue answered ${response.status}: ${text.slice(0, 200)}`);
  const { token } = JSON.parse(text) as { token: string };
  return { token, key: token };
}

async function rowOf(client: pg.Pool, query: string, key: string): Promise<SessionRow | null> {
  const result = await client.query<SessionRow>(query, [key]);
  return result.rows[0] ?? null;
}

export function workerLogFile(name: string): string {
  return path.join(os.tmpdir(), `session-gate-bench-${name}-${process.pid}.log`);
}

/** session-gate's variables in the bench, but for its DATABASE_URL (and the cache, which is off unless set). */
export function sessionGateVars(settings: BenchSettings): Record<string, string> {
  return {
    NEON_LOCAL_HTTP: "true",
    TOUCH_INTERVAL_SECONDS: String(settings.touchIntervalSeconds),
    IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
    VALIDATION_TIMEOUT_MS: String(settings.requestTimeoutMs),
  };
}

/**
 * Starts the Workers, one after the other (each finds its own workerd process), and stops those
 * it started if one fails. The cached variant only when the Worker has VALID_CACHE_SECONDS.
 */
export async function startSystems(
  ctx: Omit<BenchContext, "worker" | "client">,
  database: { name: string; url: string },
): Promise<{ systems: System[]; stop: () => Promise<void> }> {
  const { settings, standIn } = ctx;
  const running = standIn.current;
  if (running === undefined) throw new Error("the stand-in is not running");
  const url = (applicationName: string) => running.databaseUrl(database.name, { applicationName });
  const cache = hasValidCache();
  const started: WorkerProcess[] = [];
  // The systems' own SQL (making, ageing, revoking and reading sessions) on connections of its own:
  // the revocation phase runs it for every system at once, which one pg.Client would have to queue.
  const client = new pg.Pool({ connectionString: database.url, max: 4 });
  let stopped = false;
  const stop = async () => {
    for (const worker of started.reverse()) await worker.stop();
    started.length = 0;
    if (!stopped) {
      stopped = true;
      await client.end();
    }
  };

  const gateVars = sessionGateVars(settings);
  const gate = (name: SystemName, worker: WorkerProcess): System => ({
    name,
    worker,
    validatePath: "/v1/validate",
    applicationName: name,
    table: { name: "public.sessions", key: "id" },
    async newSession() {
      const token = randomBytes(32).toString("base64url");
      return { token, key: await insertSession(client, { token, idleSeconds: 0, absoluteInSeconds: 8 * 3600 }) };
    },
    async makeDue(s) {
      await client.query("update sessions set last_activity_at = now() - make_interval(secs => $2) where id = $1", [
        s.key,
        settings.touchIntervalSeconds * 2,
      ]);
    },
    async makeExpired(s) {
      await client.query("update sessions set last_activity_at = now() - make_interval(mins => $2) where id = $1", [
        s.key,
        settings.idleTimeoutMinutes + 10,
      ]);
    },
    async revoke(s) {
      // What session-gate's own end writes (src/db/session-lifecycle.ts), as the application would.
      await client.query(
        "update sessions set is_active = false, revoked_at = now(), ended_at = now(), revoke_reason = 'logout' where id = $1",
        [s.key],
      );
    },
    row: (s) =>
      rowOf(
        client,
        "select is_active as live, last_activity_at > now() - interval '1 minute' as refreshed, xmin::text as xmin from sessions where id = $1",
        s.key,
      ),
  });

  try {
    ctx.log("bench: bundling and starting the Workers");
    started.push(
      await startWorker({
        logFile: workerLogFile("session-gate"),
        vars: { ...gateVars, DATABASE_URL: url("session-gate"), ...(cache ? { VALID_CACHE_SECONDS: "0" } : {}) },
      }),
    );
    const systems: System[] = [gate("session-gate", started[0] as WorkerProcess)];
    if (cache) {
      const worker = await startWorker({
        logFile: workerLogFile("session-gate-cached"),
        vars: {
          ...gateVars,
          DATABASE_URL: url("session-gate-cached"),
          VALID_CACHE_SECONDS: String(settings.cacheSeconds),
        },
      });
      started.push(worker);
      systems.push(gate("session-gate-cached", worker));
    } else {
      ctx.log(
        "bench: SKIPPED the VALID_CACHE_SECONDS phases: this build of session-gate has no such variable (src/config.ts)",
      );
    }

    const peerVars = {
      NEON_LOCAL_HTTP: "true",
      REQUEST_TIMEOUT_MS: String(settings.requestTimeoutMs),
      ABSOLUTE_TIMEOUT_HOURS: "8",
    };
    const lucia = await startWorker({
      config: "bench/peers/lucia/wrangler.toml",
      logFile: workerLogFile("lucia"),
      vars: { ...peerVars, DATABASE_URL: url("lucia"), SESSION_EXPIRES_MINUTES: String(settings.idleTimeoutMinutes) },
    });
    started.push(lucia);
    systems.push({
      name: "lucia",
      worker: lucia,
      validatePath: "/validate",
      applicationName: "lucia",
      table: { name: "lucia.session", key: "id" },
      newSession: () => issueThroughApi(lucia),
      async makeDue(s) {
        // Lucia refreshes when less than half of sessionExpiresIn is left.
        await client.query("update lucia.session set expires_at = now() + interval '10 minutes' where id = $1", [
          s.key,
        ]);
      },
      async makeExpired(s) {
        await client.query("update lucia.session set expires_at = now() - interval '1 minute' where id = $1", [s.key]);
      },
      async revoke(s) {
        // lucia.invalidateSession deletes the row.
        await client.query("delete from lucia.session where id = $1", [s.key]);
      },
      row: (s) =>
        rowOf(
          client,
          "select true as live, expires_at > now() + interval '29 minutes' as refreshed, xmin::text as xmin from lucia.session where id = $1",
          s.key,
        ),
    });

    const betterAuth = await startWorker({
      config: "bench/peers/better-auth/wrangler.toml",
      logFile: workerLogFile("better-auth"),
      vars: {
        ...peerVars,
        DATABASE_URL: url("better-auth"),
        BETTER_AUTH_SECRET: randomBytes(32).toString("base64url"),
        SESSION_EXPIRES_IN_SECONDS: String(settings.idleTimeoutMinutes * 60),
        SESSION_UPDATE_AGE_SECONDS: String(settings.touchIntervalSeconds),
      },
    });
    started.push(betterAuth);
    systems.push({
      name: "better-auth",
      worker: betterAuth,
      validatePath: "/validate",
      applicationName: "better-auth",
      table: { name: "better_auth.session", key: "token" },
      newSession: () => issueThroughApi(betterAuth),
      async makeDue(s) {
        // Refreshed once updateAge has passed since the last refresh (expires_at - expiresIn).
        await client.query(
          "update better_auth.session set expires_at = now() + interval '25 minutes' where token = $1",
          [s.key],
        );
      },
      async makeExpired(s) {
        await client.query("update better_auth.session set expires_at = now() - interval '1 minute' where token = $1", [
          s.key,
        ]);
      },
      async revoke(s) {
        // Better Auth's revokeSession deletes the row.
        await client.query("delete from better_auth.session where token = $1", [s.key]);
      },
      row: (s) =>
        rowOf(
          client,
          "select true as live, expires_at > now() + interval '29 minutes' as refreshed, xmin::text as xmin from better_auth.session where token = $1",
          s.key,
        ),
    });
    return { systems, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Rows in each peer's table up to `rows`, so that every system's check looks up an index of the
 * same size as session-gate's: live sessions of their own users, shaped as each library writes
 * them, inserted with SQL (only the sessions the bench checks are made through the peers' APIs).
 */
export async function fillPeerTables(client: pg.Client, rows: number): Promise<void> {
  const id = (seed: string) => `substr(md5('${seed}' || i) || md5('${seed}x' || i), 1, 40)`;
  const count = async (table: string) =>
    Number((await client.query<{ n: string }>(`select count(*)::text as n from ${table}`)).rows[0]?.n ?? 0);
  // Rows numbered on from the table's count, so that a second call adds rows of new numbers.
  const lucia = await count("lucia.session");
  if (lucia < rows) {
    await client.query(
      `insert into lucia."user" (id, username) select ${id("lu")}, 'filler-' || i from generate_series($1::int, $2::int) i`,
      [lucia + 1, rows],
    );
    await client.query(
      `insert into lucia.session (id, user_id, expires_at, absolute_expires_at)
       select ${id("ls")}, ${id("lu")}, now() + interval '30 minutes', now() + interval '8 hours'
       from generate_series($1::int, $2::int) i`,
      [lucia + 1, rows],
    );
  }
  const betterAuth = await count("better_auth.session");
  if (betterAuth < rows) {
    await client.query(
      `insert into better_auth."user" (id, name, email, email_verified)
       select ${id("bu")}, 'filler', 'filler-' || i || '@example.test', true from generate_series($1::int, $2::int) i`,
      [betterAuth + 1, rows],
    );
    await client.query(
      `insert into better_auth.session (id, token, user_id, expires_at, ip_address, user_agent)
       select ${id("bs")}, substr(${id("bt")}, 1, 32), ${id("bu")}, now() + interval '30 minutes', '', ''
       from generate_series($1::int, $2::int) i`,
      [betterAuth + 1, rows],
    );
  }
  await client.query("vacuum analyze lucia.session, lucia.user, better_auth.session, better_auth.user");
}
