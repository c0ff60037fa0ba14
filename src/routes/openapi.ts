import { Hono } from "hono";
import * as z from "zod";
import { APP_TYPES, REVOKE_REASONS } from "../sessions/constants";
import type { AppEnv } from "../types";
import {
  issueSessionBody,
  listSessionsQuery,
  revokeSessionBody,
  revokeUserSessionsBody,
  sessionIdParam,
  userIdParam,
} from "./schemas";
import { validateQuery } from "./validate";

/*
 * The OpenAPI 3.1 description, generated from the zod schemas that validate the requests (so the two
 * cannot drift), plus hand-written response shapes. test/worker/openapi.test.ts fails when a route
 * of the app is missing here. Built on first request and kept for the isolate's lifetime: it only
 * depends on code, never on configuration.
 */

type JsonSchema = Record<string, unknown>;

/** The request side of a schema (`io: "input"`): what a client may send, defaults optional. */
function requestSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: "input" }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType, where: "path" | "query") {
  const { properties = {}, required = [] } = requestSchema(schema) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || required.includes(name),
    schema: property,
  }));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ "application/json": { schema } });
const response = (description: string, name: string) => ({ description, content: json(ref(name)) });
const commonErrors = (...codes: (keyof typeof ERROR_RESPONSES)[]) =>
  Object.fromEntries(codes.map((code) => [code, { $ref: `#/components/responses/${ERROR_RESPONSES[code]}` }]));

const ERROR_RESPONSES = {
  "400": "InvalidRequest",
  "401": "Unauthorized",
  "403": "Forbidden",
  "404": "NotFound",
  "503": "Unavailable",
} as const;

const isoTime = { type: "string", format: "date-time" };
const nullableId = { type: ["integer", "null"] };

const schemas: Record<string, JsonSchema> = {
  Error: {
    type: "object",
    required: ["error", "error_description"],
    properties: {
      error: {
        type: "string",
        description: "A machine-readable code: RFC 6750's invalid_request, invalid_token, insufficient_scope, or ours.",
      },
      error_description: { type: "string" },
      issues: {
        type: "array",
        description: "One entry per invalid input field (400 and 422 only).",
        items: {
          type: "object",
          required: ["path", "message"],
          properties: { path: { type: "string" }, message: { type: "string" } },
        },
      },
    },
  },
  ValidatedSession: {
    type: "object",
    required: ["session"],
    properties: {
      session: {
        type: "object",
        required: [
          "id",
          "user_id",
          "tenant_id",
          "app_type",
          "created_at",
          "last_activity_at",
          "absolute_expires_at",
          "idle_expires_at",
        ],
        properties: {
          id: { type: "string", format: "uuid" },
          user_id: { type: "integer" },
          tenant_id: nullableId,
          app_type: { type: "string", enum: APP_TYPES },
          created_at: isoTime,
          last_activity_at: isoTime,
          absolute_expires_at: isoTime,
          idle_expires_at: isoTime,
        },
      },
    },
  },
  Session: {
    type: "object",
    description: "A session as the lifecycle API shows it; `is_active` is the effective state.",
    required: [
      "id",
      "user_id",
      "tenant_id",
      "created_at",
      "last_activity_at",
      "absolute_expires_at",
      "ip_address",
      "is_active",
      "revoked_at",
      "revoke_reason",
      "ended_at",
      "app_type",
    ],
    properties: {
      id: { type: "string", format: "uuid" },
      user_id: { type: "integer" },
      tenant_id: nullableId,
      created_at: isoTime,
      last_activity_at: isoTime,
      absolute_expires_at: isoTime,
      ip_address: { type: ["string", "null"] },
      is_active: { type: "boolean" },
      revoked_at: { type: ["string", "null"], format: "date-time" },
      revoke_reason: { enum: [...REVOKE_REASONS, null] },
      ended_at: { type: ["string", "null"], format: "date-time" },
      app_type: { type: "string", enum: APP_TYPES },
    },
  },
  CurrentSession: { type: "object", required: ["session"], properties: { session: ref("Session") } },
  IssuedSession: {
    type: "object",
    required: ["token", "session"],
    properties: {
      token: { type: "string", description: "The bearer token; shown only in this response, stored only as a hash." },
      session: ref("Session"),
    },
  },
  SessionPage: {
    type: "object",
    required: ["sessions", "next_cursor"],
    properties: {
      sessions: { type: "array", items: ref("Session") },
      next_cursor: { type: ["string", "null"], description: "Pass as `cursor` for the next page; null at the end." },
    },
  },
  Revoked: {
    type: "object",
    required: ["revoked"],
    properties: { revoked: { type: "integer", description: "How many sessions were ended." } },
  },
  Health: {
    type: "object",
    required: ["status", "db"],
    properties: { status: { enum: ["ok", "unavailable"] }, db: { enum: ["ok", "unreachable"] } },
  },
};

