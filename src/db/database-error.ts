/**
 * Why the database could not answer, when retrying cannot help: the deployment is wrong (a
 * missing privilege, a missing or older migration, bad credentials, an unknown database) or the
 * answer is over Neon's 10 MiB limits. Everything else (the database down, slow, a 5xx on the
 * way) is transient, and a retry after a while may succeed.
 */
export type PermanentCause =
  | "missing_privilege"
  | "missing_migration"
  | "bad_credentials"
  | "unknown_database"
  | "size_limit";

/**
 * A database failure with only what is safe to log: drizzle's own error message carries the
 * statement's parameters (token hashes among them), and Postgres' `detail` can quote key values.
 */
export class DatabaseError extends Error {
  override name = "DatabaseError";
  /** Set when retrying cannot help; undefined for a transient failure. */
  readonly permanent: PermanentCause | undefined;
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
    this.permanent = permanentCause(message, code);
  }
}

// SQLSTATEs that say the deployment is wrong, never that the database is busy.
const PERMANENT_CODES: Record<string, PermanentCause> = {
  "42501": "missing_privilege", // insufficient_privilege
  "42883": "missing_migration", // undefined_function: the check function is not there (or of another signature)
  "42P01": "missing_migration", // undefined_table
  "42703": "missing_migration", // undefined_column
  "28P01": "bad_credentials", // invalid_password
  "28000": "bad_credentials", // invalid_authorization_specification
  "3D000": "unknown_database", // invalid_catalog_name
};

/**
 * What the check says when `session_gate_check_json` answers anything but a row with one of the
 * statuses it defines, or null: a function of another version (or someone else's) is installed.
 */
export const FOREIGN_CHECK_ROW =
  "session_gate_check_json answered a row of another shape: run this version's migrations";

function permanentCause(message: string, code: string | undefined): PermanentCause | undefined {
  if (code !== undefined && code in PERMANENT_CODES) return PERMANENT_CODES[code];
  if (message === FOREIGN_CHECK_ROW) return "missing_migration";
  // Neon's proxy answers these itself, with code "" (docs/neon-contract.md): a password it
  // refuses, and the 413/507 of its size limits, which the driver reports by status only.
  if (/password authentication failed|missing authentication credentials/.test(message)) return "bad_credentials";
  if (/Server error \(HTTP status (413|507)\)/.test(message)) return "size_limit";
  return undefined;
}
