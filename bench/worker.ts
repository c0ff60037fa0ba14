/**
 * The Worker as the benchmark runs it: the production app from src/app.ts, plus routes that exist
 * only in this build, each doing part of what `GET /v1/validate` does, through the same driver,
 * config and stand-in, so that the load runs can say where a check's time goes:
 * - `GET /__bench/floor?hash=<sha256 hex>`: the cheapest useful statement (a point lookup on the
 *   token-hash index) and a tiny JSON answer: one round trip and nothing else;
 * - `GET /__bench/statement` (Authorization: Bearer): the bearer read, the SHA-256 and the check
 *   statement (`checkSessionByTokenHash`), a tiny JSON answer: what the statement adds to the floor;
 * - `GET /__bench/check-token` (Authorization: Bearer): `checkToken`, the whole check as every entry
 *   point runs it (its log line, the outcome), a tiny JSON answer: what the check adds to its
 *   statement. `/v1/validate` over it is the HTTP layer (Hono, middleware, headers, the body).
 */
import { sql } from "drizzle-orm";
import { createApp } from "../src/app";
import { type Config, type Env, getConfig } from "../src/config";
import { checkSessionByTokenHash } from "../src/db/check-statement";
import { createDb, type Db, queryRows } from "../src/db/client";
import { checkToken } from "../src/sessions/check";
import { readBearerToken } from "../src/sessions/check-bearer";
import { hashToken } from "../src/sessions/check-hash";

const app = createApp();

/**
 * Runs `use` with a database handle made as the app's middleware makes it (the request's deadline),
 * released when it is done, as the app releases it: a handle left to its deadline would cost a
 * timer firing and an abort per request that /v1/validate does not pay.
 */
async function withDb(env: Env, use: (db: Db, config: Config) => Promise<Response>): Promise<Response> {
  const config = getConfig(env);
  const db = createDb(config, { timeoutMs: config.validationTimeoutMs });
  try {
    return await use(db, config);
  } finally {
    db.release();
  }
}

function floor(url: URL, env: Env): Promise<Response> {
  return withDb(env, async (db) => {
    const hash = url.searchParams.get("hash") ?? "";
    const rows = await queryRows<{ id: string }>(db, sql`select id from sessions where session_token_hash = ${hash}`);
    return Response.json({ found: rows.length > 0 });
  });
}

function statement(request: Request, env: Env): Promise<Response> {
  return withDb(env, async (db, config) => {
    const bearer = readBearerToken(request.headers.get("authorization"));
    if (!bearer.ok) return Response.json({ status: bearer.reason }, { status: 401 });
    const lookup = await checkSessionByTokenHash(db, hashToken(bearer.token), config);
    return Response.json({ status: lookup.status }, { status: lookup.status === "valid" ? 200 : 401 });
  });
}

function wholeCheck(request: Request, env: Env): Promise<Response> {
  return withDb(env, async (db, config) => {
    const bearer = readBearerToken(request.headers.get("authorization"));
    if (!bearer.ok) return Response.json({ status: bearer.reason }, { status: 401 });
    const { outcome } = await checkToken(db, config, bearer.token);
    return Response.json({ ok: outcome.ok }, { status: outcome.ok ? 200 : 401 });
  });
}

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === "GET") {
      if (url.pathname === "/__bench/floor") return floor(url, env);
      if (url.pathname === "/__bench/statement") return statement(request, env);
      if (url.pathname === "/__bench/check-token") return wholeCheck(request, env);
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
