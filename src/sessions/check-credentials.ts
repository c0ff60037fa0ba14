import { isWellFormedToken, readBearerToken } from "./check-bearer";

/** A Cookie header longer than this is refused unread: no browser sends one (they cap near 8 KiB). */
export const MAX_COOKIE_HEADER_BYTES = 8192;

/** What a request presents: its `Authorization` and `Cookie` headers (null when absent). */
export interface PresentedCredentials {
  authorization: string | null;
  cookie: string | null;
}

export type CredentialSource = "bearer" | "cookie";

export type Credential =
  | { ok: true; token: string; source: CredentialSource }
  | { ok: false; reason: "missing" | "malformed" | "malformed_cookie" };

/**
 * The token a request presents. `Authorization: Bearer` first: when that header is there at all,
 * it alone counts, and a malformed one never falls back to the cookie (a client that sent a header
 * meant it). Only without it, and only when `cookieName` is configured, the cookie of that name,
 * under the same syntax check. Two cookies of that name are refused (cookie tossing: a sibling
 * subdomain can plant a second one, and which one a server reads first is arbitrary), and so is a
 * Cookie header no browser would send.
 */
export function readCredential(presented: PresentedCredentials, cookieName: string | undefined): Credential {
  if (presented.authorization !== null) {
    const bearer = readBearerToken(presented.authorization);
    return bearer.ok ? { ok: true, token: bearer.token, source: "bearer" } : bearer;
  }
  if (cookieName === undefined || presented.cookie === null) return { ok: false, reason: "missing" };
  if (presented.cookie.length > MAX_COOKIE_HEADER_BYTES) return { ok: false, reason: "malformed_cookie" };
  const values = cookieValues(presented.cookie, cookieName);
  if (values.length === 0) return { ok: false, reason: "missing" };
  const [value] = values;
  if (values.length > 1 || value === undefined || !isWellFormedToken(value)) {
    return { ok: false, reason: "malformed_cookie" };
  }
  return { ok: true, token: value, source: "cookie" };
}

/**
 * Every value of cookie `name` in a Cookie header (RFC 6265 §4.2.1: `name=value` pairs separated
 * by `;`; names are case-sensitive; a value may be wrapped in double quotes).
 */
export function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    values.push(value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
  }
  return values;
}
