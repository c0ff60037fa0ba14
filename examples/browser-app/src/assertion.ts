import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import type { BrowserAppConfig } from "./config";

/** Who is asking, as session-gate signed it. */
export interface Identity {
  userId: string;
  sessionId: string;
  tenantId: number | null;
  appType: string;
}

// A token that fails for what it is (forged, expired, for another audience, from an unknown key) is
// a refusal; anything else (session-gate's keys cannot be fetched) is an outage, and thrown.
const REFUSALS = [
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWTInvalid,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWKSNoMatchingKey,
  errors.JOSEAlgNotAllowed,
];

/**
 * Verifies session-gate's identity assertion (the JWT in ASSERTION_HEADER, signed at every check
 * that passed, valid for 60 s at most) against the keys published at /.well-known/jwks.json,
 * fetched once and again when a new `kid` shows up (a key rotation). Null when the header is
 * missing or the token does not verify.
 */
export function createAssertionVerifier(config: Pick<BrowserAppConfig, "sessionGateUrl" | "assertion">) {
  const keys = createRemoteJWKSet(new URL("/.well-known/jwks.json", config.sessionGateUrl));
  return async (jwt: string | undefined): Promise<Identity | null> => {
    if (jwt === undefined || jwt === "") return null;
    try {
      const { payload } = await jwtVerify(jwt, keys, {
        issuer: config.assertion.issuer,
        audience: config.assertion.audience,
        algorithms: ["EdDSA", "ES256"],
      });
      if (typeof payload.sub !== "string" || typeof payload.sid !== "string") return null;
      return {
        userId: payload.sub,
        sessionId: payload.sid,
        tenantId: typeof payload.tenant_id === "number" ? payload.tenant_id : null,
        appType: String(payload.app_type),
      };
    } catch (error) {
      if (REFUSALS.some((refusal) => error instanceof refusal)) return null;
      throw error;
    }
  };
}
