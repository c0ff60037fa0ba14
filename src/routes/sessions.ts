import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { findSessionById } from "../db/session-lifecycle";
import { bearerChallenge } from "../http/challenge";
import { errors, json, sessionToken } from "../http/describe";
import { CurrentSessionResponse, EndedResponse } from "../http/schemas";
import { toSnakeCase } from "../http/session-json";
import { sessionAuth } from "../middleware/session-auth";
import { endOneSession, endSessionsOfOneUser } from "../sessions/end";

/**
 * The caller's own session (OWASP ASVS V7: users can see and end their sessions). Each route
 * authenticates exactly as `/v1/validate` does, with the same outcomes and RFC 6750 answers.
 */
export const sessionRoutes = new Hono<AppEnv>()
  .get(
    "/v1/sessions/current",
    describeRoute({
      operationId: "getCurrentSession",
      summary: "The caller's own session, in the seed's `to_dict` shape.",
      security: sessionToken,
      responses: {
        "200": { description: "The session.", content: json(CurrentSessionResponse) },
        ...errors("401", "503"),
      },
    }),
    sessionAuth(),
    async (c) => {
      const { db, config, session } = c.var;
      const found = await findSessionById(db, session.id, config.idleTimeoutMinutes);
      // Checked a moment ago; gone now only if an administrator deleted the row in between.
      if (found === null) throw bearerChallenge(config.realm, "unknown");
      return c.json({ session: toSnakeCase(found) } satisfies z.output<typeof CurrentSessionResponse>, 200);
    },
  )
  .post(
    "/v1/logout",
    describeRoute({
      operationId: "logout",
      summary: "Ends the caller's session (reason `logout`).",
      security: sessionToken,
      responses: { "204": { description: "Ended." }, ...errors("401", "403", "503") },
    }),
    sessionAuth({ sameOriginForCookies: true }),
    async (c) => {
      const { db, config, session } = c.var;
      await endOneSession(db, config, session.id, "logout");
      return c.body(null, 204);
    },
  )
  .post(
    "/v1/sessions/revoke-others",
    describeRoute({
      operationId: "revokeOtherSessions",
      summary: "Ends every other session of the caller's user (reason `logout`).",
      security: sessionToken,
      responses: {
        "200": { description: "How many were ended.", content: json(EndedResponse) },
        ...errors("401", "403", "503"),
      },
    }),
    sessionAuth({ sameOriginForCookies: true }),
    async (c) => {
      const { db, config, session } = c.var;
      const revoked = await endSessionsOfOneUser(db, config, session.userId, "logout", session.id);
      return c.json({ revoked } satisfies z.output<typeof EndedResponse>, 200);
    },
  );
