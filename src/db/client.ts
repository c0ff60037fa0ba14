import { neon, neonConfig } from "@neondatabase/serverless";
import type { SQL } from "drizzle-orm";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import type { Config } from "../config";

export type Db = NeonHttpDatabase;

/**
 * A database failure with only what is safe to log: drizzle's own error message carries the
 * statement's parameters (token hashes among them), and Postgres' `detail` can quote key values.
 */
export class DatabaseError extends Error {
  override name = "DatabaseError";
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Opens a handle to the database over Neon's HTTP endpoint: one fetch per statement, no
 * connection set-up. `timeoutMs` aborts a statement the database does not answer in time.
 */
export function createDb(config: Config, options: { timeoutMs?: number } = {}): Db {
  if (config.neonLocalHttp) {
    // Development only: the local stand-in listens where DATABASE_URL's host and port say, over
    // plain HTTP. Config allows this only for loopback hosts. Production keeps the driver's default.
    neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
  }
  const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  return drizzle({
    client: neon(config.databaseUrl, signal ? { fetchOptions: { signal } } : {}),
  });
}

/** Runs one statement and returns its rows, translating any failure into a `DatabaseError`. */
export async function queryRows<Row extends object>(db: Db, query: SQL): Promise<Row[]> {
  try {
    const result = await db.execute(query);
    return result.rows as Row[];
  } catch (error) {
    throw toDatabaseError(error);
  }
}

function toDatabaseError(error: unknown): DatabaseError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const fields = (cause ?? {}) as {
    message?: string;
    code?: string;
    constraint?: string;
  };
  const message = typeof fields.message === "string" ? fields.message : "database request failed";
  return new DatabaseError(message, fields.code, fields.constraint);
}
