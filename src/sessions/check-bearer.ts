/** Length bounds for a presented token. The existing application's format is not known to us, so
 * the range is generous; anything outside it is rejected before the database is asked. */
export const TOKEN_MIN_LENGTH = 16;
export const TOKEN_MAX_LENGTH = 512;

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=". The scheme is case-insensitive (RFC 7235 §2.1).
const BEARER = /^bearer +(\S*)$/i;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type BearerToken = { ok: true; token: string } | { ok: false; reason: "missing" | "malformed" };

/** Whether a string has RFC 6750's b64token syntax, whatever its length. */
export function isB64Token(value: string): boolean {
  return B64TOKEN.test(value);
}

/** Whether a token has the b64token syntax and a length within the documented bounds. */
export function isWellFormedToken(token: string): boolean {
  return token.length >= TOKEN_MIN_LENGTH && token.length <= TOKEN_MAX_LENGTH && B64TOKEN.test(token);
}

/**
 * Extracts the bearer token from an `Authorization` header value (`null` when absent). Two headers
 * arrive joined by ", ", which the syntax rejects, so a second token can never be smuggled in.
 */
export function readBearerToken(header: string | null | undefined): BearerToken {
  if (header === null || header === undefined) return { ok: false, reason: "missing" };
  const token = BEARER.exec(header)?.[1];
  if (token === undefined || !isWellFormedToken(token)) return { ok: false, reason: "malformed" };
  return { ok: true, token };
}
