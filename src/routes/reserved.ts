import { Hono } from "hono";
import type { RouterRoute } from "hono/types";
import type { AppEnv } from "../app-env";
import { ERROR_CODES, httpError } from "../errors";

/** The paths that are session-gate's own: never forwarded in gateway mode, whatever the method. */
export const RESERVED_PATHS = ["/v1", "/v1/*", "/healthz", "/openapi.json", "/.well-known/jwks.json"];

/**
 * Answers a request for one of session-gate's own paths that no route took: 405 with `Allow` when
 * the path is a route's under another method, else 404. Built from the app's own route table, so
 * it cannot disagree with the routes. Mounted after every router of the service and before the
 * gateway's catch-all.
 */
export function reservedRoutes(routes: readonly RouterRoute[]): Hono<AppEnv> {
  const table = routes
    .filter((route) => route.method !== "ALL" && !route.path.includes("*"))
    .map((route) => ({ pattern: pathPattern(route.path), method: route.method }));
  const allowedMethods = (path: string) => {
    const methods = new Set(table.filter((route) => route.pattern.test(path)).map((route) => route.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods];
  };
  const router = new Hono<AppEnv>();
  for (const path of RESERVED_PATHS) {
    router.all(path, (c) => {
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
  return router;
}

/** A Hono route path (`/v1/sessions/:id`) as a regular expression for one request path. */
function pathPattern(path: string): RegExp {
  const escaped = path.replace(/[.+?^$()|[\]\\{}]/g, "\\$&").replace(/:[^/]+/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}
