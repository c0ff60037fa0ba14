import { resolver } from "hono-openapi";
import type * as z from "zod";
import { ErrorResponse } from "./schemas";

/*
 * What the routes' descriptions share: response bodies by schema, the common error responses,
 * the security requirements. Each route describes itself beside its handler with describeRoute()
 * (src/routes/); input() and jsonBody() describe its inputs; src/routes/openapi.ts assembles the
 * document from the app's routes.
 */

/** A JSON body, by schema. */
export const json = (schema: z.ZodType) => ({ "application/json": { schema: resolver(schema) } });

const wwwAuthenticate = {
  description: 'The RFC 6750 challenge, e.g. `Bearer realm="session-gate", error="invalid_token"`.',
  required: true,
  schema: { type: "string" as const },
};
export const retryAfter = {
  "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer" as const } },
};
export const allow = {
  Allow: { description: "The methods this path answers.", required: true, schema: { type: "string" as const } },
};

/** The shared error responses, as `components.responses` of the document. */
export const ERROR_RESPONSES = {
  "400": [
    "InvalidRequest",
    { description: "The input is invalid; `issues` lists each bad field.", content: json(ErrorResponse) },
  ],
  "401": [
    "Unauthorized",
    {
      description:
        "No token, a malformed Authorization header (401 rather than 400, so nginx auth_request passes it on), " +
        "or a token that is unknown, expired or revoked (one answer for all three).",
      headers: { "WWW-Authenticate": wwwAuthenticate },
      content: json(ErrorResponse),
    },
  ],
  "403": [
    "Forbidden",
    {
      description:
        "The session is valid but of another app type or tenant than required (`insufficient_scope`, with the " +
        "challenge), or a state change authenticated by the session cookie came from another site (`cross_site_request`).",
      headers: { "WWW-Authenticate": { ...wwwAuthenticate, required: false } },
      content: json(ErrorResponse),
    },
  ],
  "404": ["NotFound", { description: "No such resource.", content: json(ErrorResponse) }],
  "422": [
    "Unprocessable",
    { description: "A referenced user or tenant does not exist.", content: json(ErrorResponse) },
  ],
  "503": [
    "Unavailable",
    {
      description:
        "Fail-closed: the database did not answer in time (`temporarily_unavailable`, with Retry-After), " +
        "or the service is misconfigured (`not_configured`, e.g. admin endpoints without ADMIN_API_KEY).",
      headers: retryAfter,
      content: json(ErrorResponse),
    },
  ],
} as const;

/** `$ref`s to the shared error responses, e.g. `...errors("400", "401", "503")`. */
export function errors(...codes: (keyof typeof ERROR_RESPONSES)[]) {
  return Object.fromEntries(
    codes.map((code) => [code, { $ref: `#/components/responses/${ERROR_RESPONSES[code][0]}` }]),
  );
}

export const sessionToken = [{ sessionToken: [] }];
export const adminKey = [{ adminKey: [] }];

/** A browser navigation without a valid session, with LOGIN_URL set. */
export const loginRedirect = {
  description:
    "A top-level browser navigation without a valid session, with LOGIN_URL set: to the login page, with `rd` " +
    "the original URL when its host is in REDIRECT_ALLOWED_HOSTS. API and XHR requests get the 401.",
  headers: {
    Location: { description: "LOGIN_URL with `rd`.", required: true, schema: { type: "string" as const } },
  },
};
