import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { toBase64url } from "../base64url";

/** A key the assertion is signed with (private) or verified with (public), as a JWK. */
export interface AssertionJwk {
  kty: "OKP" | "EC";
  crv: "Ed25519" | "P-256";
  x: string;
  y?: string;
  d?: string;
  kid?: string;
}

/** What /.well-known/jwks.json publishes of a key: its public members, `kid`, `alg` and `use`. */
export interface PublicJwk {
  kty: "OKP" | "EC";
  crv: "Ed25519" | "P-256";
  x: string;
  y?: string;
  kid: string;
  alg: "EdDSA" | "ES256";
  use: "sig";
}

export interface AssertionKey {
  /** The JWK as given (private when it signs). */
  jwk: AssertionJwk;
  /** JWS `alg`: EdDSA for Ed25519, ES256 for P-256. */
  alg: "EdDSA" | "ES256";
  /** The JWK's own `kid`, else its RFC 7638 thumbprint. */
  kid: string;
  publicJwk: PublicJwk;
}

/**
 * Reads a JWK from configuration: Ed25519 (`{"kty":"OKP","crv":"Ed25519","x":...,"d":...}`) or
 * P-256 (`{"kty":"EC","crv":"P-256","x":...,"y":...,"d":...}`); with `requirePrivate`, `d` must be
 * there. A problem never quotes the value: it is a secret.
 */
export function parseAssertionJwk(
  text: string,
  options: { requirePrivate: boolean },
): { ok: true; value: AssertionKey } | { ok: false; problem: string } {
  let jwk: Partial<AssertionJwk>;
  try {
    jwk = JSON.parse(text) as Partial<AssertionJwk>;
  } catch {
    return { ok: false, problem: "must be a JWK in JSON (`npm run keys:assertion` makes one)" };
  }
  const b64url = (v: unknown) => typeof v === "string" && /^[A-Za-z0-9_-]+$/.test(v);
  const okp = jwk.kty === "OKP" && jwk.crv === "Ed25519" && b64url(jwk.x);
  const ec = jwk.kty === "EC" && jwk.crv === "P-256" && b64url(jwk.x) && b64url(jwk.y);
  if (!okp && !ec) return { ok: false, problem: "must be an Ed25519 (OKP) or P-256 (EC) JWK with its public members" };
  if (options.requirePrivate && !b64url(jwk.d)) return { ok: false, problem: "must be a private JWK (with `d`)" };
  if (jwk.kid !== undefined && (typeof jwk.kid !== "string" || !/^[\x21-\x7e]{1,128}$/.test(jwk.kid))) {
    return { ok: false, problem: "has a `kid` that is not 1 to 128 visible ASCII characters" };
  }
  const value = jwk as AssertionJwk;
  const publicMembers: Record<string, string> = ec
    ? { crv: value.crv, kty: value.kty, x: value.x, y: value.y ?? "" }
    : { crv: value.crv, kty: value.kty, x: value.x };
  // RFC 7638: the required public members, in lexicographic order, no whitespace.
  const thumbprint = toBase64url(sha256(utf8ToBytes(JSON.stringify(publicMembers))));
  const kid = value.kid ?? thumbprint;
  const alg = ec ? "ES256" : "EdDSA";
  const publicJwk: PublicJwk = { kty: value.kty, crv: value.crv, x: value.x, kid, alg, use: "sig" };
  if (ec) publicJwk.y = value.y;
  return { ok: true, value: { jwk: value, alg, kid, publicJwk } };
}
