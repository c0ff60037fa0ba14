import type { IncomingHttpHeaders } from "node:http";
import { proxyError } from "./neon-error";

/** A batch's transaction modes, from its headers to `START TRANSACTION <modes>`. */
export interface BatchOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: true;
  deferrable?: true;
}

export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

const isolationLevelSql: Record<IsolationLevel, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/**
 * The batch headers as Neon's proxy reads them (sql_over_http.rs, `HttpHeaders::try_parse`), on
 * every request, single queries included: an isolation level other than the four exact names is a
 * 400; read-only and deferrable count only when exactly `true`, anything else means "not set" and
 * is never an error.
 */
export function parseBatchOptions(headers: IncomingHttpHeaders): BatchOptions {
  const options: BatchOptions = {};
  const isolationLevel = headers["neon-batch-isolation-level"];
  if (isolationLevel !== undefined) {
    if (typeof isolationLevel !== "string" || !Object.hasOwn(isolationLevelSql, isolationLevel)) {
      throw proxyError(400, "invalid isolation level");
    }
    options.isolationLevel = isolationLevel as IsolationLevel;
  }
  if (headers["neon-batch-read-only"] === "true") options.readOnly = true;
  if (headers["neon-batch-deferrable"] === "true") options.deferrable = true;
  return options;
}

/**
 * The statement that opens a batch. Neon's transaction builder only ever adds READ ONLY and
 * DEFERRABLE, so `false` leaves the server's default in force rather than forcing READ WRITE.
 */
export function startTransactionSql(options: BatchOptions): string {
  const modes: string[] = [];
  if (options.isolationLevel !== undefined) modes.push(`ISOLATION LEVEL ${isolationLevelSql[options.isolationLevel]}`);
  if (options.readOnly) modes.push("READ ONLY");
  if (options.deferrable) modes.push("DEFERRABLE");
  return `START TRANSACTION ${modes.join(", ")}`.trimEnd();
}

/** Neon echoes the modes on a batch's response. */
export function batchResponseHeaders(options: BatchOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.isolationLevel !== undefined) headers["neon-batch-isolation-level"] = options.isolationLevel;
  if (options.readOnly) headers["neon-batch-read-only"] = "true";
  if (options.deferrable) headers["neon-batch-deferrable"] = "true";
  return headers;
}
