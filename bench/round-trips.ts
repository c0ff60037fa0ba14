/**
 * Requests that reach the stand-in per validation, and row versions written by a hot session.
 * Nothing else talks to the stand-in meanwhile, so the difference in its request count around one
 * validation is that validation's round trips.
 */
import { randomBytes } from "node:crypto";
import { type BenchContext, bearer, sleep } from "./context";
import { insertSession } from "./data";
import { timedRequest } from "./load";

export interface RoundTrips {
  valid: number;
  touched: number;
  expired: number;
  unknown: number;
  malformed: number;
}

export interface HotSessionWrites {
  /** Row versions written (xmin changes, read after every validation) for a session active just now. */
  writes: number;
  /** The same, counted by `pg_stat_user_tables.n_tup_upd` once the statistics have been flushed. */
  nTupUpd: number;
  /** A session whose touch is due at the first validation: exactly 1 is right. */
  writesTouchDue: number;
  validations: number;
  standInRequests: number;
}

const newToken = () => randomBytes(32).toString("base64url");

async function validateCounted(ctx: BenchContext, authorization: string): Promise<{ status: number; trips: number }> {
  const before = ctx.standIn.stats().requests;
  const { status } = await timedRequest(`${ctx.worker.url}/v1/validate`, { authorization });
  // A statement sent after the response (waitUntil) would arrive now.
  await sleep(100);
  return { status, trips: ctx.standIn.stats().requests - before };
}

export async function measureRoundTrips(ctx: BenchContext): Promise<RoundTrips> {
  const tokens = { valid: newToken(), touched: newToken(), expired: newToken(), unknown: newToken() };
  await insertSession(ctx.client, { token: tokens.valid, idleSeconds: 0, absoluteInSeconds: 8 * 3600 });
  const touchedId = await insertSession(ctx.client, {
    token: tokens.touched,
    idleSeconds: ctx.settings.touchIntervalSeconds * 2,
    absoluteInSeconds: 8 * 3600,
  });
  const expiredId = await insertSession(ctx.client, {
    token: tokens.expired,
    idleSeconds: (ctx.settings.idleTimeoutMinutes + 10) * 60,
    absoluteInSeconds: 8 * 3600,
  });

  const cases: [keyof RoundTrips, string, number][] = [
    ["valid", `Bearer ${tokens.valid}`, 200],
    ["touched", `Bearer ${tokens.touched}`, 200],
    ["expired", `Bearer ${tokens.expired}`, 401],
    ["unknown", `Bearer ${tokens.unknown}`, 401],
    ["malformed", "Bearer not*a*token", 401],
  ];
  const trips: RoundTrips = { valid: 0, touched: 0, expired: 0, unknown: 0, malformed: 0 };
  for (const [name, authorization, expected] of cases) {
    const { status, trips: count } = await validateCounted(ctx, authorization);
    if (status !== expected) throw new Error(`round trips: the ${name} case answered ${status}, expected ${expected}`);
    trips[name] = count;
  }

  // The two cases that write must have written: otherwise their single round trip proves nothing.
  const rows = await ctx.client.query<{ id: string; touched: boolean; is_active: boolean }>(
    "select id, last_activity_at > now() - interval '1 minute' as touched, is_active from sessions where id = any($1)",
    [[touchedId, expiredId]],
  );
  const touched = rows.rows.find((r) => r.id === touchedId);
  const expired = rows.rows.find((r) => r.id === expiredId);
  if (!touched?.touched) throw new Error("round trips: the touched case did not move last_activity_at");
  if (expired?.is_active !== false) throw new Error("round trips: the expired case did not end the session");
  return trips;
}

async function xminOf(ctx: BenchContext, id: string): Promise<string> {
  const result = await ctx.client.query<{ xmin: string }>("select xmin::text as xmin from sessions where id = $1", [
    id,
  ]);
  return result.rows[0]?.xmin ?? "";
}

/** `validations` sequential validations of one session; counts the row versions they wrote. */
async function hammer(ctx: BenchContext, id: string, token: string): Promise<{ writes: number; requests: number }> {
  const before = ctx.standIn.stats().requests;
  let xmin = await xminOf(ctx, id);
  let writes = 0;
  for (let i = 0; i < ctx.settings.hotValidations; i++) {
    const { status } = await timedRequest(`${ctx.worker.url}/v1/validate`, bearer(token));
    if (status !== 200) throw new Error(`hot session: validation ${i + 1} answered ${status}`);
    // Each validation is its own transaction: a write it made shows as a new xmin, now.
    const next = await xminOf(ctx, id);
    if (next !== xmin) writes += 1;
    xmin = next;
  }
  return { writes, requests: ctx.standIn.stats().requests - before };
}

async function updatedTuples(ctx: BenchContext): Promise<number> {
  const result = await ctx.client.query<{ n: string }>(
    "select n_tup_upd::text as n from pg_stat_user_tables where relname = 'sessions'",
  );
  return Number(result.rows[0]?.n ?? 0);
}

// A backend that flushed its statistics less than a second ago sends the next ones when it has
// been idle for 10 s (PGSTAT_IDLE_INTERVAL, PostgreSQL 15): wait that out to read a settled count.
const statsSettleMs = 11_000;

export async function measureHotSessionWrites(ctx: BenchContext): Promise<HotSessionWrites> {
  await sleep(statsSettleMs);
  const updatedBefore = await updatedTuples(ctx);
  // Inserted only now, so that all its validations fall within one touch interval from its start.
  const fresh = newToken();
  const freshId = await insertSession(ctx.client, { token: fresh, idleSeconds: 0, absoluteInSeconds: 8 * 3600 });
  const hot = await hammer(ctx, freshId, fresh);
  await sleep(statsSettleMs);
  const nTupUpd = (await updatedTuples(ctx)) - updatedBefore;

  const due = newToken();
  const dueId = await insertSession(ctx.client, {
    token: due,
    idleSeconds: ctx.settings.touchIntervalSeconds * 2,
    absoluteInSeconds: 8 * 3600,
  });
  const touchDue = await hammer(ctx, dueId, due);
  return {
    writes: hot.writes,
    nTupUpd,
    writesTouchDue: touchDue.writes,
    validations: ctx.settings.hotValidations,
    standInRequests: hot.requests,
  };
}
