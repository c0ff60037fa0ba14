import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { adminAuth } from "../auth/admin-key";
import { hashToken } from "../auth/token-hash";
import { endSession, endSessionsOfUser, insertSession, listSessionsOfUser } from "../db/session-lifecycle";
import { ERROR_CODES, httpError } from "../errors";
import { DEFAULT_APP_TYPE } from "../sessions/constants";
import { generateToken } from "../sessions/token";
import type { AppEnv } from "../types";
import { decodeCursor, encodeCursor } from "./cursor";
import { input, jsonBody } from "./input";
import {
  issueSessionBody,
  listSessionsQuery,
  revokeSessionBody,
  revokeUserSessionsBody,
  sessionIdParam,
  userIdParam,
} from "./schemas";

/** The shortest absolute lifetime a session may be issued with. */
export const MIN_SESSION_LIFETIME_SECONDS = 60;

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
  .post("/v1/sessions", adminAuth, limitBody, jsonBody(issueSessionBody), async (c) => {
    const { db, config } = c.var;
    const body = c.req.valid("json");
    const hours = body.absolute_timeout_hours ?? config.absoluteTimeoutHours;
    const absoluteTimeoutSeconds = Math.round(hours * 3600);
    // A session must outlive the response that carries its token.
    if (absoluteTimeoutSeconds < MIN_SESSION_LIFETIME_SECONDS) {
      throw httpError(400, {
        error: ERROR_CODES.invalidRequest,
        error_description: "The request json is invalid.",
        issues: [{ path: "absolute_timeout_hours", message: "must be at least 1/60 (one minute)" }],
      });
    }
    if (hours > config.maxAbsoluteTimeoutHours) {
      throw httpError(400, {
        error: ERROR_CODES.invalidRequest,
        error_description: "The request json is invalid.",
        issues: [
          {
            path: "absolute_timeout_hours",
            message: `must be at most ${config.maxAbsoluteTimeoutHours} (MAX_ABSOLUTE_TIMEOUT_HOURS)`,
          },
        ],
      });
    }
    // The plaintext exists only in this response; the database gets its hash.
    const token = generateToken();
    const result = await insertSession(
      db,
      {
        userId: body.user_id,
        tenantId: body.tenant_id ?? null,
        appType: body.app_type ?? DEFAULT_APP_TYPE,
        ipAddress: body.ip_address ?? null,
        userAgent: body.user_agent ?? null,
        tokenHash: hashToken(token),
        absoluteTimeoutSeconds,
      },
      config.idleTimeoutMinutes,
    );
    if ("missing" in result) {
      const field = result.missing === "user" ? "user_id" : "tenant_id";
      throw httpError(422, {
        error: ERROR_CODES.unprocessable,
        error_description: `No ${result.missing} with this ${field} exists.`,
        issues: [{ path: field, message: `unknown ${result.missing}` }],
      });
    }
    return c.json({ token, session: result }, 201);
  })
  .delete(
    "/v1/sessions/:id",
    adminAuth,
    limitBody,
    input("param", sessionIdParam),
    jsonBody(revokeSessionBody, { optional: true }),
    async (c) => {
      const { db, config } = c.var;
      const { reason } = c.req.valid("json");
      const ended = await endSession(db, c.req.valid("param").id, reason, config.idleTimeoutMinutes);
      if (!ended) throw httpError(404, { error: ERROR_CODES.notFound, error_description: "No such active session." });
      return c.body(null, 204);
    },
  )
  .post(
    "/v1/users/:userId/sessions/revoke",
    adminAuth,
    limitBody,
    input("param", userIdParam),
    jsonBody(revokeUserSessionsBody),
    async (c) => {
      const { db, config } = c.var;
      const body = c.req.valid("json");
      const revoked = await endSessionsOfUser(db, c.req.valid("param").userId, body.reason, {
        exceptSessionId: body.except_session_id,
        idleTimeoutMinutes: config.idleTimeoutMinutes,
      });
      return c.json({ revoked });
    },
  )
  .get(
    "/v1/users/:userId/sessions",
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
      return c.json({ sessions: page.sessions, next_cursor: page.next === null ? null : encodeCursor(page.next) });
    },
  );
