/**
 * Requests that reach the stand-in per check, for each outcome, and row versions written by a hot
 * session, per system. The stand-in counts requests per application_name, and each system's
 * Worker names its own, so another system's traffic cannot be counted as this one's.
 */
import { randomBytes } from "node:crypto";
import { type BenchContext, bearer, sleep } from "./context";
import { timedRequest } from "./load";
import type { System, TestSession } from "./systems";

export interface RoundTrips {
  valid: number;
  /** session-gate touches, the peers refresh their expiry. */
  touched: number;
  expired: number;
  unknown: number;
  malformed: number;
}

export interface HotSessionWrites {
  /** Row versions written (xmin changes, read after every check) for a session active just now. */
  writes: number;
  /** A session whose touch or refresh is due at the first check: exactly 1 is right. */
  writesTouchDue: number;
  validations: number;
  /** Requests that reached the stand-in for the hot session's checks. */
  standInRequests: number;
  /** session-gate only: the same count from `pg_stat_user_tables.n_tup_upd`, once the statistics are flushed. */
  nTupUpd?: number;
}

const unknownToken = () => randomBytes(30).toString("base64url");

/** One check, its status, and the requests it sent to the stand-in (including any sent after the answer). */
export async function checkCounted(
  ctx: BenchContext,
  system: System,
  authorization: string,
): Promise<{ status: number; trips: number; body: string }> {
  const before = ctx.standIn.requests(system.applicationName);
  const { status, body } = await timedRequest(`${system.worker.url}${system.validatePath}`, { authorization });
  // A statement sent after the response (waitUntil) would arrive now.
  await sleep(100);
  return { status, body, trips: ctx.standIn.requests(system.applicationName) - before };
}

export async function measureRoundTrips(ctx: BenchContext, system: System): Promise<RoundTrips> {
  const valid = await system.newSession();
  const touched = await system.newSession();
  await system.makeDue(touched);
  const expired = await system.newSession();
  await system.makeExpired(expired);

  const cases: [keyof RoundTrips, string, number][] = [
    ["valid", `Bearer ${valid.token}`, 200],
    ["touched", `Bearer ${touched.token}`, 200],
    ["expired", `Bearer ${expired.token}`, 401],
    ["unknown", `Bearer ${unknownToken()}`, 401],
    ["malformed", "Bearer not*a*token", 401],
  ];
  const trips: RoundTrips = { valid: 0, touched: 0, expired: 0, unknown: 0, malformed: 0 };
  for (const [name, authorization, expected] of cases) {
    const { status, trips: count, body } = await checkCounted(ctx, system, authorization);
    if (status !== expected) {
      throw new Error(`${system.name} round trips: the ${name} case answered ${status}, expected ${expected}: ${body}`);
    }
    trips[name] = count;
  }

  // The cases that write must have written: otherwise their count proves nothing.
  if (!(await system.row(touched))?.refreshed) {
    throw new Error(`${system.name} round trips: the touched case did not move the session's activity`);
  }
  if ((await system.row(expired))?.live) throw new Error(`${system.name} round trips: the expired case did not end it`);
  return trips;
}

/** `count` sequential checks of one session; counts the row versions they wrote. */
async function hammer(
  ctx: BenchContext,
  system: System,
  session: TestSession,
): Promise<{ writes: number; requests: number }> {
  const before = ctx.standIn.requests(system.applicationName);
  const xmin = async () => (await system.row(session))?.xmin ?? "gone";
  let last = await xmin();
  let writes = 0;
  for (let i = 0; i < ctx.settings.hotValidations; i++) {
    const { status } = await timedRequest(`${system.worker.url}${system.validatePath}`, bearer(session.token));
    if (status !== 200) throw new Error(`${system.name} hot session: check ${i + 1} answered ${status}`);
    // Each check's statements are their own transactions: a write shows as a new xmin, now.
    const next = await xmin();
    if (next !== last) writes += 1;
    last = next;
  }
  return { writes, requests: ctx.standIn.requests(system.applicationName) - before };
}

async function updatedTuples(ctx: BenchContext): Promise<number> {
  const result = await ctx.client.query<{ n: string }>(
    "select n_tup_upd::text as n from pg_stat_user_tables where relid = 'public.sessions'::regclass",
  );
  return Number(result.rows[0]?.n ?? 0);
}

// A backend that flushed its statistics less than a second ago sends the next ones when it has
// been idle for 10 s (PGSTAT_IDLE_INTERVAL, PostgreSQL 15): wait that out to read a settled count.
const statsSettleMs = 11_000;

export async function measureHotSessionWrites(ctx: BenchContext, system: System): Promise<HotSessionWrites> {
  // session-gate's count is checked against PostgreSQL's own statistics (nothing else writes then).
  const crossCheck = system.name === "session-gate";
  if (crossCheck) await sleep(statsSettleMs);
  const updatedBefore = crossCheck ? await updatedTuples(ctx) : 0;
  // Made only now, so that all its checks fall within one touch interval from its start.
  const fresh = await system.newSession();
  const hot = await hammer(ctx, system, fresh);
  let nTupUpd: number | undefined;
  if (crossCheck) {
    await sleep(statsSettleMs);
    nTupUpd = (await updatedTuples(ctx)) - updatedBefore;
  }

  const due = await system.newSession();
  await system.makeDue(due);
  const touchDue = await hammer(ctx, system, due);
  return {
    writes: hot.writes,
    writesTouchDue: touchDue.writes,
    validations: ctx.settings.hotValidations,
    standInRequests: hot.requests,
    ...(nTupUpd === undefined ? {} : { nTupUpd }),
  };
}
