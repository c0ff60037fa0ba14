import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DatabaseError } from "./db/database-error";

/** Every error code this service answers with, in one place. The first three are RFC 6750's. */
export const ERROR_CODES = {
  invalidRequest: "invalid_request",
  invalidToken: "invalid_token",
  insufficientScope: "insufficient_scope",
  unauthorized: "unauthorized",
  crossSiteRequest: "cross_site_request",
  notFound: "not_found",
  methodNotAllowed: "method_not_allowed",
  payloadTooLarge: "payload_too_large",
  unprocessable: "unprocessable_entity",
  temporarilyUnavailable: "temporarily_unavailable",
  notConfigured: "not_configured",
  badGateway: "bad_gateway",
  internalError: "internal_error",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The body of every error answer (its schema: `ErrorResponse` in src/http/schemas.ts). */
export interface ErrorBody {
  error: ErrorCode;
  error_description: string;
  issues?: { path: string; message: string }[];
}

/** An `HTTPException` whose response is the service's JSON error shape, with extra headers. */
export function httpError(
  status: ContentfulStatusCode,
  body: ErrorBody,
  headers: Record<string, string> = {},
): HTTPException {
  const res = new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...headers,
    },
  });
  return new HTTPException(status, { res, message: body.error_description });
}

/**
 * The answer when the database could not answer: 503, so nobody is let through. A transient
 * failure promises a retry (`Retry-After`); a permanent one (the deployment is wrong, see
 * `DatabaseError.permanent`) makes no promise it cannot keep: 503 `not_configured`, no
 * `Retry-After`, and the log line names the cause.
 */
export function databaseFailure(error: DatabaseError, retryAfterSeconds: number): HTTPException {
  if (error.permanent !== undefined) {
    return httpError(503, {
      error: ERROR_CODES.notConfigured,
      error_description: "The service cannot use its database; see its logs.",
    });
  }
  return httpError(
    503,
    {
      error: ERROR_CODES.temporarilyUnavailable,
      error_description: "The session store is unavailable; try again later.",
    },
    { "retry-after": String(retryAfterSeconds) },
  );
}
