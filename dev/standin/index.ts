import type { AddressInfo } from "node:net";
import { type Backend, openBackend } from "./backend";
import { createStandInServer, type RequestStats } from "./server";

export type { Backend, QueryResultWire } from "./backend";

export interface StandIn {
  /** e.g. "http://127.0.0.1:4444" (no trailing slash); the SQL endpoint is `${url}/sql` */
  url: string;
  port: number;
  backend: Backend;
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
 * const sql = neon(`postgres://postgres@127.0.0.1:${standIn.port}/app`);
 * await sql`select 1`;
 * await standIn.close();
 */
export async function startStandIn(options: {
  databaseUrl?: string;
  /** 0 picks any free port. */
  port?: number;
  log?: (line: string) => void;
}): Promise<StandIn> {
  const log = options.log ?? (() => undefined);
  const backend = await openBackend(options.databaseUrl, { log });
  const { server, stats } = createStandInServer(backend, log);
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
    backend,
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
