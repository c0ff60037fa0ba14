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
 * client pauses `delayMs` before each request (`pausedP50Ms`). The two alternate in chunks on one
 * connection (`heldAndPaused`), so that a drift of the machine over the phase falls on both alike;
 * before 2026-11-30 every baseline ran after all the held runs, minutes later. On this machine a
 * request that arrives after every process on its path sat idle for milliseconds costs more than
 * one sent straight after the last (the VM's CPUs wake, caches are cold): about 1 ms for a Node
 * server and one PostgreSQL query, with no Worker at all. A request held by the stand-in pays that
 * too, so against p50 back to back it looks like more than one round trip even for the floor route;
 * against the paused baseline, the only difference left is where the wait is, which is what one
 * round trip costs.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleepFor } from "node:timers/promises";
import { type BenchContext, bearer } from "./context";
import { hashOf, insertSession } from "./data";
import {
  type LoadRun,
  type PacedSamples,
  pacedClient,
  pacedRun,
  pacedSummary,
  quantile,
  round,
  timedRequest,
} from "./load";
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
   * p50 with no delay held, the client pausing `delayMs` before each check: the baseline with the
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

/** Chunks of each kind per target and delay: enough to spread both over the phase's few minutes, each still tens of checks. */
const CHUNKS = 5;

/**
 * One target at one delay, one connection, one check after another, after a warm-up: held, the
 * stand-in holding each check `delayMs`, and paused, the stand-in holding nothing and the client
 * pausing `delayMs` before each check; in `CHUNKS` chunks of each, alternating which comes first
 * (held-paused, paused-held, ...), `delaySeconds` of each kind in all. Their p50s are over all of
 * a kind's checks; `appliedMs` is the median of the holds the stand-in applied to them. At 0 only
 * held, which holds nothing.
 */
async function heldAndPaused(
  ctx: BenchContext,
  url: string,
  path: string,
  headers: Record<string, string>,
  delayMs: number,
): Promise<{ held: LoadRun; paused: LoadRun | null; appliedMs: number }> {
  const standIn = ctx.standIn.current;
  if (standIn === undefined) throw new Error("the stand-in is not running");
  for (let i = 0; i < 5; i++) await timedRequest(`${url}${path}`, headers);
  const client = pacedClient({ url, path, headers });
  const held: PacedSamples = { latencies: [], failures: 0, seconds: 0 };
  const paused: PacedSamples = { latencies: [], failures: 0, seconds: 0 };
  const holds: number[] = [];
  const add = (into: PacedSamples, run: PacedSamples) => {
    into.latencies.push(...run.latencies);
    into.failures += run.failures;
    into.seconds += run.seconds;
  };
  const chunkSeconds = ctx.settings.delaySeconds / (delayMs > 0 ? CHUNKS : 1);
  const runHeld = async () => {
    const from = holdsSoFar(ctx);
    add(held, await client.send(chunkSeconds, 0));
    holds.push(...standIn.stats().heldMs.slice(from));
  };
  const runPaused = async () => {
    standIn.holdFor(0);
    try {
      add(paused, await client.send(chunkSeconds, delayMs, true));
    } finally {
      standIn.holdFor(delayMs);
    }
  };
  try {
    if (delayMs === 0) await runHeld();
    for (let chunk = 0; delayMs > 0 && chunk < CHUNKS; chunk++) {
      const [first, second] = chunk % 2 === 0 ? [runHeld, runPaused] : [runPaused, runHeld];
      await first();
      await second();
    }
  } finally {
    client.close();
  }
  for (const [kind, samples] of [
    ["held", held],
    ["paused", paused],
  ] as const) {
    if (samples.failures > 0) throw new Error(`${path} at ${delayMs} ms, ${kind}: ${samples.failures} failed checks`);
  }
  return {
    held: pacedSummary(path, held),
    paused: delayMs > 0 ? pacedSummary(path, paused) : null,
    // The stand-in keeps its latest 10,000 holds; a chunk sends it a few hundred at most.
    appliedMs: holds.length === 0 ? 0 : round(quantile(holds, 0.5)),
  };
}

const paused = (point: DelayPoint) =>
  point.pausedP50Ms == null ? "" : `; held nothing, pausing as long before each: p50 ${point.pausedP50Ms} ms`;

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
      const run = await heldAndPaused(ctx, system.worker.url, system.validatePath, bearer(session.token), delayMs);
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
        appliedMs: run.appliedMs,
        p50Ms: run.held.p50Ms,
        p99Ms: run.held.p99Ms,
        requests: run.held.requests,
        pausedP50Ms: run.paused?.p50Ms ?? null,
        dueP50Ms: round(quantile(due, 0.5)),
        dueSamples: due.length,
      };
      add(system.name, point);
      ctx.log(
        `  ${system.name} at ${delayMs} ms: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch/refresh p50 ${point.dueP50Ms} ms${paused(point)}`,
      );
      if (system.name === "session-gate") {
        const floor = await heldAndPaused(ctx, system.worker.url, floorPath, {}, delayMs);
        const floorPoint: DelayPoint = {
          ...point,
          appliedMs: floor.appliedMs,
          p50Ms: floor.held.p50Ms,
          p99Ms: floor.held.p99Ms,
          requests: floor.held.requests,
          pausedP50Ms: floor.paused?.p50Ms ?? null,
          dueP50Ms: null,
          dueSamples: 0,
        };
        add("floor", floorPoint);
        ctx.log(
          `  floor route at ${delayMs} ms: p50 ${floorPoint.p50Ms} ms, p99 ${floorPoint.p99Ms} ms${paused(floorPoint)}`,
        );
      }
    }
  }
  // The phases after this one run with no delay.
  await ctx.standIn.start();
  return { points, hop };
}
