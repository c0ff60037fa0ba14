import { PGlite, type QueryOptions, type Results } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { type Backend, type BatchQuery, formatTransactionModes, type QueryResultWire } from "./backend";

type Queryable = Pick<PGlite, "query">;

/**
 * A backend on PGlite (PostgreSQL compiled to WebAssembly) inside this process: in memory unless
 * `dataDir` names a directory to keep the database in.
 */
export async function openPgliteBackend(options: { dataDir?: string } = {}): Promise<Backend> {
  const db = await PGlite.create(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
  const queue = createQueue();
  let rawText = await loadRawTextOptions(db);
  // Set when a result carries a type created after the map was built (CREATE TYPE, a new table's
  // row type); PGlite has no parser for such a type, so that result is text already.
  let rawTextStale = false;

  async function runQuery(client: Queryable, { query, params }: BatchQuery): Promise<QueryResultWire> {
    if (rawTextStale) {
      rawText = await loadRawTextOptions(client);
      rawTextStale = false;
    }
    const result = await client.query<(string | null)[]>(query, params, rawText);
    if (result.fields.some((field) => !(field.dataTypeID in rawText.parsers))) {
      rawTextStale = true;
    }
    return toWire(result);
  }

  return {
    kind: "pglite",
    description: `embedded PGlite (${options.dataDir === undefined ? "in memory" : options.dataDir})`,
    query: (text, params) => queue.run(() => runQuery(db, { query: text, params })),
    // The batch holds the queue for its whole transaction: nothing else may run inside it.
    batch: (queries, batchOptions) =>
      queue.run(() =>
        db.transaction(async (tx) => {
          const modes = formatTransactionModes(batchOptions);
          if (modes !== "") await tx.query(`SET TRANSACTION ${modes}`);
          const results: QueryResultWire[] = [];
          for (const query of queries) results.push(await runQuery(tx, query));
          return results;
        }),
      ),
    migrate: (migrationsFolder) =>
      queue.run(async () => {
        await migrate(drizzle(db), { migrationsFolder });
        rawTextStale = true;
      }),
    close: () => queue.run(() => db.close()),
  };
}

/**
 * Query options that make PGlite behave like a Postgres wire in text format: every type OID maps
 * to identity, both ways. PGlite parses values by default (we must hand back text), and its
 * serializers would reject the driver's already-encoded params (bytea arrives as a "\x..." string).
 * It copies the maps with object spread, so a Proxy cannot stand in for the full list of OIDs.
 */
async function loadRawTextOptions(client: Queryable): Promise<QueryOptions & { parsers: Record<number, unknown> }> {
  const { rows } = await client.query<{ oid: number }>("select oid from pg_type");
  const identity = (value: string) => value;
  const byOid = Object.fromEntries(rows.map(({ oid }) => [oid, identity]));
  return { rowMode: "array", parsers: byOid, serializers: byOid };
}

function toWire(result: Results<(string | null)[]>): QueryResultWire {
  return {
    command: result.command ?? "",
    rowCount: result.rowCount ?? null,
    rowAsArray: true,
    rows: result.rows,
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
