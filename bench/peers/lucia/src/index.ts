/**
 * Peer for `npm run bench`: Lucia v3 (lucia 3.2.2) as a bearer-token check in a Worker, with
 * @lucia-auth/adapter-drizzle over drizzle-orm/neon-http. A check is one joined SELECT (session
 * and user), plus an UPDATE when Lucia refreshes the expiry and a DELETE when it has passed.
 *   POST /issue     a user (app code: Lucia v3 has no user API) and a session through Lucia;
 *                   answers {"token"} (the token is the session id)
 *   GET  /validate  Authorization: Bearer <token> → 200 {"userId", "sessionId", "expiresAt", "fresh"} or 401
 *   GET  /healthz   200, no database
 * Its policy against session-gate's, and what it cannot express: describeSystems in bench/systems.ts
 * (shown in BENCHMARKS.md).
 */
import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import { generateIdFromEntropySize, Lucia, TimeSpan } from "lucia";
import {
  absoluteTimeoutMs,
  configureDriver,
  notFound,
  type PeerEnv,
  peerWorker,
  unauthorized,
} from "../../shared/peer-worker";
import { sessionTable, userTable } from "./schema";

interface Env extends PeerEnv {
  /** Lucia's `sessionExpiresIn` in minutes (default 30); Lucia refreshes when less than half is left. */
  SESSION_EXPIRES_MINUTES?: string;
}

declare module "lucia" {
  interface Register {
    Lucia: ReturnType<typeof newLucia>;
    DatabaseSessionAttributes: { absoluteExpiresAt: Date };
  }
}

function newLucia(db: ReturnType<typeof drizzle>, env: Env) {
  return new Lucia(new DrizzlePostgreSQLAdapter(db, sessionTable, userTable), {
    sessionExpiresIn: new TimeSpan(Number(env.SESSION_EXPIRES_MINUTES ?? "30"), "m"),
    getSessionAttributes: (attributes) => ({ absoluteExpiresAt: attributes.absoluteExpiresAt }),
  });
}

// Built once per isolate: workerd hands every request the same `env` object.
let cached: { env: Env; db: ReturnType<typeof drizzle>; lucia: ReturnType<typeof newLucia> } | undefined;
function luciaFor(env: Env) {
  if (cached?.env !== env) {
    configureDriver(env);
    const db = drizzle({ client: neon(env.DATABASE_URL) });
    cached = { env, db, lucia: newLucia(db, env) };
  }
  return cached;
}

export default peerWorker<Env>(async (request, env) => {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/healthz") return Response.json({ ok: true });
  const { db, lucia } = luciaFor(env);

  if (request.method === "POST" && url.pathname === "/issue") {
    const userId = generateIdFromEntropySize(10);
    await db.insert(userTable).values({ id: userId, username: `user-${userId}` });
    const absoluteExpiresAt = new Date(Date.now() + absoluteTimeoutMs(env));
    const session = await lucia.createSession(userId, { absoluteExpiresAt });
    return Response.json({ token: session.id, userId, expiresAt: session.expiresAt });
  }

  if (request.method === "GET" && url.pathname === "/validate") {
    const token = lucia.readBearerToken(request.headers.get("authorization") ?? "");
    if (!token) return unauthorized("lucia");
    const { session, user } = await lucia.validateSession(token);
    if (!session) return unauthorized("lucia");
    // App code, not Lucia's: past the absolute lifetime, end the session (one more statement).
    if (absoluteTimeoutMs(env) > 0 && session.absoluteExpiresAt.getTime() <= Date.now()) {
      await lucia.invalidateSession(session.id);
      return unauthorized("lucia");
    }
    return Response.json({
      userId: user.id,
      sessionId: session.id,
      expiresAt: session.expiresAt,
      fresh: session.fresh,
    });
  }
  return notFound();
});
