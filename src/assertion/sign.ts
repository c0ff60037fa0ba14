import { importJWK, SignJWT } from "jose";
import type { Config } from "../config";
import type { ValidSession } from "../sessions/session";
import type { AssertionKey } from "./jwk";

type AssertionConfig = Pick<
  Config,
  "assertionSigningKey" | "assertionIssuer" | "assertionAudience" | "assertionTtlSeconds" | "assertionHeader"
>;

// The imported signing key, once per key (so per isolate and configuration).
const imported = new WeakMap<AssertionKey, Promise<CryptoKey>>();

/**
 * The signed identity assertion, when ASSERTION_SIGNING_KEY is set: a short-lived JWT the origin
 * verifies offline with the public key from /.well-known/jwks.json, as Pomerium hands its origins.
 * `sub` is the user, `sid` the session; `exp` at most 60 s after `iat` (the edge's clock, as every
 * JWT's: it bounds replay of the header, it decides nothing about the session).
 */
export async function assertionHeader(session: ValidSession, config: AssertionConfig): Promise<Record<string, string>> {
  const key = config.assertionSigningKey;
  if (key === undefined || config.assertionAudience === undefined) return {};
  let cryptoKey = imported.get(key);
  if (cryptoKey === undefined) {
    cryptoKey = importJWK({ ...key.jwk }, key.alg) as Promise<CryptoKey>;
    imported.set(key, cryptoKey);
  }
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ sid: session.id, tenant_id: session.tenantId, app_type: session.appType })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setIssuer(config.assertionIssuer)
    .setAudience(config.assertionAudience)
    .setSubject(String(session.userId))
    .setIssuedAt(now)
    .setExpirationTime(now + config.assertionTtlSeconds)
    .sign(await cryptoKey);
  return { [config.assertionHeader]: jwt };
}