const wwwAuthenticate = {
  description: 'The RFC 6750 challenge, e.g. `Bearer realm="session-gate", error="invalid_token"`.',
  schema: { type: "string" },
};

const responses = {
  InvalidRequest: { description: "The input is invalid; `issues` lists each bad field.", content: json(ref("Error")) },
  Unauthorized: {
    description:
      "No token, a malformed Authorization header (401 rather than 400, so nginx auth_request passes it on), " +
      "or a token that is unknown, expired or revoked (one answer for all three).",
    headers: { "WWW-Authenticate": { ...wwwAuthenticate, required: true } },
    content: json(ref("Error")),
  },
  Forbidden: {
    description: "The session is valid but of another app type or tenant than required (`insufficient_scope`).",
    headers: { "WWW-Authenticate": { ...wwwAuthenticate, required: true } },
    content: json(ref("Error")),
  },
  NotFound: { description: "No such resource.", content: json(ref("Error")) },
  Unavailable: {
    description:
      "Fail-closed: the database did not answer in time (`temporarily_unavailable`, with Retry-After), " +
      "or the service is misconfigured (`not_configured`, e.g. admin endpoints without ADMIN_API_KEY).",
    headers: { "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer" } } },
    content: json(ref("Error")),
  },
};

const identityHeaders = Object.fromEntries(
  [
    ["X-Session-Id", "The session's id (uuid)."],
    ["X-User-Id", "The user's id."],
    ["X-Tenant-Id", "The session's tenant id, or empty when it has none."],
    ["X-App-Type", `The session's app type: ${APP_TYPES.join(" or ")}.`],
  ].map(([name, description]) => [name, { description, required: true, schema: { type: "string" } }]),
);

const sessionToken = [{ sessionToken: [] }];
const adminKey = [{ adminKey: [] }];
const jsonRequest = (schema: z.ZodType, required = true) => ({ required, content: json(requestSchema(schema)) });

function buildDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "session-gate",
      version: "1",
      description:
        "Validates opaque bearer session tokens against the `sessions` table. Forward-auth proxies (nginx " +
        "auth_request, Caddy forward_auth, Traefik ForwardAuth) call `GET /v1/validate`; see docs/proxies/.\n\n" +
        "**Gateway mode.** With ORIGIN_URL and GATEWAY_SIGNING_KEY set, every path not listed here is checked " +
        "like `/v1/validate` and, only when valid, forwarded to the origin with the identity headers and an " +
        "`X-Session-Signature` HMAC (docs/gateway.md); a rejected request gets the same 401/403/503 and never " +
        "reaches the origin. Without ORIGIN_URL those paths answer 404.",
    },
    components: {
      securitySchemes: {
        sessionToken: {
          type: "http",
          scheme: "bearer",
          description: "A session token issued by `POST /v1/sessions` (or the existing application).",
        },
        adminKey: { type: "http", scheme: "bearer", description: "The ADMIN_API_KEY secret." },
      },
      schemas,
      responses,
    },
    paths: {
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Liveness and readiness: 200 only when the database answers.",
          security: [],
          responses: {
            "200": response("The database answers.", "Health"),
            "503": {
              description: "The database does not answer.",
              headers: responses.Unavailable.headers,
              content: json(ref("Health")),
            },
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document.",
          security: [],
          responses: { "200": { description: "The OpenAPI 3.1 document.", content: json({ type: "object" }) } },
        },
      },
      "/v1/validate": {
        get: {
          operationId: "validate",
          summary: "The forward-auth check (HEAD answers the same without a body).",
          security: sessionToken,
          parameters: [
            ...parameters(validateQuery, "query"),
            {
              name: "X-Tenant-Id",
              in: "header",
              required: false,
              description: "A tenant the session must belong to (only narrows access); the query wins if both.",
              schema: { type: "string", pattern: "^[1-9][0-9]{0,9}$" },
            },
          ],
          responses: {
            "200": {
              description: "A valid session; the proxy copies the identity headers to the origin.",
              headers: {
                ...identityHeaders,
                "Server-Timing": {
                  description: "`db;dur=<ms>`: time spent in the database.",
                  schema: { type: "string" },
                },
              },
              content: json(ref("ValidatedSession")),
            },
            ...commonErrors("400", "401", "403", "503"),
          },
        },
      },
      "/v1/sessions/current": {
        get: {
          operationId: "getCurrentSession",
          summary: "The caller's own session.",
          security: sessionToken,
          responses: { "200": response("The session.", "CurrentSession"), ...commonErrors("401", "503") },
        },
      },
      "/v1/logout": {
        post: {
          operationId: "logout",
          summary: "Ends the caller's session (reason `logout`).",
          security: sessionToken,
          responses: { "204": { description: "Ended." }, ...commonErrors("401", "503") },
        },
      },
      "/v1/sessions/revoke-others": {
        post: {
          operationId: "revokeOtherSessions",
          summary: "Ends every other session of the caller's user.",
          security: sessionToken,
          responses: { "200": response("How many were ended.", "Revoked"), ...commonErrors("401", "503") },
        },
      },
      "/v1/sessions": {
        post: {
          operationId: "issueSession",
          summary: "Issues a session and returns its token once.",
          security: adminKey,
          requestBody: jsonRequest(issueSessionBody),
          responses: {
            "201": response("Issued.", "IssuedSession"),
            "422": response("The user or tenant does not exist.", "Error"),
            ...commonErrors("400", "401", "503"),
          },
        },
      },
      "/v1/sessions/{id}": {
        delete: {
          operationId: "revokeSession",
          summary: "Ends one active session.",
          security: adminKey,
          parameters: parameters(sessionIdParam, "path"),
          requestBody: jsonRequest(revokeSessionBody, false),
          responses: { "204": { description: "Ended." }, ...commonErrors("400", "401", "404", "503") },
        },
      },
      "/v1/users/{userId}/sessions/revoke": {
        post: {
          operationId: "revokeUserSessions",
          summary: "Ends all of a user's sessions, optionally but one.",
          security: adminKey,
          parameters: parameters(userIdParam, "path"),
          requestBody: jsonRequest(revokeUserSessionsBody),
          responses: { "200": response("How many were ended.", "Revoked"), ...commonErrors("400", "401", "503") },
        },
      },
      "/v1/users/{userId}/sessions": {
        get: {
          operationId: "listUserSessions",
          summary: "A user's sessions, newest first, keyset-paginated.",
          security: adminKey,
          parameters: [...parameters(userIdParam, "path"), ...parameters(listSessionsQuery, "query")],
          responses: { "200": response("One page.", "SessionPage"), ...commonErrors("400", "401", "503") },
        },
      },
    },
  };
}

let document: ReturnType<typeof buildDocument> | undefined;

/** The OpenAPI document, built once per isolate. */
export function getOpenApiDocument(): ReturnType<typeof buildDocument> {
  document ??= buildDocument();
  return document;
}

export const openapiRoutes = new Hono<AppEnv>().get("/openapi.json", (c) => c.json(getOpenApiDocument()));
