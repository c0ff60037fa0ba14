import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Backend } from "./backend";
import { createStandInServer, type RequestStats } from "./server";

export type { Backend, QueryResultWire } from "./backend";
export type { RequestStats } from "./server";

export interface StandIn {
  /** e.g. "http://127.0.0.1:4444" (no trailing slash); the SQL endpoint is `${url}/sql` */
  url: string;
  port: number;
  /** The admin's password in every connection string: random per run unless given. */
  secret: string;
  /** The admin role: DATABASE_URL's user, or `postgres` on PGlite. */
  user: string;
  /** The backend's own database: DATABASE_URL's, or `postgres` on PGlite (which answers to any name). */
  database: string;
  backend: Backend;
  /**
   * The connection string a client of this stand-in uses, password included (so never print it):
   * `postgres://<user>:<password>@127.0.0.1:<port>/<database>`. By default the admin with the
   * stand-in's secret on the backend's own database; `user` and `password` name another role (its
   * Postgres password, checked against pg_authid as Neon does). On the pg backend a database that
   * does not exist on the server is refused, as on Neon.
   */
  databaseUrl(database?: string, options?: DatabaseUrlOptions): string;
  /** Requests to /sql so far: total, per application_name in the Neon-Connection-String, password lookups. */
  stats(): RequestStats;
  /** The bench's: holds every /sql request that arrives from now on `delayMs` (0: none), like startStandIn's option. */
  holdFor(delayMs: number): void;
  /** Stops the HTTP server and closes the backend. */
  close(): Promise<void>;
}

export interface DatabaseUrlOptions {
  applicationName?: string;
  /** Default: the admin role. */
  user?: string;
  /** Default: the stand-in's secret for the admin role, none for another role. */
  password?: string;
}

/** Neon's limit on a request's body and on a response, 10 MiB each (proxy/src/binary/proxy.rs). */
const NEON_SIZE_LIMIT_BYTES = 10 * 1024 * 1024;

/**
 * Starts a local stand-in for Neon's SQL-over-HTTP endpoint, so that the genuine
 * `@neondatabase/serverless` driver runs against a PostgreSQL server (`databaseUrl`) or, without
 * one, an in-memory PGlite, with the answers Neon's proxy gives (docs/neon-contract.md). Listens
 * on 127.0.0.1 only: whoever has a role's password may run any SQL that role may.
 *
 * @example
 * const standIn = await startStandIn({ port: 0 });
 * neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
 * const sql = neon(standIn.databaseUrl());
 * await sql`select 1`;
 * await standIn.close();
 */
export async function startStandIn(options: {
  databaseUrl?: string;
  /** 0 picks any free port. */
  port?: number;
  log?: (line: string) => void;
  /** The admin's password. Default: 24 random bytes, base64url. */
  secret?: string;
  /** Largest request body accepted (413 beyond). Default: Neon's 10485760. */
  maxRequestBytes?: number;
  /** Largest response built before a row is refused (507 beyond). Default: Neon's 10485760. */
  maxResponseBytes?: number;
  /**
   * Not Neon's behaviour, a bench tool: holds each /sql request this many milliseconds (after it
   * is authenticated and counted, before it runs), as a network delay between the Worker and the
   * database would. A client that disconnects meanwhile cancels it, and no SQL runs. Default 0.
   */
  delayMs?: number;
}): Promise<StandIn> {
  for (const limit of ["maxRequestBytes", "maxResponseBytes"] as const) {
    const value = options[limit];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new Error(`startStandIn: ${limit} must be a whole number of bytes, got ${value}`);
    }
  }
  const delayMs = options.delayMs ?? 0;
  assertDelay("startStandIn", delayMs);
  const log = options.log ?? (() => undefined);
  const secret = options.secret ?? randomBytes(24).toString("base64url");
  const backend = await openBackend(options.databaseUrl, { log });
  // Read by the server on every request, so holdFor() changes what the next one is held.
  const serverOptions = {
    secret,
    maxRequestBytes: options.maxRequestBytes ?? NEON_SIZE_LIMIT_BYTES,
    maxResponseBytes: options.maxResponseBytes ?? NEON_SIZE_LIMIT_BYTES,
    delayMs,
  };
  const { server, stats } = createStandInServer(backend, log, serverOptions);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    // Port taken, say: the backend was opened for nothing and must not keep the process alive.
    await backend.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    secret,
    user: backend.admin.user,
    database: backend.admin.database,
    backend,
    databaseUrl(database = backend.admin.database, urlOptions = {}) {
      const user = urlOptions.user ?? backend.admin.user;
      const url = new URL(`postgres://127.0.0.1:${port}`);
      url.username = user;
      url.password = urlOptions.password ?? (user === backend.admin.user ? secret : "");
      url.pathname = `/${encodeURIComponent(database)}`;
      if (urlOptions.applicationName !== undefined) {
        url.searchParams.set("application_name", urlOptions.applicationName);
      }
      return url.toString();
    },
    stats,
    holdFor(ms) {
      assertDelay("holdFor", ms);
      serverOptions.delayMs = ms;
    },
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from fetch would otherwise hold close() open for seconds.
        server.closeIdleConnections();
      });
      await backend.close();
    },
  };
}

function assertDelay(caller: string, delayMs: number): void {
  if (!(Number.isSafeInteger(delayMs) && delayMs >= 0)) {
    throw new Error(`${caller}: delayMs must be a whole number of milliseconds, got ${delayMs}`);
  }
}

/**
 * Opens the backend the stand-in serves: the PostgreSQL server named by `databaseUrl`, or an
 * in-memory PGlite when there is none (no server needed, but 2-3 s to start and ~700 MB).
 */
async function openBackend(databaseUrl?: string, options: { log?: (line: string) => void } = {}): Promise<Backend> {
  // Imported lazily so that serving one backend never loads the other's driver (PGlite is large).
  if (databaseUrl) {
    const { openPgBackend } = await import("./pg-backend");
    return openPgBackend(databaseUrl, options);
  }
  const { openPgliteBackend } = await import("./pglite-backend");
  return openPgliteBackend(options);
}
