import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type pg from "pg";
import { redactPassword } from "../redact-password";
import {
  adminContext,
  type Backend,
  type QueryResultWire,
  type RequestContext,
  SESSION_RESET_SQL,
  type SqlQuery,
  type SqlRequest,
} from "./backend";
import { cancelled, connectionClosed, couldNotConnect, isPostgresError, proxyError } from "./neon-error";
import { createPgPools, type PgPools } from "./pg-pools";
import { startTransactionSql } from "./transaction-modes";

// Neon's endpoint hands every value back as Postgres text; the driver parses it by dataTypeID.
const rawTextTypes: pg.CustomTypesConfig = {
  getTypeParser: (() => (value: string) => value) as pg.CustomTypesConfig["getTypeParser"],
};

/** A backend over a PostgreSQL server: requests run concurrently, each on a connection of its own role. */
export function openPgBackend(databaseUrl: string, options: { log?: (line: string) => void } = {}): Backend {
  const log = options.log ?? (() => undefined);
  const pools = createPgPools(databaseUrl, log);
  // Resets still running: closing waits for them, so no client is ended in the middle of one.
  const resets = new Set<Promise<void>>();

  return {
    kind: "pg",
    description: `PostgreSQL server ${redactPassword(databaseUrl)}`,
    admin: pools.admin,
    readPasswordSecret: (user) => readPasswordSecret(pools.control, user),
    execute: (request, context) => execute(pools, request, context, resets, log),
    async query(text, params) {
      const request: SqlRequest = { kind: "single", query: { query: text, params } };
      return (await execute(pools, request, adminContext(pools.admin), resets, log)) as QueryResultWire;
    },
    async migrate(migrationsFolder) {
      await migrate(drizzle(pools.adminPool), { migrationsFolder });
    },
    async close() {
      await Promise.all(resets);
      await pools.end();
    },
  };
}

async function readPasswordSecret(control: pg.Pool, user: string): Promise<string | null> {
  try {
    const { rows } = await control.query<{ rolpassword: string | null }>(
      "select rolpassword from pg_authid where rolname = $1",
      [user],
    );
    return rows[0]?.rolpassword ?? null;
  } catch (error) {
    if (!isPostgresError(error)) throw couldNotConnect(error);
    // pg_authid is readable by superusers only.
    throw proxyError(500, `stand-in: cannot read the password of role '${user}': ${String(error.message)}`, {
      cause: error,
    });
  }
}

/**
 * Runs a request on a client of its own role, then resets the client as Neon does, after the
 * answer is on its way (Neon's `reset_session_background`): the client goes back to the pool only
 * once it is clean. A client that cannot be reset, or whose request was cancelled, is destroyed.
 */
async function execute(
  pools: PgPools,
  request: SqlRequest,
  context: RequestContext,
  resets: Set<Promise<void>>,
  log: (line: string) => void,
): Promise<QueryResultWire | QueryResultWire[]> {
  const client = await pools.connect(context.user, context.database);
  let discard: Error | undefined;
  // A checked-out client whose connection drops emits 'error' besides failing its query; unheard,
  // that would end the process.
  const onConnectionError = (error: Error) => {
    discard ??= error;
  };
  client.on("error", onConnectionError);
  // The client went away: Neon sends Postgres a CancelRequest, so the statement stops and a
  // batch, its connection closed, rolls back, where running on would commit after nobody waits.
  const cancel = () => {
    discard = new Error("request cancelled");
    const pid = (client as pg.PoolClient & { processID: number }).processID;
    pools.control
      .query("select pg_cancel_backend($1)", [pid])
      .catch((error: Error) => log(`stand-in: could not cancel backend ${pid}: ${error.message}`));
  };

  async function resetAndRelease() {
    // ROLLBACK comes first in the reset: it ends a batch that failed, and a lone BEGIN.
    discard ??= await client.query(SESSION_RESET_SQL).then(
      () => undefined,
      (error: Error) => {
        log(`stand-in: could not reset a connection of ${context.user}, discarding it: ${error.message}`);
        return error;
      },
    );
    // A discarded client keeps the listener: it may still report its connection's end.
    if (discard === undefined) client.off("error", onConnectionError);
    client.release(discard);
  }

  context.signal.addEventListener("abort", cancel, { once: true });
  try {
    if (context.signal.aborted) throw cancelled();
    return request.kind === "single"
      ? await runStatement(client, request.query, context)
      : await runBatch(client, request, context);
  } catch (error) {
    throw context.signal.aborted ? cancelled() : error;
  } finally {
    context.signal.removeEventListener("abort", cancel);
    const reset = resetAndRelease();
    resets.add(reset);
    void reset.finally(() => resets.delete(reset));
  }
}

async function runBatch(
  client: pg.PoolClient,
  request: Extract<SqlRequest, { kind: "batch" }>,
  context: RequestContext,
): Promise<QueryResultWire[]> {
  await client.query(startTransactionSql(request.options));
  const results: QueryResultWire[] = [];
  for (const query of request.queries) {
    if (context.signal.aborted) throw cancelled();
    results.push(await runStatement(client, query, context));
  }
  if (context.signal.aborted) throw cancelled();
  await client.query("COMMIT");
  return results;
}

async function runStatement(client: pg.PoolClient, { query, params }: SqlQuery, context: RequestContext) {
  const config: pg.QueryArrayConfig & { queryMode: "extended" } = {
    text: query,
    values: params,
    rowMode: "array",
    types: rawTextTypes,
    // The extended protocol refuses a string holding several statements (42601), as Neon does;
    // the simple protocol, which pg uses for queries without params, would run them all.
    queryMode: "extended",
  };
  let result: pg.QueryArrayResult<(string | null)[]>;
  try {
    result = await client.query(config);
  } catch (error) {
    // Anything but Postgres's own error means the connection broke under the statement.
    throw isPostgresError(error) ? error : connectionClosed(error);
  }
  const wire: QueryResultWire = {
    fields: result.fields.map((field) => ({
      name: field.name,
      dataTypeID: field.dataTypeID,
      tableID: field.tableID,
      columnID: field.columnID,
      dataTypeSize: field.dataTypeSize,
      dataTypeModifier: field.dataTypeModifier,
      format: "text",
    })),
    rows: result.rows,
    command: result.command ?? "",
    rowCount: result.rowCount,
    rowAsArray: true,
  };
  context.onResult(wire);
  return wire;
}
