import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import * as z from "zod";
import type { AppEnv } from "../app-env";
import { pingDatabase } from "../db/health";
import { json, retryAfter } from "../http/describe";
import { ErrorResponse, HealthResponse } from "../http/schemas";

/** Liveness and readiness in one: 200 only when the database answers. */
export const healthRoutes = new Hono<AppEnv>().get(
  "/healthz",
  describeRoute({
    operationId: "health",
    summary: "Liveness and readiness: 200 only when the database answers.",
    security: [],
    responses: {
      "200": { description: "The database answers.", content: json(HealthResponse) },
      "503": {
        description:
          "The database does not answer (Health, with Retry-After), or the service is misconfigured (Error, `not_configured`).",
        headers: retryAfter,
        content: json(z.union([HealthResponse, ErrorResponse])),
      },
    },
  }),
  async (c) => {
    try {
      await pingDatabase(c.var.db);
      return c.json({ status: "ok", db: "ok" } satisfies z.output<typeof HealthResponse>, 200);
    } catch {
      // An expected state for a health check, not an error to log: the body says what is down.
      const body = { status: "unavailable", db: "unreachable" } satisfies z.output<typeof HealthResponse>;
      return c.json(body, 503, { "retry-after": String(c.var.config.retryAfterSeconds) });
    }
  },
);
