import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { redactPassword } from "../redact-password";
import {
  type Backend,
  type BatchOptions,
  type BatchQuery,
  formatTransactionModes,
  type QueryResultWire,
} from "./backend";

// Neon's endpoint hands every value back as Postgres text; the driver parses it by dataTypeID.
const rawTextTypes: pg.CustomTypesConfig = {
  getTypeParser: (() => (value: string) => value) as pg.CustomTypesConfig["getTypeParser"],
};

/** A backend over a PostgreSQL server, through a `pg` pool. */
export function openPgBackend(databaseUrl: string, options: { log?: (line: string) => void } = {}): Backend {
  const pool = new pg.Pool({ connectionString: databaseUrl });
  // An idle client losing its connection (server restarted) is emitted here; without a listener
  // it would crash the process. The pool drops that client and the next query reports the outage.
  pool.on("error", (error) => {
    options.log?.(`stand-in: idle PostgreSQL connection failed: ${error.message}`);
  });

  return {
    kind: "pg",
    description: `PostgreSQL server ${redactPassword(databaseUrl)}`,
    query: (text, params) => runQuery(pool, { query: text, params }),
    batch: (queries, batchOptions) => runBatch(pool, queries, batchOptions),
    async migrate(migrationsFolder) {
      await migrate(drizzle(pool), { migrationsFolder });
    },
    close: () => pool.end(),
  };
}

async function runQuery(client: pg.Pool | pg.PoolClient, { query, params }: BatchQuery): Promise<QueryResultWire> {
  const config: pg.QueryArrayConfig & { queryMode: "extended" } = {
    text: query,
    values: params,
    rowMode: "array",
    types: rawTextTypes,
    // The extended protocol refuses a string holding several statements (42601), as Neon does;
    // the simple protocol, which pg uses for queries without params, would run them all.
    queryMode: "extended",
  };
  const result = await client.query(config);
  return {
    command: result.command ?? "",
    rowCount: result.rowCount,
    rowAsArray: true,
    rows: result.rows,
    fields: result.fields.map((field) => ({
      name: field.name,
      dataTypeID: field.dataTypeID,
      tableID: field.tableID,
      columnID: field.columnID,
      dataTypeSize: field.dataTypeSize,
      dataTypeModifier: field.dataTypeModifier,
      format: "text",
    })),
  };
}

async function runBatch(pool: pg.Pool, queries: BatchQuery[], options: BatchOptions): Promise<QueryResultWire[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN ${formatTransactionModes(options)}`);
    try {
      const results: QueryResultWire[] = [];
      for (const query of queries) {
        results.push(await runQuery(client, query));
      }
      await client.query("COMMIT");
      return results;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        // A connection that cannot even roll back must not go back to the pool mid-transaction.
        broken = rollbackError;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
