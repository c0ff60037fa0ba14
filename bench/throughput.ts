/**
 * /v1/validate against the floor route under the same fixed-concurrency load, alternated, with
 * workerd's CPU time and memory read from /proc around the runs.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { type BenchContext, bearer } from "./context";
import { hashOf, insertSession } from "./data";
import { type LoadRun, round, runLoad } from "./load";
import { cpuMs, cpuMsByPid, cpuMsSince, postgresPids, rssMb } from "./worker-process";

export interface Throughput {
  validateRps: number;
  floorRps: number;
  ratio: number;
  validateP50Ms: number;
  validateP99Ms: number;
  floorP50Ms: number;
  floorP99Ms: number;
}

export interface MeasuredRun extends LoadRun {
  /** CPU of the workerd process(es) during the run, per request served. */
  workerdCpuMsPerRequest: number;
  /** CPU of the bench's own Node process (autocannon, the stand-in, Miniflare's side), per request. */
  benchProcessCpuMsPerRequest: number;
  /** CPU of all PostgreSQL server processes, per request (0 when the server is not on this machine). */
  postgresCpuMsPerRequest: number;
  /** The machine's 1-minute load average at the end of the run: others' work competes for the 2 cores. */
  loadAverage: number;
}

export interface ThroughputResult {
  throughput: Throughput;
  cpuMsPerValidation: number;
  cpuMsPerFloorRequest: number;
  memory: { rssBeforeMb: number; rssAfterMb: number };
  runs: MeasuredRun[];
}

/** The run with the median requests per second (the lower middle one of an even count). */
function medianRun(runs: MeasuredRun[]): MeasuredRun {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  const run = sorted[Math.floor((sorted.length - 1) / 2)];
  if (run === undefined) throw new Error("no load runs");
  return run;
}

function cpuPerRequest(runs: MeasuredRun[], pick: (run: MeasuredRun) => number): number {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  const cpu = runs.reduce((sum, run) => sum + pick(run) * run.requests, 0);
  return round(cpu / requests, 3);
}

export async function measureThroughput(ctx: BenchContext): Promise<ThroughputResult> {
  const { settings, worker } = ctx;
  const token = randomBytes(32).toString("base64url");
  await insertSession(ctx.client, { token, idleSeconds: 0, absoluteInSeconds: 8 * 3600 });
  const targets = {
    validate: { path: "/v1/validate", headers: bearer(token) },
    floor: { path: `/__bench/floor?hash=${hashOf(token)}`, headers: {} },
  };
  const workerd = worker.workerdPids();
  if (workerd.length === 0) throw new Error("no workerd process found");

  const rssBeforeMb = rssMb(workerd);
  const load = (target: { path: string; headers: Record<string, string> }, seconds: number) =>
    runLoad({ url: worker.url, ...target, connections: settings.loadConnections, seconds });
  // Warm-up: JIT, the stand-in's pool, PostgreSQL's caches. Not counted.
  await load(targets.validate, settings.warmupSeconds);
  await load(targets.floor, settings.warmupSeconds);

  const runs: MeasuredRun[] = [];
  for (let pass = 0; pass < settings.loadRounds; pass++) {
    for (const target of [targets.validate, targets.floor]) {
      const workerdBefore = cpuMs(workerd);
      const benchBefore = process.cpuUsage();
      // Backends come and go (the stand-in's pool): only those alive at both ends are counted.
      const postgresBefore = cpuMsByPid(postgresPids());
      const run = await load(target, settings.loadSeconds);
      if (run.failures > 0) throw new Error(`load on ${run.path}: ${run.failures} failed requests`);
      const measured: MeasuredRun = {
        ...run,
        path: target === targets.validate ? "/v1/validate" : "/__bench/floor",
        workerdCpuMsPerRequest: round3((cpuMs(workerd) - workerdBefore) / run.requests),
        benchProcessCpuMsPerRequest: round3(benchCpuMs(process.cpuUsage(benchBefore)) / run.requests),
        postgresCpuMsPerRequest: round3(cpuMsSince(postgresBefore) / run.requests),
        loadAverage: round(os.loadavg()[0] ?? 0),
      };
      runs.push(measured);
      ctx.log(
        `  ${measured.path}: ${measured.rps} req/s, p50 ${measured.p50Ms} ms, p99 ${measured.p99Ms} ms, CPU ms/req: workerd ${measured.workerdCpuMsPerRequest}, postgres ${measured.postgresCpuMsPerRequest}, bench process ${measured.benchProcessCpuMsPerRequest}`,
      );
    }
  }
  const rssAfterMb = rssMb(workerd);

  const validateRuns = runs.filter((run) => run.path === "/v1/validate");
  const floorRuns = runs.filter((run) => run.path === "/__bench/floor");
  const validate = medianRun(validateRuns);
  const floor = medianRun(floorRuns);
  return {
    throughput: {
      validateRps: validate.rps,
      floorRps: floor.rps,
      ratio: round(validate.rps / floor.rps, 3),
      validateP50Ms: validate.p50Ms,
      validateP99Ms: validate.p99Ms,
      floorP50Ms: floor.p50Ms,
      floorP99Ms: floor.p99Ms,
    },
    cpuMsPerValidation: cpuPerRequest(validateRuns, (run) => run.workerdCpuMsPerRequest),
    cpuMsPerFloorRequest: cpuPerRequest(floorRuns, (run) => run.workerdCpuMsPerRequest),
    memory: { rssBeforeMb, rssAfterMb },
    runs,
  };
}

function benchCpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function round3(value: number): number {
  return round(value, 3);
}
