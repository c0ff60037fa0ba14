import { Hono } from "hono";
import { bearerChallenge } from "../auth/challenge";
import { endSession, endSessionsOfUser, findSessionById } from "../db/session-lifecycle";
import { sessionAuth } from "../middleware/session-auth";
import type { AppEnv } from "../types";

/**
 * The caller's own session (OWASP ASVS V7: users can see and end their sessions). Each route
 * authenticates exactly as `/v1/validate` does, with the same outcomes and RFC 6750 answers.
 */
export const sessionRoutes = new Hono<AppEnv>()
  .get("/v1/sessions/current", sessionAuth(), async (c) => {
    const { db, config, session } = c.var;
    const record = await findSessionById(db, session.id, config.idleTimeoutMinutes);
    // Checked a moment ago; gone now only if an administrator deleted the row in between.
    if (record === null) throw bearerChallenge(config.realm, "unknown");
    return c.json({ session: record });
  })
  .post("/v1/logout", sessionAuth(), async (c) => {
    const { db, config, session } = c.var;
    await endSession(db, session.id, "logout", config.idleTimeoutMinutes);
    return c.body(null, 204);
  })
  .post("/v1/sessions/revoke-others", sessionAuth(), async (c) => {
    const { db, config, session } = c.var;
    const revoked = await endSessionsOfUser(db, session.userId, "logout", {
      exceptSessionId: session.id,
      idleTimeoutMinutes: config.idleTimeoutMinutes,
    });
    return c.json({ revoked });
  });
