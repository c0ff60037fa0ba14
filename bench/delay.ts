/**
 * Latency under a network delay between the Workers and the database: the stand-in holds every
 * request `delayMs` before running it (restarted on the same port for each delay). Per system and
 * delay, checks of one valid session on one connection, one after the other (so the figure is a
 * check's own latency, not a queue), and checks of sessions due a touch or refresh, each once.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { type BenchContext, bearer } from "./context";
import { quantile, round, runLoad, timedRequest } from "./load";
import type { System } from "./systems";

export interface DelayPoint {
  delayMs: number;
  /** The delay the stand-in's timers really apply here: the median of 20 timed holds in this process. */
  appliedMs: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** p50 of checks that touch or refresh (each on a session made due just before). */
  dueP50Ms: number;
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

export async function measureDelays(ctx: BenchContext, systems: System[]): Promise<Record<string, DelayPoint[]>> {
  const points: Record<string, DelayPoint[]> = Object.fromEntries(systems.map((system) => [system.name, []]));
  for (const delayMs of ctx.settings.delaysMs) {
    await ctx.standIn.start({ delayMs });
    const appliedMs = await appliedDelay(delayMs);
    for (const system of systems) {
      const url = `${system.worker.url}${system.validatePath}`;
      const session = await system.newSession();
      // Warm-up, not counted: new connections to the restarted stand-in.
      for (let i = 0; i < 5; i++) await timedRequest(url, bearer(session.token));
      const run = await runLoad({
        url: system.worker.url,
        path: system.validatePath,
        headers: bearer(session.token),
        connections: 1,
        seconds: ctx.settings.delaySeconds,
      });
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
      points[system.name]?.push(point);
      ctx.log(
        `  ${system.name} at ${delayMs} ms: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch/refresh p50 ${point.dueP50Ms} ms`,
      );
    }
  }
  await ctx.standIn.start();
  return points;
}
