import { Hono } from "hono";
import { sessionAuth } from "session-gate";

/** The variables this app shares with session-gate (see its docs/deploy.md); DATABASE_URL is a secret. */
type Bindings = { DATABASE_URL: string; REALM?: string; IDLE_TIMEOUT_MINUTES?: string };

/*
 * Chained, so each `sessionAuth` types `c.var.session` for the handlers after it. sessionAuth answers
 * 401/403 with the RFC 6750 challenge and 503 when the database is down: a handler only ever runs
 * for a valid session.
 */
const app = new Hono<{ Bindings: Bindings }>()
  .get("/", (c) => c.text("public"))
  // Any valid session.
  .use("/me", sessionAuth())
  .get("/me", (c) => c.json({ userId: c.var.session.userId, sessionId: c.var.session.id }))
  // Only tenant_app sessions, and only of the tenant in the path (another tenant's is a 403).
  .use(
    "/tenants/:tenantId/*",
    sessionAuth({ appType: "tenant_app", tenantId: (c) => Number(c.req.param("tenantId")) || undefined }),
  )
  .get("/tenants/:tenantId/orders", (c) => c.json({ tenantId: c.var.session.tenantId, orders: [] }));

export default app;
