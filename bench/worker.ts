/**
 * The Worker as the benchmark runs it: the production app from src/app.ts, plus one route that
 * exists only in this build. `GET /__bench/floor?hash=<sha256 hex>` runs the cheapest useful
 * statement (a point lookup on the token-hash index) through the same driver, config and
 * stand-in, so the ratio of /v1/validate to it is what validation costs on top of one round trip.
 */
import { sql } from "drizzle-orm";
import { createApp } from "../src/app";
import type { Env } from "../src/config";
import { getConfig } from "../src/config";
import { createDb, queryRows } from "../src/db/client";

const app = createApp();

async function floor(url: URL, env: Env): Promise<Response> {
  const config = getConfig(env);
  const db = createDb(config, { timeoutMs: config.validationTimeoutMs });
  const hash = url.searchParams.get("hash") ?? "";
  const rows = await queryRows<{ id: string }>(db, sql`select id from sessions where session_token_hash = ${hash}`);
  return Response.json({ found: rows.length > 0 });
}

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/__bench/floor") return floor(url, env);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
