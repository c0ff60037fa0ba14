import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { assertionHeader } from "../assertion/sign";
import { errors, json, loginRedirect, sessionToken } from "../http/describe";
import { identityHeaders } from "../http/identity-headers";
import { input } from "../http/input";
import { ValidateResponse, validateQuery } from "../http/schemas";
import { toSnakeCase } from "../http/session-json";
import { tenantRequirement } from "../http/tenant-requirement";
import { authenticate } from "../middleware/session-auth";
import { APP_TYPES } from "../sessions/constants";

// Under these names by default; each name is configurable (SESSION_ID_HEADER, ...), so not required here.
const identity = (description: string) => ({ description, schema: { type: "string" as const } });

/**
 * The forward-auth check: nginx `auth_request`, Traefik ForwardAuth and Caddy `forward_auth` ask
 * here whether a request's session is valid and whose it is. GET, and HEAD through Hono's GET.
 */
export const validateRoutes = new Hono<AppEnv>().get(
  "/v1/validate",
  describeRoute({
    operationId: "validate",
    summary: "The forward-auth check (HEAD answers the same without a body).",
    security: sessionToken,
    parameters: [
      {
        // Read by tenantRequirement(), not by a validator, so described here.
        name: "X-Tenant-Id",
        in: "header",
        required: false,
        description: "A tenant the session must belong to (only narrows access); must agree with `tenant_id`.",
        schema: { type: "string", pattern: "^[1-9][0-9]{0,9}$" },
      },
    ],
    responses: {
      "200": {
        description: "A valid session; the proxy copies the identity headers to the origin.",
        headers: {
          "X-Session-Id": identity("The session's id (uuid); named by SESSION_ID_HEADER."),
          "X-User-Id": identity("The user's id; named by USER_ID_HEADER (e.g. Remote-User)."),
          "X-Tenant-Id": identity("The session's tenant id, or empty when it has none; named by TENANT_ID_HEADER."),
          "X-App-Type": identity(`The session's app type: ${APP_TYPES.join(" or ")}; named by APP_TYPE_HEADER.`),
          "X-Session-Assertion": identity(
            "With ASSERTION_SIGNING_KEY: a JWT of the identity, verifiable with /.well-known/jwks.json; named by ASSERTION_HEADER.",
          ),
          "Server-Timing": { description: "`db;dur=<ms>`: time spent in the database.", schema: { type: "string" } },
        },
        content: json(ValidateResponse),
      },
      "302": loginRedirect,
      ...errors("400", "401", "403", "503"),
    },
  }),
  input("query", validateQuery),
  async (c) => {
    const config = c.get("config");
    const query = c.req.valid("query");
    const { session, serverTiming } = await authenticate(
      c,
      { appType: query.app_type, tenantId: tenantRequirement(query.tenant_id, c.req.header("x-tenant-id")) },
      { forwarded: true, loginRedirect: query.login_redirect ?? "status", entryPoint: "validate" },
    );
    const body = { session: toSnakeCase(session) } satisfies z.output<typeof ValidateResponse>;
    return c.json(body, 200, {
      ...identityHeaders(session, config),
      ...(await assertionHeader(session, config)),
      ...serverTiming,
    });
  },
);
