import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";
import { ConfigError, getConfig, secretValues } from "./config";
import { createDb, DatabaseError } from "./db/client";
import { databaseFailure, ERROR_CODES, httpError } from "./errors";
import { logEvent } from "./log";
import { adminRoutes } from "./routes/admin";
import { gatewayRoutes } from "./routes/gateway";
import { healthRoutes } from "./routes/health";
import { jwksRoutes } from "./routes/jwks";
import { mountOpenApi } from "./routes/openapi";
import { reservedRoutes } from "./routes/reserved";
import { sessionRoutes } from "./routes/sessions";
import { validateRoutes } from "./routes/validate";

/** Builds the Worker's Hono app: per-request context, the routers, one error handler. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const config = getConfig(c.env);
    c.set("config", config);
    // Every statement of this request shares one deadline: past it the check fails closed (503).
    const db = createDb(config, { timeoutMs: config.validationTimeoutMs });
    c.set("db", db);
    // Our answers about sessions must never be cached by a proxy or a browser (a route that says
    // otherwise, the public JWKS, says so itself); what the origin answers in gateway mode keeps
    // the origin's own caching headers. Set before the handler, the header goes into every answer
    // Hono builds (c.json, c.body, c.redirect); set after, Hono copies the whole response to add it.
    c.header("cache-control", "no-store");
    try {
      await next();
    } finally {
      db.release();
    }
    // Answers built as a Response of their own (HTTPException's, onError's) get it here.
    if (!c.get("fromOrigin") && !c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
  });

  app.route("/", healthRoutes);
  app.route("/", validateRoutes);
  app.route("/", sessionRoutes);
  app.route("/", adminRoutes);
  app.route("/", jwksRoutes);
  mountOpenApi(app);
  // The service's own paths under another method or name: 405 or 404, never forwarded.
  app.route("/", reservedRoutes(app.routes));
  // Last, and a catch-all: in gateway mode it forwards every path the service does not answer
  // itself; otherwise it answers 404, so the app needs no notFound handler of its own.
  app.route("/", gatewayRoutes);

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.res ?? fromHonoException(error);
    // The configuration may be what failed, so the secrets to keep out of the line come from the raw env.
    const secrets = c.var.config?.secrets ?? secretValues(c.env as unknown as Record<string, unknown>);
    if (error instanceof DatabaseError) {
      logEvent(
        "error",
        { event: "database_error", code: error.code, permanent: error.permanent ?? false, message: error.message },
        secrets,
      );
      return databaseFailure(error, c.var.config?.retryAfterSeconds ?? 5).getResponse();
    }
    if (error instanceof ConfigError) {
      for (const problem of error.problems) logEvent("error", { event: "config_error", problem }, secrets);
      return httpError(503, {
        error: ERROR_CODES.notConfigured,
        error_description: "The service is misconfigured; see its logs.",
      }).getResponse();
    }
    logEvent("error", { event: "unhandled_error", message: String(error), stack: error.stack }, secrets);
    return httpError(500, {
      error: ERROR_CODES.internalError,
      error_description: "Internal error.",
    }).getResponse();
  });
  return app;
}

// Hono's own exceptions (malformed JSON, an oversized body) carry only a status and a message.
function fromHonoException(error: HTTPException): Response {
  const status = error.status;
  const code = status === 400 || status === 413 ? ERROR_CODES.invalidRequest : ERROR_CODES.internalError;
  return httpError(status, {
    error: code,
    error_description: error.message || "Bad request.",
  }).getResponse();
}
