/**
 * Latency under a network delay between the Workers and the database: the stand-in holds every
 * request `delayMs` before running it (restarted on the same port for each delay). Per system and
 * delay, checks of one valid session on one connection, one after the other (so the figure is a
 * check's own latency, not a queue), and checks of sessions due a touch or refresh, each once.
 * session-gate's floor route (one point query) is measured the same way, as what one round trip
 * costs on this set-up under each delay.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleepFor } from "node:timers/promises";
import { type BenchContext, bearer } from "./context";
import { hashOf, insertSession } from "./data";
import { quantile, round, runLoad, timedRequest } from "./load";
import type { System } from "./systems";
import type { TargetName } from "./throughput";

export interface DelayPoint {
  delayMs: number;
  /** The delay the stand-in's timers really apply here: the median of 20 timed holds in this process. */
  appliedMs: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** p50 of checks that touch or refresh (each on a session made due just before); null for the floor route. */
  dueP50Ms: number | null;
  dueSamples: number;
}

async function appliedDelay(delayMs: number): Promise<number> {
  if (delayMs === 0) return 0;
  const holds: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await sleepFor(delayMs);
    holds.push(performance.now() - started);
  }
  return round(quantile(holds, 0.5));
}

/** One connection, one check after another, for `seconds`; after a warm-up on the restarted stand-in. */
async function sequentialRun(ctx: BenchContext, url: string, path: string, headers: Record<string, string>) {
  for (let i = 0; i < 5; i++) await timedRequest(`${url}${path}`, headers);
  return runLoad({ url, path, headers, connections: 1, seconds: ctx.settings.delaySeconds });
}

export async function measureDelays(
  ctx: BenchContext,
  systems: System[],
): Promise<Partial<Record<TargetName, DelayPoint[]>>> {
  const points: Partial<Record<TargetName, DelayPoint[]>> = {};
  const add = (name: TargetName, point: DelayPoint) => {
    points[name] = [...(points[name] ?? []), point];
  };
  const floorToken = randomBytes(32).toString("base64url");
  await insertSession(ctx.client, { token: floorToken, idleSeconds: 0, absoluteInSeconds: 8 * 3600 });
  for (const delayMs of ctx.settings.delaysMs) {
    await ctx.standIn.start({ delayMs });
    const appliedMs = await appliedDelay(delayMs);
    for (const system of systems) {
      const url = `${system.worker.url}${system.validatePath}`;
      const session = await system.newSession();
      const run = await sequentialRun(ctx, system.worker.url, system.validatePath, bearer(session.token));
      if (run.failures > 0) throw new Error(`${system.name} at ${delayMs} ms delay: ${run.failures} failed checks`);
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
        dueP50Ms: round(quantile(due, 0.5)),
        dueSamples: due.length,
      };
      add(system.name, point);
      ctx.log(
        `  ${system.name} at ${delayMs} ms: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch/refresh p50 ${point.dueP50Ms} ms`,
      );
      if (system.name === "session-gate") {
        const floor = await sequentialRun(ctx, system.worker.url, `/__bench/floor?hash=${hashOf(floorToken)}`, {});
        if (floor.failures > 0) throw new Error(`the floor route at ${delayMs} ms delay: ${floor.failures} failures`);
        add("floor", {
          ...point,
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
  await ctx.standIn.start();
  return points;
}
