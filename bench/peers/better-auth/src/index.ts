/**
 * Peer for `npm run bench`: Better Auth 1.7 (better-auth 1.7.25) as a bearer-token check in a
 * Worker, with its drizzle adapter over drizzle-orm/neon-http, the bearer plugin and
 * `advanced.database.joins` (session and user in one SELECT; without it, two). A check is that
 * SELECT, plus an UPDATE when the expiry is refreshed (at most once per `updateAge`) and a SELECT
 * and a DELETE when it has passed.
 *   POST /issue     a user and a session through Better Auth's internal adapter (what every
 *                   sign-in ends in, without password hashing); answers {"token"}
 *   GET  /validate  Authorization: Bearer <token> → 200 {"userId", "sessionId", "expiresAt"} or 401
 *   GET  /healthz   200, no database
 * Its policy against session-gate's, and what it cannot express: describeSystems in bench/systems.ts
 * (shown in BENCHMARKS.md).
 */
import { neon } from "@neondatabase/serverless";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { betterAuth } from "better-auth/minimal";
import { bearer } from "better-auth/plugins/bearer";
import { drizzle } from "drizzle-orm/neon-http";
import {
  absoluteTimeoutMs,
  configureDriver,
  notFound,
  type PeerEnv,
  peerWorker,
  unauthorized,
} from "../../shared/peer-worker";
import * as schema from "./schema";

interface Env extends PeerEnv {
  BETTER_AUTH_SECRET: string;
  /** `session.expiresIn` in seconds (default 1800: 30 minutes idle). */
  SESSION_EXPIRES_IN_SECONDS?: string;
  /** `session.updateAge` in seconds (default 60: the expiry moves at most once a minute). */
  SESSION_UPDATE_AGE_SECONDS?: string;
}

function createAuth(env: Env) {
  configureDriver(env);
  const db = drizzle({ client: neon(env.DATABASE_URL), schema });
  const expiresIn = Number(env.SESSION_EXPIRES_IN_SECONDS ?? "1800");
  return betterAuth({
    baseURL: "http://localhost",
    secret: env.BETTER_AUTH_SECRET,
    database: drizzleAdapter(db, {
      provider: "pg",
      schema: {
        user: schema.user,
        session: schema.session,
        account: schema.account,
        verification: schema.verification,
      },
    }),
    session: {
      expiresIn,
      updateAge: Number(env.SESSION_UPDATE_AGE_SECONDS ?? "60"),
      // Only gates "sensitive" endpoints (deleting the account, ...); no part of a check.
      freshAge: expiresIn,
      // Off, as by default: with bearer tokens there is no session_data cookie to answer from.
      cookieCache: { enabled: false },
    },
    advanced: { database: { joins: true } },
    // Per isolate and in memory by default: off, so that it neither refuses the load nor writes.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    plugins: [bearer()],
  });
}

type Auth = ReturnType<typeof createAuth>;

// Built once per isolate: workerd hands every request the same `env` object.
let cached: { env: Env; auth: Auth } | undefined;
function authFor(env: Env): Auth {
  if (cached?.env !== env) cached = { env, auth: createAuth(env) };
  return cached.auth;
}

export default peerWorker<Env>(async (request, env) => {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/healthz") return Response.json({ ok: true });
  const auth = authFor(env);

  if (request.method === "POST" && url.pathname === "/issue") {
    const ctx = await auth.$context;
    const email = `user-${crypto.randomUUID()}@example.test`;
    const user = await ctx.internalAdapter.createUser(
      { email, name: "bench", emailVerified: true },
      { method: "admin" },
    );
    const session = await ctx.internalAdapter.createSession(user.id);
    return Response.json({ token: session.token, userId: user.id, expiresAt: session.expiresAt });
  }

  if (request.method === "GET" && url.pathname === "/validate") {
    if (!/^bearer /i.test(request.headers.get("authorization") ?? "")) return unauthorized("better-auth");
    // The bearer plugin turns the Authorization header into the session cookie getSession reads.
    let result: Awaited<ReturnType<Auth["api"]["getSession"]>>;
    try {
      result = await auth.api.getSession({ headers: request.headers });
    } catch (error) {
      // A 401 APIError: the session went away between getSession's read and its refresh.
      if ((error as { statusCode?: number }).statusCode === 401) return unauthorized("better-auth");
      throw error;
    }
    if (!result) return unauthorized("better-auth");
    // App code, not Better Auth's: past the absolute lifetime, end the session (more statements).
    if (absoluteTimeoutMs(env) > 0 && result.session.createdAt.getTime() + absoluteTimeoutMs(env) <= Date.now()) {
      await (await auth.$context).internalAdapter.deleteSession(result.session.token);
      return unauthorized("better-auth");
    }
    return Response.json({ userId: result.user.id, sessionId: result.session.id, expiresAt: result.session.expiresAt });
  }
  return notFound();
});
