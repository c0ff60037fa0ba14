/**
 * What the stand-in needs from a database: run a request as a role on a database, read a role's
 * password secret, apply migrations, close. Two implementations: a PostgreSQL server through `pg`
 * (pg-backend.ts) and PGlite embedded in this process (pglite-backend.ts).
 */
import type { BatchOptions } from "./transaction-modes";

/**
 * One statement's result as Neon's HTTP endpoint sends it with raw text output and array mode,
 * its keys in Neon's order (the response limit counts the bytes in that order).
 */
export interface QueryResultWire {
  fields: FieldWire[];
  rows: (string | null)[][];
  command: string;
  rowCount: number | null;
  rowAsArray: true;
}

export interface FieldWire {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

export interface SqlQuery {
  query: string;
  /** Already Postgres text, or null for NULL. */
  params: (string | null)[];
}

export type SqlRequest =
  | { kind: "single"; query: SqlQuery }
  | { kind: "batch"; queries: SqlQuery[]; options: BatchOptions };

export interface RequestContext {
  /** The role and database of the request's connection string, its password already checked. */
  user: string;
  database: string;
  /** Aborted when the client goes away before its answer is sent: the request is cancelled. */
  signal: AbortSignal;
  /** Called with each statement's result as it arrives; throws (507) to fail the request. */
  onResult(result: QueryResultWire): void;
}

export interface Backend {
  kind: "pg" | "pglite";
  /** Human description for logs; never contains a password. */
  description: string;
  /** The role and database the backend was opened as: the stand-in's admin and default database. */
  admin: { user: string; database: string };
  /** pg_authid.rolpassword of a role (its SCRAM secret), or null when it has none or does not exist. */
  readPasswordSecret(user: string): Promise<string | null>;
  /**
   * Runs a request as `context.user` on `context.database`; a batch in one transaction that any
   * error rolls back. Its connection is reset afterwards, so no session state reaches the next.
   */
  execute(request: SqlRequest, context: RequestContext): Promise<QueryResultWire | QueryResultWire[]>;
  /** One statement as the admin on the backend's own database: set-up and tests, not the HTTP path. */
  query(text: string, params: (string | null)[]): Promise<QueryResultWire>;
  /** Applies drizzle-kit migrations with drizzle-orm's own migrator for this client. */
  migrate(migrationsFolder: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What Neon's connection pool runs on a connection after every request before another may use it
 * (libs/proxy/tokio-postgres2/src/client.rs, `reset_session_background`), in the simple protocol:
 * an open transaction, settings, prepared statements, cursors, listens, advisory locks, temp
 * tables and sequence state never outlive the request.
 */
export const SESSION_RESET_SQL = `ROLLBACK;
CLOSE ALL;
SET SESSION AUTHORIZATION DEFAULT;
RESET ALL;
DEALLOCATE ALL;
UNLISTEN *;
SELECT pg_advisory_unlock_all();
DISCARD TEMP;
DISCARD SEQUENCES;`;

/** The context of the admin's own statements (`Backend.query`): nothing to cancel, no limit. */
export function adminContext(admin: Backend["admin"]): RequestContext {
  return { ...admin, signal: new AbortController().signal, onResult: () => undefined };
}
