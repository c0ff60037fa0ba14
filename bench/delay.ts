/**
 * Latency under a network delay between the Workers and the database: the stand-in holds every
 * request `delayMs` before running it (restarted on the same port for each delay). Per system and
 * delay, checks of one valid session on one connection, one after the other (so the figure is a
 * check's own latency, not a queue), and checks of sessions due a touch or refresh, each once.
 * session-gate's floor route (one point query) is measured the same way, as what one round trip
 * costs on this set-up under each delay, and so is a bare HTTP hop (`measureHop`): a server in
 * this process that holds each request as the stand-in does and answers at once, with no Worker
 * and no database.
 *
 * What a delay adds is judged against a baseline with the same idle time: with no delay held, the
 * client pauses `delayMs` after each answer (`pausedP50Ms`). On this machine a request that arrives
 * after every process on its path sat idle for milliseconds costs more than one sent straight after
 * the last (the VM's CPUs wake, caches are cold): about 1 ms for a Node server and one PostgreSQL
 * query, with no Worker at all. A request held by the stand-in pays that too, so against p50 back to
 * back it looks like more than one round trip even for the floor route; against the paused baseline,
 * the only difference left is where the wait is, which is what one round trip costs.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleepFor } from "node:timers/promises";
import { type BenchContext, bearer } from "./context";
import { hashOf, insertSession } from "./data";
import { pacedRun, quantile, round, timedRequest } from "./load";
import type { System } from "./systems";
import type { TargetName } from "./throughput";

export interface DelayPoint {
  delayMs: number;
  /** The delay the stand-in really held this system's requests: the median of its holds during the run. */
  appliedMs: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /**
   * p50 with no delay held, the client pausing `delayMs` after each answer: the baseline with the
   * same idle time (see above). Null at 0, and in results written before it was measured.
   */
  pausedP50Ms?: number | null;
  /** p50 of checks that touch or refresh (each on a session made due just before); null for the floor route. */
  dueP50Ms: number | null;
  dueSamples: number;
}

/** The bare hop at one delay: p50 of requests held `appliedMs` (the median hold) and answered at once. */
export interface HopPoint {
  delayMs: number;
  appliedMs: number;
  p50Ms: number;
  requests: number;
  /** p50 of the same server holding nothing, the client pausing `delayMs` after each answer (null at 0). */
  pausedP50Ms?: number | null;
}

/**
 * The median of the holds the stand-in applied from index `from` on (0 without a delay). The
 * stand-in keeps its latest 10,000 holds and is restarted for each delay, and one delay's runs send
 * it a few thousand requests at most, so an index taken before a run still points at that run's first.
 */
function heldSince(ctx: BenchContext, from: number): number {
  const held = ctx.standIn.current?.stats().heldMs.slice(from) ?? [];
  return held.length === 0 ? 0 : round(quantile(held, 0.5));
}

const holdsSoFar = (ctx: BenchContext) => ctx.standIn.current?.stats().heldMs.length ?? 0;

/**
 * A bare HTTP hop on this machine: the same client, one connection, one request after another,
 * to a Node server that holds each request `delayMs` as the stand-in does (the same timer) and
 * answers two bytes; then the same server holding nothing, the client pausing `delayMs` instead.
 * The first run's p50 less its hold, against the second run's p50, is what it costs that the wait
 * is held rather than idle, with no Worker, driver or database in the way.
 */
