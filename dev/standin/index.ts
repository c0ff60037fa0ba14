import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Backend } from "./backend";
import { createStandInServer, type RequestStats } from "./server";

export type { Backend, QueryResultWire } from "./backend";

export interface StandIn {
  /** e.g. "http://127.0.0.1:4444" (no trailing slash); the SQL endpoint is `${url}/sql` */
  url: string;
  port: number;
  /** The password every request's connection string must carry: random per run unless given. */
  secret: string;
  backend: Backend;
  /**
   * The connection string a client of this stand-in uses, password included (so never print it):
   * `postgres://postgres:<secret>@127.0.0.1:<port>/<database>`.
   */
  databaseUrl(database?: string, options?: { applicationName?: string }): string;
  /** Requests to /sql so far: total, and per application_name in the Neon-Connection-String. */
  stats(): RequestStats;
  /** Stops the HTTP server and closes the backend. */
  close(): Promise<void>;
}

/**
 * Starts a local stand-in for Neon's SQL-over-HTTP endpoint, so that the genuine
 * `@neondatabase/serverless` driver runs against a PostgreSQL server (`databaseUrl`) or, without
 * one, an in-memory PGlite. Listens on 127.0.0.1 only: it runs any SQL it is sent, unauthenticated.
 *
 * @example
 * const standIn = await startStandIn({ port: 0 });
 * neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
 * const sql = neon(standIn.databaseUrl("app"));
 * await sql`select 1`;
 * await standIn.close();
 */
export async function startStandIn(options: {
  databaseUrl?: string;
  /** 0 picks any free port. */
  port?: number;
  log?: (line: string) => void;
  /** Default: 24 random bytes, base64url. */
  secret?: string;
}): Promise<StandIn> {
  const log = options.log ?? (() => undefined);
  const secret = options.secret ?? randomBytes(24).toString("base64url");
  const backend = await openBackend(options.databaseUrl, { log });
  const { server, stats } = createStandInServer(backend, log, { secret });
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
    backend,
    databaseUrl(database = "postgres", urlOptions = {}) {
      const url = new URL(`postgres://postgres@127.0.0.1:${port}/${database}`);
      url.password = secret;
      if (urlOptions.applicationName !== undefined)
        url.searchParams.set("application_name", urlOptions.applicationName);
      return url.toString();
    },
    stats,
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
  return openPgliteBackend();
}
