import * as z from "zod";
import { ERROR_CODES } from "../errors";
import { ADMIN_REASONS, APP_TYPES, REVOKE_REASONS } from "../sessions/constants";

/*
 * Every request and response shape of the HTTP API, each defined once as a zod schema: requests
 * are validated against them, responses are typed from them (`satisfies z.output<...>` at each
 * `c.json`), /openapi.json is generated from them (`.meta({ id })` names a component), and
 * test/worker/openapi-responses.test.ts checks real responses against that document. Request
 * objects are strict: an unknown field is a client bug worth reporting.
 */

export const PG_INT_MAX = 2_147_483_647;

/**
 * A positive integer written plainly (a path or query parameter, a header): digits only, no sign,
 * exponent, hex prefix or padding (which `Number()` would quietly accept), at most `max`.
 */
export function integerParam(max = PG_INT_MAX) {
  return z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "must be a positive integer")
    .transform(Number)
    .pipe(z.number().max(max, "must be a positive integer"));
}
export const POSITIVE_INTEGER = integerParam();
export const sessionId = z.guid();

// ---- requests

export const validateQuery = z.strictObject({
  app_type: z.enum(APP_TYPES).optional(),
  tenant_id: POSITIVE_INTEGER.optional(),
  /**
   * With LOGIN_URL: how a browser without a session is sent to the login page. `status` (default)
   * answers 302; `header` answers the 401 with `X-Login-Location`, for nginx's auth_request.
   */
  login_redirect: z.enum(["status", "header"]).optional(),
});

export const issueSessionBody = z.strictObject({
  user_id: z.number().int().min(1).max(PG_INT_MAX),
  tenant_id: z.number().int().min(1).max(PG_INT_MAX).nullable().optional(),
  app_type: z.enum(APP_TYPES).optional(),
  ip_address: z.union([z.ipv4(), z.ipv6()]).nullable().optional(),
  user_agent: z.string().max(1024).nullable().optional(),
  /** From one minute (MIN_SESSION_LIFETIME_SECONDS) to MAX_ABSOLUTE_TIMEOUT_HOURS, checked where config is known. */
  absolute_timeout_hours: z.number().positive().finite().optional(),
});

export const endSessionBody = z.strictObject({
  reason: z.enum(ADMIN_REASONS).default("admin_revoke"),
});

export const endUserSessionsBody = z.strictObject({
  reason: z.enum(["password_change", "admin_revoke"]),
  except_session_id: sessionId.optional(),
});

export const LIST_LIMIT_MAX = 100;
export const listSessionsQuery = z.strictObject({
  active: z.enum(["true", "false"]).optional(),
  limit: integerParam(LIST_LIMIT_MAX).default(20),
  cursor: z.string().max(200).optional(),
});

export const userIdParam = z.object({ userId: POSITIVE_INTEGER });
export const sessionIdParam = z.object({ id: sessionId });

// ---- responses

export const ErrorResponse = z
  .object({
    error: z.enum(Object.values(ERROR_CODES)).meta({
      description: "A machine-readable code: RFC 6750's invalid_request, invalid_token, insufficient_scope, or ours.",
    }),
    error_description: z.string(),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: "One entry per invalid input field (400 and 422 only)." }),
  })
  .meta({ id: "Error" });

const isoTime = z.string().meta({ format: "date-time", description: "ISO-8601, UTC" });
const sessionFields = {
  id: z.guid(),
  user_id: z.int(),
  tenant_id: z.int().nullable(),
  app_type: z.enum(APP_TYPES),
  created_at: isoTime,
  last_activity_at: isoTime,
  absolute_expires_at: isoTime,
};

/** A session as the lifecycle API shows it: the seed's `to_dict` shape; `is_active` is the effective state. */
export const SessionJson = z
  .object({
    ...sessionFields,
    ip_address: z.string().nullable(),
    is_active: z.boolean(),
    revoked_at: isoTime.nullable(),
    revoke_reason: z.enum(REVOKE_REASONS).nullable(),
    ended_at: isoTime.nullable(),
  })
  .meta({ id: "Session" });

/** What `/v1/validate` answers about a valid session: identity, timing, and when it idles out. */
export const ValidSessionJson = z.object({ ...sessionFields, idle_expires_at: isoTime }).meta({ id: "ValidSession" });

export const ValidateResponse = z.object({ session: ValidSessionJson }).meta({ id: "Validated" });
export const CurrentSessionResponse = z.object({ session: SessionJson }).meta({ id: "CurrentSession" });
export const IssuedSessionResponse = z
  .object({
    token: z.string().meta({ description: "The session token: returned once, stored only as its SHA-256." }),
    session: SessionJson,
  })
  .meta({ id: "IssuedSession" });
export const EndedResponse = z
  .object({ revoked: z.int().min(0).meta({ description: "How many live sessions were ended." }) })
  .meta({ id: "Ended" });
export const SessionPageResponse = z
  .object({
    sessions: z.array(SessionJson),
    next_cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null at the end." }),
  })
  .meta({ id: "SessionPage" });
export const HealthResponse = z
  .object({
    status: z.enum(["ok", "unavailable", "misconfigured"]),
    db: z.enum(["ok", "unreachable", "migrations_missing", "migrations_outdated", "missing_privilege"]),
    message: z.string().optional().meta({ description: "With `misconfigured`: what to do." }),
  })
  .meta({ id: "Health" });

export const JwksResponse = z
  .object({
    keys: z.array(
      z
        .object({
          kty: z.enum(["OKP", "EC"]),
          crv: z.enum(["Ed25519", "P-256"]),
          x: z.string(),
          y: z.string().optional(),
          kid: z.string(),
          alg: z.enum(["EdDSA", "ES256"]),
          use: z.literal("sig"),
        })
        .meta({ description: "A public JWK (RFC 7517)." }),
    ),
  })
  .meta({ id: "Jwks" });