export async function measureHop(delayMs: number, seconds: number): Promise<HopPoint> {
  const held: number[] = [];
  let holding = delayMs > 0;
  const server = createServer(async (_request, response) => {
    if (holding) {
      const since = performance.now();
      await sleepFor(delayMs);
      held.push(performance.now() - since);
    }
    response.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let i = 0; i < 5; i++) await timedRequest(`${url}/`, {});
    const run = await pacedRun({ url, path: "/", headers: {}, seconds, pauseMs: 0 });
    holding = false;
    const paused = delayMs > 0 ? await pacedRun({ url, path: "/", headers: {}, seconds, pauseMs: delayMs }) : null;
    return {
      delayMs,
      appliedMs: held.length === 0 ? 0 : round(quantile(held, 0.5)),
      p50Ms: run.p50Ms,
      requests: run.requests,
      pausedP50Ms: paused?.p50Ms ?? null,
    };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * One connection, one check after another, for `seconds`, pausing `pauseMs` after each answer;
 * after a warm-up on the restarted stand-in.
 */
async function sequentialRun(
  ctx: BenchContext,
  url: string,
  path: string,
  headers: Record<string, string>,
  pauseMs = 0,
) {
  for (let i = 0; i < 5; i++) await timedRequest(`${url}${path}`, headers);
  const run = await pacedRun({ url, path, headers, seconds: ctx.settings.delaySeconds, pauseMs });
  if (run.failures > 0) throw new Error(`${path} (pausing ${pauseMs} ms): ${run.failures} failed checks`);
  return run;
}

export async function measureDelays(
  ctx: BenchContext,
  systems: System[],
): Promise<{ points: Partial<Record<TargetName, DelayPoint[]>>; hop: HopPoint[] }> {
  const points: Partial<Record<TargetName, DelayPoint[]>> = {};
  const hop: HopPoint[] = [];
  const add = (name: TargetName, point: DelayPoint) => {
    points[name] = [...(points[name] ?? []), point];
  };
  const floorToken = randomBytes(32).toString("base64url");
  await insertSession(ctx.client, { token: floorToken, idleSeconds: 0, absoluteInSeconds: 8 * 3600 });
  const floorPath = `/__bench/floor?hash=${hashOf(floorToken)}`;
  for (const delayMs of ctx.settings.delaysMs) {
    await ctx.standIn.start({ delayMs });
    const bare = await measureHop(delayMs, ctx.settings.delaySeconds);
    hop.push(bare);
    ctx.log(`  a bare HTTP hop at ${delayMs} ms (held ${bare.appliedMs} ms): p50 ${bare.p50Ms} ms`);
    for (const system of systems) {
      const url = `${system.worker.url}${system.validatePath}`;
      const session = await system.newSession();
      const holdsBefore = holdsSoFar(ctx);
      const run = await sequentialRun(ctx, system.worker.url, system.validatePath, bearer(session.token));
      const appliedMs = heldSince(ctx, holdsBefore);
      const due: number[] = [];
      for (let i = 0; i < ctx.settings.delayDueSamples; i++) {
        const dueSession = await system.newSession();
        await system.makeDue(dueSession);
        const check = await timedRequest(url, bearer(dueSession.token));
        if (check.status !== 200) throw new Error(`${system.name}: a check due a touch answered ${check.status}`);
        due.push(check.ms);
      }
      const point: DelayPoint = {
        delayMs,
        appliedMs,
        p50Ms: run.p50Ms,
        p99Ms: run.p99Ms,
        requests: run.requests,
        pausedP50Ms: null,
        dueP50Ms: round(quantile(due, 0.5)),
        dueSamples: due.length,
      };
      add(system.name, point);
      ctx.log(
        `  ${system.name} at ${delayMs} ms: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch/refresh p50 ${point.dueP50Ms} ms`,
      );
      if (system.name === "session-gate") {
        const floorHoldsBefore = holdsSoFar(ctx);
        const floor = await sequentialRun(ctx, system.worker.url, floorPath, {});
        add("floor", {
          ...point,
          appliedMs: heldSince(ctx, floorHoldsBefore),
          p50Ms: floor.p50Ms,
          p99Ms: floor.p99Ms,
          requests: floor.requests,
          dueP50Ms: null,
          dueSamples: 0,
        });
        ctx.log(`  floor route at ${delayMs} ms: p50 ${floor.p50Ms} ms, p99 ${floor.p99Ms} ms`);
      }
    }
  }
  // The baselines with the same idle time: no delay held, the client pausing each delay instead.
  await ctx.standIn.start();
  const pauses = ctx.settings.delaysMs.filter((ms) => ms > 0);
  const paced = async (name: TargetName, url: string, path: string, headers: Record<string, string>) => {
    for (const pauseMs of pauses) {
      const run = await sequentialRun(ctx, url, path, headers, pauseMs);
      const point = points[name]?.find((p) => p.delayMs === pauseMs);
      if (point !== undefined) point.pausedP50Ms = run.p50Ms;
      ctx.log(`  ${name} at 0 ms, pausing ${pauseMs} ms between checks: p50 ${run.p50Ms} ms`);
    }
  };
  for (const system of systems) {
    const session = await system.newSession();
    await paced(system.name, system.worker.url, system.validatePath, bearer(session.token));
    if (system.name === "session-gate") await paced("floor", system.worker.url, floorPath, {});
  }
  return { points, hop };
}
