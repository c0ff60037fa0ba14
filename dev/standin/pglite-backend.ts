import { PGlite, type QueryOptions, type Results } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import {
  adminContext,
  type Backend,
  type QueryResultWire,
  type RequestContext,
  SESSION_RESET_SQL,
  type SqlQuery,
  type SqlRequest,
} from "./backend";
import { cancelled } from "./neon-error";
import { startTransactionSql } from "./transaction-modes";

// PGlite's one session is this superuser's; requests of other roles borrow their identity.
const ADMIN_USER = "postgres";

/**
 * A backend on PGlite (PostgreSQL compiled to WebAssembly) inside this process: in memory unless
 * `dataDir` names a directory to keep the database in.
 *
 * What it cannot do as Neon does, by its nature:
 * - One session serves every request, one request at a time. So no request ever waits for a lock
 *   another holds, SKIP LOCKED never skips, and deadlocks (40P01) and serialization failures
 *   (40001) never happen: test concurrency on the pg backend.
 * - A statement cannot be interrupted (it blocks this thread): a client that goes away cancels a
 *   request still waiting its turn and the rest of a batch (rolled back), not a running statement.
 * - One database, whatever name the connection string gives.
 * - A request runs as its role through SET SESSION AUTHORIZATION in the superuser's session: the
 *   role's privileges apply, its ALTER ROLE ... SET settings do not, and a statement that itself
 *   runs SET SESSION AUTHORIZATION may become any role.
 */
export async function openPgliteBackend(
  options: { dataDir?: string; log?: (line: string) => void } = {},
): Promise<Backend> {
  const log = options.log ?? (() => undefined);
  const db = await PGlite.create(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
  const queue = createQueue();
  const admin = { user: ADMIN_USER, database: "postgres" };
  let rawText = await loadRawTextOptions(db);
  // Set when a result carries a type created after the map was built (CREATE TYPE, a new table's
  // row type); PGlite has no parser for such a type, so that result is text already.
  let rawTextStale = false;

  async function runStatement({ query, params }: SqlQuery, context: RequestContext): Promise<QueryResultWire> {
    if (rawTextStale) {
      rawText = await loadRawTextOptions(db);
      rawTextStale = false;
    }
    const result = await db.query<(string | null)[]>(query, params, rawText);
    if (result.fields.some((field) => !(field.dataTypeID in rawText.parsers))) {
      rawTextStale = true;
    }
    const wire = toWire(result);
    context.onResult(wire);
    return wire;
  }

  async function runBatch(request: Extract<SqlRequest, { kind: "batch" }>, context: RequestContext) {
    await db.exec(startTransactionSql(request.options));
    const results: QueryResultWire[] = [];
    for (const query of request.queries) {
      await throwIfCancelled(context.signal);
      results.push(await runStatement(query, context));
    }
    await throwIfCancelled(context.signal);
    await db.exec("COMMIT");
    return results;
  }

  // The whole request holds the queue, reset included, but its answer does not wait for the reset.
  const execute = (request: SqlRequest, context: RequestContext) =>
    new Promise<QueryResultWire | QueryResultWire[]>((resolve, reject) => {
      queue
        .run(async () => {
          try {
            // Neon runs no SQL for a request cancelled before it had a connection.
            await throwIfCancelled(context.signal);
            if (context.user !== ADMIN_USER) {
              await db.exec(`SET SESSION AUTHORIZATION ${quoteIdentifier(context.user)}`);
            }
            resolve(
              request.kind === "single" ? await runStatement(request.query, context) : await runBatch(request, context),
            );
          } catch (error) {
            reject(error);
          }
          // PGlite's SET SESSION AUTHORIZATION DEFAULT keeps the borrowed role, so name the superuser.
          await db.exec(`${SESSION_RESET_SQL}\nSET SESSION AUTHORIZATION ${quoteIdentifier(ADMIN_USER)};`);
        })
        .catch((error: Error) => log(`stand-in: could not reset PGlite's session: ${error.message}`));
    });

  return {
    kind: "pglite",
    description: `embedded PGlite (${options.dataDir === undefined ? "in memory" : options.dataDir})`,
    admin,
    readPasswordSecret: (user) =>
      queue.run(async () => {
        const { rows } = await db.query<{ rolpassword: string | null }>(
          "select rolpassword from pg_authid where rolname = $1",
          [user],
        );
        return rows[0]?.rolpassword ?? null;
      }),
    execute,
    query: async (text, params) =>
      (await execute({ kind: "single", query: { query: text, params } }, adminContext(admin))) as QueryResultWire,
    migrate: (migrationsFolder) =>
      queue.run(async () => {
        await migrate(drizzle(db), { migrationsFolder });
        rawTextStale = true;
      }),
    close: () => queue.run(() => db.close()),
  };
}

/**
 * A running statement blocks this thread, so a client that left meanwhile is only noticed once
 * Node polls its sockets again: two turns of the event loop make sure it has before looking.
 */
async function throwIfCancelled(signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
  if (signal.aborted) throw cancelled();
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Query options that make PGlite behave like a Postgres wire in text format: every type OID maps
 * to identity, both ways. PGlite parses values by default (we must hand back text), and its
 * serializers would reject the driver's already-encoded params (bytea arrives as a "\x..." string).
 * It copies the maps with object spread, so a Proxy cannot stand in for the full list of OIDs.
 */
async function loadRawTextOptions(
  client: Pick<PGlite, "query">,
): Promise<QueryOptions & { parsers: Record<number, unknown> }> {
  const { rows } = await client.query<{ oid: number }>("select oid from pg_type");
  const identity = (value: string) => value;
  const byOid = Object.fromEntries(rows.map(({ oid }) => [oid, identity]));
  return { rowMode: "array", parsers: byOid, serializers: byOid };
}

function toWire(result: Results<(string | null)[]>): QueryResultWire {
  return {
    // PGlite reports only name and type; the driver reads nothing else.
    fields: result.fields.map((field) => ({
      name: field.name,
      dataTypeID: field.dataTypeID,
      tableID: 0,
      columnID: 0,
      dataTypeSize: -1,
      dataTypeModifier: -1,
      format: "text",
    })),
    rows: result.rows,
    command: result.command ?? "",
    rowCount: result.rowCount ?? null,
    rowAsArray: true,
  };
}

/** Runs tasks one after another: PGlite has a single connection and serves one query at a time. */
function createQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task);
      // The next task waits for this one to settle, whether it succeeded or not.
      tail = result.catch(() => undefined);
      return result;
    },
  };
}
