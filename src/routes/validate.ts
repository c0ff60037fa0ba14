import { Hono } from "hono";
import * as z from "zod";
import { bearerChallenge } from "../auth/challenge";
import { checkSession } from "../sessions/check";
import { APP_TYPES } from "../sessions/constants";
import type { AppEnv } from "../types";
import { input } from "./input";
import { databaseId } from "./schemas";
import { identityHeaders, sessionJson, tenantRequirement } from "./session-http";

// Strict: a requirement the service cannot read (a misspelled `?App_Type=`) must not be dropped.
export const validateQuery = z.strictObject({
  app_type: z.enum(APP_TYPES).optional(),
  tenant_id: databaseId.optional(),
});

/**
 * The forward-auth check: nginx `auth_request`, Traefik ForwardAuth and Caddy `forward_auth` ask
 * here whether a request's session is valid and whose it is. GET, and HEAD through Hono's GET.
 */
export const validateRoutes = new Hono<AppEnv>().get("/v1/validate", input("query", validateQuery), async (c) => {
  const { config, db } = c.var;
  const query = c.req.valid("query");
  const { outcome, dbMs } = await checkSession(db, config, c.req.header("authorization") ?? null, {
    appType: query.app_type,
    tenantId: tenantRequirement(query.tenant_id, c.req.header("x-tenant-id")),
  });
  const timing: Record<string, string> = dbMs === null ? {} : { "server-timing": `db;dur=${dbMs}` };
  if (!outcome.ok) {
    const error = bearerChallenge(config.realm, outcome.reason);
    for (const [name, value] of Object.entries(timing)) error.res?.headers.set(name, value);
    throw error;
  }
  return c.json(sessionJson(outcome.session), 200, {
    ...identityHeaders(outcome.session),
    ...timing,
  });
});
