import { fromBase64url, toBase64url } from "../base64url";
import { ERROR_CODES, httpError } from "../errors";

/*
 * Listing cursors: opaque to clients, base64url of "<created_at ISO>|<id>", the keyset of the last
 * row seen. A cursor that does not decode to that shape is a 400, never a database error.
 */
// The time as sessions are shown (`+00:00`, microseconds when any) or, from cursors issued before
// that, with `Z` and always six digits.
const CURSOR =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?(?:\+00:00|Z))\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

const YEAR_1 = Date.parse("0001-01-01T00:00:00Z");

export function encodeCursor(position: { createdAt: string; id: string }): string {
  return toBase64url(`${position.createdAt}|${position.id}`);
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  // Not base64url decodes to "", reported below like any other malformed cursor.
  const match = CURSOR.exec(fromBase64url(cursor) ?? "");
  // A real instant only: Date.parse accepts year 0 and rolls Feb 30 or 24:00 over, PostgreSQL refuses or differs.
  const at = match?.[1] === undefined ? Number.NaN : Date.parse(match[1]);
  if (
    match?.[1] === undefined ||
    match[2] === undefined ||
    !(at >= YEAR_1 && new Date(at).toISOString().slice(0, 19) === match[1].slice(0, 19))
  ) {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: "The request query is invalid.",
      issues: [{ path: "cursor", message: "is not a cursor this service issued" }],
    });
  }
  return { createdAt: match[1], id: match[2] };
}
