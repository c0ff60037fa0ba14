import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { type Config, getConfig } from "../config";
import { createDb, DatabaseError, type Db } from "../db/client";
import { databaseFailure } from "../errors";
import { bearerChallenge, crossSiteRefusal } from "../http/challenge";
import { isBrowserNavigation, loginLocation, originalUrl } from "../http/login-redirect";
import { isSameOriginRequest } from "../http/same-origin";
import type { EntryPoint, MetricsBinding } from "../metrics";
import { checkSession } from "../sessions/check";
import type { CheckRequirements, RejectReason } from "../sessions/check-outcome";
import { APP_TYPES, type AppType } from "../sessions/constants";
import type { ValidSession } from "../sessions/session";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller's session, set by `sessionAuth()` (and by session-gate's own bearer routes). */
    session: ValidSession;
  }
}

export interface AuthenticateOptions {
  /**
   * The request is a proxy asking on a browser's behalf (`/v1/validate`): the URL to come back to
   * after login is in the proxy's headers, not the request's own.
   */
  forwarded?: boolean;
  /**
   * How a browser without a valid session is sent to LOGIN_URL: `status` answers 302 (Caddy,
   * Traefik, gateway mode pass it on); `header` answers the 401 with `X-Login-Location`, for nginx,
   * whose `auth_request` cannot pass a 302 (docs/proxies/nginx.conf redirects on it).
   */
  loginRedirect?: "status" | "header";
  /** State-changing: a cookie-authenticated request must come from a page of the same origin. */
  sameOriginForCookies?: boolean;
  /** What the check's log line and data point name as its entry point (default `session_auth`). */
  entryPoint?: EntryPoint;
}

/**
 * The check behind every HTTP entry point (`/v1/validate`, gateway mode, the bearer routes and
 * `sessionAuth()` in other apps): the request's token (bearer, else the session cookie) checked
 * in one statement, and an answer for everything but a valid session: the RFC 6750 challenge
 * (401/403), a redirect to LOGIN_URL for a browser navigation that would get the 401, or 503 when
 * the database cannot answer (never a pass, never a redirect). Inside session-gate it uses the
 * request's config and database handle; in another app it makes its own from `c.env`.
 * `Server-Timing: db;dur=<ms>` goes on the refusal; the caller puts it on its own answer.
 */
export async function authenticate(
  c: Context,
  requirements: CheckRequirements = {},
  options: AuthenticateOptions = {},
): Promise<{ session: ValidSession; serverTiming: Record<string, string> }> {
  // `c.get`, not `c.var`: Hono builds a new object of every variable on each read of `c.var`.
  const known = { config: c.get("config") as Config | undefined, db: c.get("db") as Db | undefined };
  const config = known.config ?? getConfig(c.env);
  const db = known.db ?? createDb(config, { timeoutMs: config.validationTimeoutMs });
  const presented = { authorization: c.req.header("authorization") ?? null, cookie: c.req.header("cookie") ?? null };
  let result: Awaited<ReturnType<typeof checkSession>>;
  try {
    const metrics = (c.env as MetricsBinding | undefined)?.METRICS;
    result = await checkSession(db, config, presented, requirements, {
      entryPoint: options.entryPoint ?? "session_auth",
      metrics,
    });
  } catch (error) {
    if (error instanceof DatabaseError) throw databaseFailure(error, config.retryAfterSeconds);
    throw error;
  } finally {
    // A handle made here served this one check.
    if (known.db === undefined) db.release();
  }
  const serverTiming: Record<string, string> = result.dbMs === null ? {} : { "server-timing": `db;dur=${result.dbMs}` };
  const refuse = (refusal: HTTPException) => {
    for (const [name, value] of Object.entries(serverTiming)) refusal.res?.headers.set(name, value);
    return refusal;
  };
  if (!result.outcome.ok) throw refuse(refusal(c.req.raw, config, result.outcome.reason, options));
  if (options.sameOriginForCookies && result.source === "cookie" && !isSameOriginRequest(c.req.raw)) {
    throw refuse(crossSiteRefusal());
  }
  return { session: result.outcome.session, serverTiming };
}

/** A check's refusal: the RFC 6750 challenge, or for a browser navigation the way to the login page. */
function refusal(request: Request, config: Config, reason: RejectReason, options: AuthenticateOptions): HTTPException {
  const challenge = bearerChallenge(config.realm, reason);
  // A malformed Authorization header is a client's bug, not a browser without a session; a 403
  // (scope) or a 503 never become redirects either.
  const toLogin = challenge.status === 401 && reason !== "malformed_credentials";
  if (config.loginUrl === undefined || !toLogin || !isBrowserNavigation(request.headers)) return challenge;
  const location = loginLocation(
    config.loginUrl,
    config.redirectAllowedHosts,
    originalUrl(request, options.forwarded ?? false),
  );
  if (options.loginRedirect === "header") {
    challenge.res?.headers.set("x-login-location", location);
    return challenge;
  }
  return new HTTPException(302, {
    res: new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } }),
  });
}

export interface SessionAuthOptions {
  /** Only sessions of this app type pass; others get 403 `insufficient_scope`. */
  appType?: AppType;
  /** The tenant this request requires, if any (for example from a path parameter). */
  tenantId?: (c: Context) => number | undefined;
  /**
   * For state-changing routes: a request authenticated by the session cookie (SESSION_COOKIE_NAME)
   * must come from a page of the same origin (`Sec-Fetch-Site`, else `Origin`), else 403
   * `cross_site_request`. A bearer token is never sent by a browser on its own, so it needs none.
   */
  sameOriginForCookies?: boolean;
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
    const { session } = await authenticate(
      c,
      { appType: options.appType, tenantId: options.tenantId?.(c) },
      { sameOriginForCookies: options.sameOriginForCookies },
    );
    c.set("session", session);
    await next();
  });
}
