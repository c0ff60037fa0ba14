/**
 * What the stand-in needs from a database: run one statement, run a batch in one transaction,
 * apply migrations, close. Two implementations: a PostgreSQL server through `pg`
 * (pg-backend.ts) and PGlite embedded in this process (pglite-backend.ts).
 */

/** One statement's result as Neon's HTTP endpoint sends it with raw text output and array mode. */
export interface QueryResultWire {
  command: string;
  rowCount: number | null;
  rowAsArray: true;
  rows: (string | null)[][];
  fields: FieldWire[];
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

export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

export interface BatchOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

export interface BatchQuery {
  query: string;
  params: (string | null)[];
}

export interface Backend {
  kind: "pg" | "pglite";
  /** Human description for logs; never contains a password. */
  description: string;
  /** One statement; params are already strings or null; values come back as Postgres text. */
  query(text: string, params: (string | null)[]): Promise<QueryResultWire>;
  /** All queries in one transaction; any error rolls the whole batch back and is thrown. */
  batch(queries: BatchQuery[], options: BatchOptions): Promise<QueryResultWire[]>;
  /** Applies drizzle-kit migrations with drizzle-orm's own migrator for this client. */
  migrate(migrationsFolder: string): Promise<void>;
  close(): Promise<void>;
}

const isolationLevelSql: Record<IsolationLevel, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

export const isolationLevels = Object.keys(isolationLevelSql) as IsolationLevel[];

/**
 * The transaction modes for `BEGIN <modes>` or `SET TRANSACTION <modes>`, e.g.
 * "ISOLATION LEVEL SERIALIZABLE, READ ONLY"; "" when the batch asks for the server defaults.
 */
export function formatTransactionModes(options: BatchOptions): string {
  const modes: string[] = [];
  if (options.isolationLevel !== undefined) {
    modes.push(`ISOLATION LEVEL ${isolationLevelSql[options.isolationLevel]}`);
  }
  if (options.readOnly !== undefined) {
    modes.push(options.readOnly ? "READ ONLY" : "READ WRITE");
  }
  if (options.deferrable !== undefined) {
    modes.push(options.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  }
  return modes.join(", ");
}
