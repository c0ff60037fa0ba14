import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import * as z from "zod";
import type { AppEnv } from "../app-env";
import { CHECK_FUNCTION, checkFunctionVersion } from "../db/check-function";
import { inspectDatabase } from "../db/health";
import { json, retryAfter } from "../http/describe";
import { ErrorResponse, HealthResponse } from "../http/schemas";

type Health = z.output<typeof HealthResponse>;

/**
 * Liveness and readiness in one: 200 only when the database answers and is the database this
 * code was deployed for. A misdeployment is told apart from an outage: migrations missing or
 * older than the code, or a role without the grants, answer 503 saying what to do, without a
 * `Retry-After` (waiting does not fix it); a database that does not answer, 503 with one.
 */
export const healthRoutes = new Hono<AppEnv>().get(
  "/healthz",
  describeRoute({
    operationId: "health",
    summary: "Liveness and readiness: 200 only when the database answers and has the migrations this code needs.",
    security: [],
    responses: {
      "200": { description: "The database answers, migrated for this version.", content: json(HealthResponse) },
      "503": {
        description:
          "The database does not answer (`unreachable`, with Retry-After), is not migrated for this version or the role " +
          "lacks its grants (`migrations_missing`, `migrations_outdated`, `missing_privilege`, with what to do), or the " +
          "service is misconfigured (Error, `not_configured`).",
        headers: retryAfter,
        content: json(z.union([HealthResponse, ErrorResponse])),
      },
    },
  }),
  async (c) => {
    let state: Awaited<ReturnType<typeof inspectDatabase>>;
    try {
      state = await inspectDatabase(c.var.db);
    } catch {
      // An expected state for a health check, not an error to log: the body says what is down.
      const body = { status: "unavailable", db: "unreachable" } satisfies Health;
      return c.json(body, 503, { "retry-after": String(c.var.config.retryAfterSeconds) });
    }
    const problem = misdeployment(state);
    if (problem !== undefined) return c.json({ status: "misconfigured", ...problem } satisfies Health, 503);
    return c.json({ status: "ok", db: "ok" } satisfies Health, 200);
  },
);

function misdeployment(state: Awaited<ReturnType<typeof inspectDatabase>>): Omit<Health, "status"> | undefined {
  if (state.checkFunctionVersion === null) {
    return {
      db: "migrations_missing",
      message: `The database has no ${CHECK_FUNCTION} function: run \`npm run db:migrate\` against it.`,
    };
  }
  if (state.checkFunctionVersion !== checkFunctionVersion()) {
    return {
      db: "migrations_outdated",
      message: `The database's ${CHECK_FUNCTION} is not the one this version needs: run \`npm run db:migrate\` against it.`,
    };
  }
  if (!state.canCheck) {
    return {
      db: "missing_privilege",
      message: "The Worker's role may not run the check: grant it session_gate_worker (docs/deploy.md).",
    };
  }
  return undefined;
}
