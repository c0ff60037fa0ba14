import { Hono } from "hono";
import { ERROR_CODES, httpError } from "../errors";
import type { AppEnv } from "../types";
import { getOpenApiDocument } from "./openapi";

/**
 * The service's own paths (`/v1/...`, `/healthz`, `/openapi.json`) are never forwarded in gateway
 * mode, whatever the method: a request the routers before this one did not answer gets 405 with
 * `Allow` when the path is one of ours under another method, else 404. Mounted after every router
 * of the service and before the gateway's catch-all.
 */
export const reservedRoutes = new Hono<AppEnv>();
for (const path of ["/v1", "/v1/*", "/healthz", "/openapi.json"]) {
  reservedRoutes.all(path, (c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length === 0)
      throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No such route." });
    throw httpError(
      405,
      { error: ERROR_CODES.methodNotAllowed, error_description: `This route answers ${allowed.join(", ")} only.` },
      { allow: allowed.join(", ") },
    );
  });
}

let templates: { pattern: RegExp; methods: string[] }[] | undefined;

/** The methods the published API document lists for a path (HEAD wherever GET is). */
function allowedMethods(path: string): string[] {
  templates ??= Object.entries(getOpenApiDocument().paths).map(([template, operations]) => ({
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
    methods: Object.keys(operations).flatMap((m) => (m === "get" ? ["GET", "HEAD"] : [m.toUpperCase()])),
  }));
  return templates.find((t) => t.pattern.test(path))?.methods ?? [];
}
