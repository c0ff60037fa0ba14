/**
 * What a failed request answers, as Neon's proxy builds it (proxy/src/serverless/sql_over_http.rs,
 * `handle`): every error body has the same 17 keys in the same order, `null` where a field is
 * absent, and `code`/`severity` "" when the error is the proxy's own rather than Postgres's.
 */

const bodyFields = [
  "message",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "severity",
  "where",
  "table",
  "column",
  "schema",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

type ErrorBody = Record<(typeof bodyFields)[number], string | null>;

/** A failure to answer with `status` and `body`; `cause` is only for the log. */
export class NeonError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    options?: { cause?: unknown },
  ) {
    super(typeof body === "string" ? body : String((body as { message?: unknown }).message), options);
  }
}

/** An error the proxy makes itself: 17 keys, `code` and `severity` "". */
export function proxyError(status: number, message: string, options?: { cause?: unknown }): NeonError {
  return new NeonError(status, errorBody({ message }), options);
}

/** An error Postgres sent, forwarded with all its fields, as Neon does. */
export function postgresError(status: number, error: Record<string, unknown>): NeonError {
  return new NeonError(status, errorBody(error));
}

/** The client went away mid-request; nobody reads this body, but it is the one Neon writes. */
export function cancelled(): NeonError {
  return new NeonError(400, { message: "Query cancelled, connection was terminated", code: "08P01" });
}

export function couldNotConnect(cause: unknown): NeonError {
  return proxyError(500, "Couldn't connect to compute node", { cause });
}

/** The connection to Postgres broke while a statement ran: Neon reports tokio-postgres's text. */
export function connectionClosed(cause: unknown): NeonError {
  return proxyError(400, "connection closed", { cause });
}

export function isPostgresError(error: unknown): error is Record<string, unknown> {
  // Errors sent by Postgres carry a severity and a five-character SQLSTATE; Node's own errors
  // have codes too (ECONNREFUSED, EPIPE) but no severity.
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { severity?: unknown }).severity === "string" &&
    /^[0-9A-Z]{5}$/.test(String((error as { code?: unknown }).code))
  );
}

function errorBody(fields: Record<string, unknown>): ErrorBody {
  const body = {} as ErrorBody;
  for (const field of bodyFields) {
    const value = fields[field];
    // Neon sends position, internalPosition and line as strings; pg and PGlite already do.
    body[field] = value === undefined || value === null ? null : String(value);
  }
  body.code ??= "";
  body.severity ??= "";
  return body;
}

/** The status and body for any error: a request must never crash the stand-in. */
export function describeFailure(error: unknown): { status: number; body: unknown } {
  if (error instanceof NeonError) return { status: error.status, body: error.body };
  // A statement's own error (syntax, constraint, statement_timeout): 400, as every Postgres error.
  if (isPostgresError(error)) return { status: 400, body: errorBody(error) };
  return { status: 500, body: errorBody({ message: `stand-in error: ${describe(error)}` }) };
}

/** One line for the log: the message, and the cause behind a NeonError (ECONNREFUSED, say). */
export function describe(error: unknown): string {
  // pg reports a refused connection to a name with several addresses as one error per address.
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describe).join("; ");
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.cause !== undefined && error.cause !== error) {
    return `${message} (${describe(error.cause)})`;
  }
  return message;
}
