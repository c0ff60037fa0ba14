import type { HTTPException } from "hono/http-exception";
import { ERROR_CODES, httpError } from "../errors";
import type { RejectReason } from "../sessions/check-outcome";

/*
 * RFC 6750 §3 responses. Two deliberate choices:
 * - A malformed header answers 401 (not §3.1's 400): nginx `auth_request` turns any status other
 *   than 2xx, 401 and 403 into a 500 for the client, which would hide the challenge.
 * - Unknown, expired and revoked tokens share one answer, so a client cannot probe which it holds.
 */
export function bearerChallenge(realm: string, reason: RejectReason): HTTPException {
  switch (reason) {
    case "missing_credentials":
      return httpError(
        401,
        {
          error: ERROR_CODES.unauthorized,
          error_description: "A bearer token is required.",
        },
        { "www-authenticate": `Bearer realm="${realm}"` },
      );
    case "malformed_credentials":
      return httpError(
        401,
        {
          error: ERROR_CODES.invalidRequest,
          error_description: "The Authorization header is not a valid bearer credential.",
        },
        {
          "www-authenticate": `Bearer realm="${realm}", error="invalid_request"`,
        },
      );
    case "malformed_cookie":
      return httpError(
        401,
        {
          error: ERROR_CODES.invalidRequest,
          error_description:
            "The session cookie is not a valid token, is sent twice, or comes in an oversized Cookie header.",
        },
        { "www-authenticate": `Bearer realm="${realm}", error="invalid_request"` },
      );
    case "app_type_mismatch":
    case "tenant_mismatch":
      return httpError(
        403,
        {
          error: ERROR_CODES.insufficientScope,
          error_description: "The session does not grant access to this resource.",
        },
        {
          "www-authenticate": `Bearer realm="${realm}", error="insufficient_scope"`,
        },
      );
    default:
      return httpError(
        401,
        {
          error: ERROR_CODES.invalidToken,
          error_description: "The token is not valid.",
        },
        {
          "www-authenticate": `Bearer realm="${realm}", error="invalid_token"`,
        },
      );
  }
}

/**
 * 403 for a state-changing request authenticated by the session cookie that does not come from a
 * page of this origin: a browser sends cookies along with requests other sites make it send.
 */
export function crossSiteRefusal(): HTTPException {
  return httpError(403, {
    error: ERROR_CODES.crossSiteRequest,
    error_description: "A request authenticated by the session cookie must come from a page of this origin.",
  });
}
