import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { describeRoute } from "hono-openapi";
import type * as z from "zod";
import type { AppEnv } from "../app-env";
import { listSessionsOfUser } from "../db/session-lifecycle";
import { ERROR_CODES, httpError } from "../errors";
import { decodeCursor, encodeCursor } from "../http/cursor";
import { adminKey, errors, json } from "../http/describe";
import { input, jsonBody } from "../http/input";
import {
  EndedResponse,
  endSessionBody,
  endUserSessionsBody,
  IssuedSessionResponse,
  issueSessionBody,
  listSessionsQuery,
  SessionPageResponse,
  sessionIdParam,
  userIdParam,
} from "../http/schemas";
import { toSnakeCase } from "../http/session-json";
import { adminAuth } from "../middleware/admin-auth";
import { endOneSession, endSessionsOfOneUser } from "../sessions/end";
import { issueSession } from "../sessions/issue";

/** Request bodies are small JSON objects; anything larger is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;
const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw httpError(400, {
      error: ERROR_CODES.invalidRequest,
      error_description: `The request body is larger than ${MAX_BODY_BYTES} bytes.`,
      issues: [{ path: "body", message: `must be at most ${MAX_BODY_BYTES} bytes` }],
    });
  },
});

/** Administrators' endpoints: issue sessions, end one or all of a user's, list them. */
export const adminRoutes = new Hono<AppEnv>()
  .post(
    "/v1/sessions",
    describeRoute({
      operationId: "issueSession",
      summary: "Issues a session and returns its token once.",
      security: adminKey,
      responses: {
        "201": { description: "Issued.", content: json(IssuedSessionResponse) },
        ...errors("400", "401", "422", "503"),
      },
    }),
    adminAuth,
    limitBody,
    jsonBody(issueSessionBody),
    async (c) => {
      const { db, config } = c.var;
      const body = c.req.valid("json");
      const issued = await issueSession(db, config, {
        userId: body.user_id,
        tenantId: body.tenant_id,
        appType: body.app_type,
        ipAddress: body.ip_address,
        userAgent: body.user_agent,
        absoluteTimeoutHours: body.absolute_timeout_hours,
      });
      if (!issued.ok) {
        switch (issued.problem) {
          case "lifetime_too_short":
          case "lifetime_too_long":
            throw httpError(400, {
              error: ERROR_CODES.invalidRequest,
              error_description: "The request json is invalid.",
              issues: [
                {
                  path: "absolute_timeout_hours",
                  message:
                    issued.problem === "lifetime_too_short"
                      ? "must be at least 1/60 (one minute)"
                      : `must be at most ${config.maxAbsoluteTimeoutHours} (MAX_ABSOLUTE_TIMEOUT_HOURS)`,
                },
              ],
            });
          default: {
            const [what, field] = issued.problem === "unknown_user" ? ["user", "user_id"] : ["tenant", "tenant_id"];
            throw httpError(422, {
              error: ERROR_CODES.unprocessable,
              error_description: `No ${what} with this ${field} exists.`,
              issues: [{ path: field, message: `unknown ${what}` }],
            });
          }
        }
      }
      const answer = { token: issued.token, session: toSnakeCase(issued.session) };
      return c.json(answer satisfies z.output<typeof IssuedSessionResponse>, 201);
    },
  )
  .delete(
    "/v1/sessions/:id",
    describeRoute({
      operationId: "revokeSession",
      summary: "Ends one live session.",
      security: adminKey,
      responses: { "204": { description: "Ended." }, ...errors("400", "401", "404", "503") },
    }),
    adminAuth,
    limitBody,
    input("param", sessionIdParam),
    jsonBody(endSessionBody, { optional: true }),
    async (c) => {
      const { db, config } = c.var;
      const { reason } = c.req.valid("json");
      const { id } = c.req.valid("param");
      const ended = await endOneSession(db, config, id, reason);
      if (!ended) throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No such active session." });
      return c.body(null, 204);
    },
  )
  .post(
    "/v1/users/:userId/sessions/revoke",
    describeRoute({
      operationId: "revokeUserSessions",
      summary: "Ends all of a user's live sessions, optionally but one.",
      security: adminKey,
      responses: {
        "200": { description: "How many were ended.", content: json(EndedResponse) },
        ...errors("400", "401", "503"),
      },
    }),
    adminAuth,
    limitBody,
    input("param", userIdParam),
    jsonBody(endUserSessionsBody),
    async (c) => {
      const { db, config } = c.var;
      const body = c.req.valid("json");
      const { userId } = c.req.valid("param");
      const revoked = await endSessionsOfOneUser(db, config, userId, body.reason, body.except_session_id);
      return c.json({ revoked } satisfies z.output<typeof EndedResponse>, 200);
    },
  )
  .get(
    "/v1/users/:userId/sessions",
    describeRoute({
      operationId: "listUserSessions",
      summary: "A user's sessions, newest first, keyset-paginated.",
      security: adminKey,
      responses: {
        "200": { description: "One page.", content: json(SessionPageResponse) },
        ...errors("400", "401", "503"),
      },
    }),
    adminAuth,
    input("param", userIdParam),
    input("query", listSessionsQuery),
    async (c) => {
      const { db, config } = c.var;
      const query = c.req.valid("query");
      const page = await listSessionsOfUser(db, c.req.valid("param").userId, {
        active: query.active === undefined ? undefined : query.active === "true",
        limit: query.limit,
        after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        idleTimeoutMinutes: config.idleTimeoutMinutes,
      });
      const answer = {
        sessions: page.sessions.map(toSnakeCase),
        next_cursor: page.next === null ? null : encodeCursor(page.next),
      };
      return c.json(answer satisfies z.output<typeof SessionPageResponse>, 200);
    },
  );
