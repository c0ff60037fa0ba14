import { secretValues } from "../src/config";
import { redact } from "../src/log";

/**
 * The reason behind an error, for one line on a terminal: drizzle's DrizzleQueryError repeats the
 * whole statement and its parameters, so its cause is what says why; pg reports "connection
 * refused" on localhost as one error per address it tried.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error && error.cause instanceof Error) return describeError(error.cause);
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describeError).join("; ");
  // Credentials in any shape (a connection string in a driver's message) never reach the terminal.
  return redact(error instanceof Error ? error.message || error.name : String(error), secretValues(process.env));
}
