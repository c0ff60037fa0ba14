import { Hono } from "hono";
import { pingDatabase } from "../db/health";
import type { AppEnv } from "../types";

/** Liveness and readiness in one: 200 only when the database answers. */
export const healthRoutes = new Hono<AppEnv>().get("/healthz", async (c) => {
  try {
    await pingDatabase(c.var.db);
    return c.json({ status: "ok", db: "ok" });
  } catch {
    // An expected state for a health check, not an error to log: the body says what is down.
    return c.json({ status: "unavailable", db: "unreachable" }, 503, {
      "retry-after": String(c.var.config.retryAfterSeconds),
    });
  }
});
