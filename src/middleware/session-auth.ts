import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { bearerChallenge } from "../auth/challenge";
import { getConfig } from "../config";
import { createDb, DatabaseError } from "../db/client";
import { databaseUnavailable } from "../errors";
import { checkSession } from "../sessions/check";
import { APP_TYPES, type AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/outcome";
import type { Env } from "../types";

export interface SessionAuthOptions {
  /** Only sessions of this app type pass; others get 403 `insufficient_scope`. */
  appType?: AppType;
  /** The tenant this request requires, if any (for example from a path parameter). */
  tenantId?: (c: Context) => number | undefined;
}

type SessionAuthEnv = { Bindings: Env; Variables: { session: ValidSession } };

/**
 * Checks the request's bearer token in-process, exactly as `GET /v1/validate` does (one statement,
 * lazy expiry, throttled touch), and sets `c.var.session`. Rejections are `HTTPException`s with the
 * RFC 6750 challenge; when the database cannot answer, a 503 with `Retry-After`: never `next()`.
 * The app's bindings carry the same variables as this Worker (`DATABASE_URL`, timeouts, `REALM`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { sessionAuth } from "session-gate";
 *
 * const app = new Hono<{ Bindings: Env; Variables: { session: ValidSession } }>();
 * app.use("/tenant/*", sessionAuth({ appType: "tenant_app" }));
 * app.get("/tenant/me", (c) => c.json({ user: c.var.session.userId }));
 * ```
 */
export function sessionAuth(options: SessionAuthOptions = {}) {
  if (options.appType !== undefined && !APP_TYPES.includes(options.appType)) {
    throw new Error(`sessionAuth: appType must be one of ${APP_TYPES.join(", ")}`);
  }
  return createMiddleware<SessionAuthEnv>(async (c, next) => {
    const config = getConfig(c.env);
    const db = createDb(config, { timeoutMs: config.validationTimeoutMs });
    const requirements = { appType: options.appType, tenantId: options.tenantId?.(c) };
    let result: Awaited<ReturnType<typeof checkSession>>;
    try {
      result = await checkSession(db, config, c.req.header("authorization") ?? null, requirements);
    } catch (error) {
      // The host app's error handler does not know our errors: answer the fail-closed 503 here.
      if (error instanceof DatabaseError) throw databaseUnavailable(config.retryAfterSeconds);
      throw error;
    }
    if (!result.outcome.ok) throw bearerChallenge(config.realm, result.outcome.reason);
    c.set("session", result.outcome.session);
    await next();
  });
}
