import { toBase64url } from "../base64url";
import type { Config } from "../config";
import type { ValidSession } from "../sessions/session";
import type { AssertionKey } from "./jwk";

type AssertionConfig = Pick<
  Config,
  "assertionSigningKey" | "assertionIssuer" | "assertionAudience" | "assertionTtlSeconds" | "assertionHeader"
>;

// The imported signing key, once per key (so per isolate and configuration).
const imported = new WeakMap<AssertionKey, Promise<CryptoKey>>();

// WebCrypto's algorithm per JWS `alg`. ECDSA signs in IEEE P1363 form (r || s), which is JWS's.
const ALGORITHMS = {
  EdDSA: { key: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  ES256: { key: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
} as const;

/**
 * The signed identity assertion, when ASSERTION_SIGNING_KEY is set: a short-lived JWT the origin
 * verifies offline with the public key from /.well-known/jwks.json, as Pomerium hands its origins.
 * `sub` is the user, `sid` the session; `exp` at most 60 s after `iat` (the edge's clock, as every
 * JWT's: it bounds replay of the header, it decides nothing about the session). Signed with the
 * runtime's WebCrypto rather than a JWT library: three lines of JWS compact serialization cost
 * less bundle than a library's, and the tests verify every assertion with one (jose).
 */
export async function assertionHeader(session: ValidSession, config: AssertionConfig): Promise<Record<string, string>> {
  const key = config.assertionSigningKey;
  if (key === undefined || config.assertionAudience === undefined) return {};
  const algorithm = ALGORITHMS[key.alg];
  let cryptoKey = imported.get(key);
  if (cryptoKey === undefined) {
    const { kid: _kid, ...jwk } = key.jwk;
    cryptoKey = crypto.subtle.importKey("jwk", jwk, algorithm.key, false, ["sign"]);
    imported.set(key, cryptoKey);
  }
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: key.alg, kid: key.kid, typ: "JWT" };
  const claims = {
    sid: session.id,
    tenant_id: session.tenantId,
    app_type: session.appType,
    iss: config.assertionIssuer,
    aud: config.assertionAudience,
    sub: String(session.userId),
    iat: now,
    exp: now + config.assertionTtlSeconds,
  };
  const signingInput = `${segment(header)}.${segment(claims)}`;
  const signature = await crypto.subtle.sign(algorithm.sign, await cryptoKey, new TextEncoder().encode(signingInput));
  return { [config.assertionHeader]: `${signingInput}.${toBase64url(new Uint8Array(signature))}` };
}

function segment(value: object): string {
  return toBase64url(new TextEncoder().encode(JSON.stringify(value)));
}
