import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { type Config, getConfig } from "../config";
import { createDb, DatabaseError, type Db } from "../db/client";
import { databaseUnavailable } from "../errors";
import { bearerChallenge } from "../http/challenge";
import { checkSession } from "../sessions/check";
import type { CheckRequirements } from "../sessions/check-outcome";
import { APP_TYPES, type AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/session";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller's session, set by `sessionAuth()` (and by session-gate's own bearer routes). */
    session: ValidSession;
  }
}

/**
 * The check behind every HTTP entry point (`/v1/validate`, gateway mode, the bearer routes and
 * `sessionAuth()` in other apps): the request's bearer token checked in one statement, and an
 * answer for everything but a valid session: the RFC 6750 challenge (401/403), or 503 with
 * `Retry-After` when the database cannot answer (never a pass). Inside session-gate it uses the
 * request's config and database handle; in another app it makes its own from `c.env`.
 * `Server-Timing: db;dur=<ms>` goes on the challenge; the caller puts it on its own answer.
 */
export async function authenticate(
  c: Context,
  requirements: CheckRequirements = {},
): Promise<{ session: ValidSession; serverTiming: Record<string, string> }> {
  const known = c.var as { config?: Config; db?: Db };
  const config = known.config ?? getConfig(c.env);
  const db = known.db ?? createDb(config, { timeoutMs: config.validationTimeoutMs });
  let result: Awaited<ReturnType<typeof checkSession>>;
  try {
    result = await checkSession(db, config, c.req.header("authorization") ?? null, requirements);
  } catch (error) {
    if (error instanceof DatabaseError) throw databaseUnavailable(config.retryAfterSeconds);
    throw error;
  }
  const serverTiming: Record<string, string> = result.dbMs === null ? {} : { "server-timing": `db;dur=${result.dbMs}` };
  if (!result.outcome.ok) {
    const challenge = bearerChallenge(config.realm, result.outcome.reason);
    for (const [name, value] of Object.entries(serverTiming)) challenge.res?.headers.set(name, value);
    throw challenge;
  }
  return { session: result.outcome.session, serverTiming };
}

export interface SessionAuthOptions {
  /** Only sessions of this app type pass; others get 403 `insufficient_scope`. */
  appType?: AppType;
  /** The tenant this request requires, if any (for example from a path parameter). */
  tenantId?: (c: Context) => number | undefined;
}

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
 * const app = new Hono<{ Bindings: Env }>();
 * app.use("/tenant/*", sessionAuth({ appType: "tenant_app" }));
 * app.get("/tenant/me", (c) => c.json({ user: c.var.session.userId }));
 * ```
 */
export function sessionAuth(options: SessionAuthOptions = {}) {
  if (options.appType !== undefined && !APP_TYPES.includes(options.appType)) {
    throw new Error(`sessionAuth: appType must be one of ${APP_TYPES.join(", ")}`);
  }
  return createMiddleware(async (c, next) => {
    const { session } = await authenticate(c, { appType: options.appType, tenantId: options.tenantId?.(c) });
    c.set("session", session);
    await next();
  });
}
