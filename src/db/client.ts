import { type NeonQueryFunction, neon, neonConfig } from "@neondatabase/serverless";
import { fillPlaceholders, type SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Config } from "../config";
import { DatabaseError } from "./database-error";
import { installResponseLimit, RESPONSE_LIMIT_BYTES, RESPONSE_LIMIT_OPTION } from "./response-limit";

export { DatabaseError } from "./database-error";

/**
 * What a request (or a job run) queries through: the driver's query function, and the deadline its
 * statements share. Statements are drizzle's `sql` templates, rendered by drizzle's PostgreSQL
 * dialect and run on the driver (`queryRows`, `queryPrepared`).
 */
export interface Db {
  $client: NeonQueryFunction<false, false>;
  /** The handle's `timeoutMs`, when it has one: every statement's answer must be in by then. */
  deadline?: AbortSignal;
  /** Clears the deadline's timer once the handle's work is done (see `deadline()`). */
  release(): void;
}

/**
 * A signal that aborts after `ms` as `AbortSignal.timeout` does (a "TimeoutError"), but whose timer
 * can be cleared. workerd counts the live timers of a request and refuses the 10,001st; an
 * `AbortSignal.timeout` lives its full length even when the statement answered in 3 ms, so a
 * context that checks many sessions (a test, a consumer looping over a binding) ran out of them.
 */
export function deadline(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/**
 * A handle to the database over Neon's HTTP endpoint: one fetch per statement, no connection
 * set-up. `timeoutMs` aborts a statement the database does not answer in time; an answer longer
 * than Neon ever sends fails (src/db/response-limit.ts).
 */
export function createDb(config: Config, options: { timeoutMs?: number } = {}): Db {
  const $client = clientFor(config);
  if (options.timeoutMs === undefined) return { $client, release: () => undefined };
  const timer = deadline(options.timeoutMs);
  return { $client, deadline: timer.signal, release: timer.clear };
}

// The driver's query function holds no connection and no I/O object, only the connection string
// and options, so one per isolate and configuration serves every request; the deadline, which is
// the request's own, travels with each statement (`withDeadline`). Building it, and a drizzle
// instance around it, on every request cost about 0.05 ms of CPU per check.
const clients = new WeakMap<Config, NeonQueryFunction<false, false>>();

function clientFor(config: Config): NeonQueryFunction<false, false> {
  let client = clients.get(config);
  if (client === undefined) {
    if (config.neonLocalHttp) {
      // Development only: the local stand-in listens where DATABASE_URL's host and port say, over
      // plain HTTP. Config allows this only for loopback hosts. Production keeps the driver's default.
      neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
    }
    installResponseLimit();
    client = neon(config.databaseUrl.url, { fetchOptions: { [RESPONSE_LIMIT_OPTION]: RESPONSE_LIMIT_BYTES } });
    clients.set(config, client);
  }
  return client;
}

/** The per-statement options that carry the handle's deadline (merged by the driver into its fetch options). */
function withDeadline(db: Db) {
  return db.deadline === undefined ? {} : { fetchOptions: { signal: db.deadline } };
}

/**
 * How long past its `statement_timeout` the answer to a statement may take: the database cancels
 * the statement then, and says so at once, so an answer later than this is the wire's fault (a
 * stalled connection, a body that drips) and the statement fails without waiting for it.
 */
export const STATEMENT_ANSWER_MARGIN_MS = 1000;

/**
 * Runs one statement and returns its rows, translating any failure into a `DatabaseError`. With
 * `statementTimeoutMs`, the database itself cancels the statement when it runs longer (Neon
 * ignores connection-string settings, so the limit travels with the statement: both go in one
 * non-interactive transaction, still one round trip).
 */
export async function queryRows<Row extends object>(
  db: Db,
  query: SQL,
  options: { statementTimeoutMs?: number } = {},
): Promise<Row[]> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  try {
    if (options.statementTimeoutMs === undefined) {
      return (await db.$client.query(text, params, { fullResults: true, ...withDeadline(db) })).rows as Row[];
    }
    const answerBy = deadline(options.statementTimeoutMs + STATEMENT_ANSWER_MARGIN_MS);
    const [, result] = await db.$client
      .transaction(
        [
          db.$client.query("select set_config('statement_timeout', $1, true)", [String(options.statementTimeoutMs)]),
          db.$client.query(text, params),
        ],
        {
          fullResults: true,
          fetchOptions: { signal: db.deadline ? AbortSignal.any([db.deadline, answerBy.signal]) : answerBy.signal },
        },
      )
      .finally(answerBy.clear);
    return (result?.rows ?? []) as Row[];
  } catch (error) {
    throw toDatabaseError(error);
  }
}

/** A statement rendered to text once, with `sql.placeholder(...)` values filled in per call. */
export interface PreparedStatement {
  text: string;
  params: unknown[];
}

const dialect = new PgDialect();

/** Renders a query once, for a hot path that would otherwise rebuild the same text per request. */
export function prepareStatement(query: SQL): PreparedStatement {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return { text, params };
}

/** Runs a prepared statement with its placeholders filled, translating failures like `queryRows`. */
export async function queryPrepared<Row extends object>(
  db: Db,
  statement: PreparedStatement,
  values: Record<string, unknown>,
): Promise<Row[]> {
  try {
    const result = await db.$client.query(statement.text, fillPlaceholders(statement.params, values), {
      fullResults: true,
      ...withDeadline(db),
    });
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
