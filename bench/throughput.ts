/**
 * Every system under the same fixed-concurrency load: each round runs each target once (the
 * systems' checks, session-gate's floor route and its partial routes), in an order rotated every
 * round (`roundOrder`), so that no target always runs first or right after the
 * same one. Around each run, CPU time is read from /proc for the target's workerd process(es),
 * PostgreSQL's backends on the bench database and this process, and the stand-in's request count
 * for the target's Worker. Figures are medians over the rounds; session-gate's own ratios and
 * differences pair each of its runs with the floor's (or the part's) of the same round.
 */
import os from "node:os";
import { type BenchContext, bearer } from "./context";
import { hashOf } from "./data";
import { type LoadRun, median, round, runLoad } from "./load";
import type { System } from "./systems";
import { cpuMs, cpuMsByPid, cpuMsSince, postgresPids, rssMb, type WorkerProcess } from "./worker-process";

/**
 * What a load run targets: a system's check, or one of session-gate's bench routes that do part of
 * its check (bench/worker.ts): the floor, the check statement, the whole check without HTTP, and
 * the whole check without HTTP on the cached variant's Worker (where it answers from the cache).
 */
export type TargetName = System["name"] | "floor" | "statement" | "check-token" | "check-token-cached";

interface Target {
  name: TargetName;
  worker: WorkerProcess;
  path: string;
  headers: Record<string, string>;
  applicationName: string;
}

export interface MeasuredRun extends LoadRun {
  target: TargetName;
  round: number;
  /** CPU of the target's workerd process(es) during the run, per request served. */
  workerdCpuMsPerRequest: number;
  /** CPU of the bench's own Node process (autocannon, the stand-in, Miniflare's side), per request. */
  benchProcessCpuMsPerRequest: number;
  /** CPU of the PostgreSQL backends connected to the bench database, per request (0 when the server is elsewhere). */
  postgresCpuMsPerRequest: number;
  /** Requests that reached the stand-in from the target's Worker, per request served. */
  standInRequestsPerRequest: number;
  /** The machine's 1-minute load average at the end of the run: others' work competes for the cores. */
  loadAverage: number;
}

/** Medians over a target's runs. */
export interface LoadSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  workerdCpuMsPerCheck: number;
  postgresCpuMsPerCheck: number;
  standInRequestsPerCheck: number;
  runs: number;
}

/** session-gate's check against its floor route. */
export interface Throughput {
  validateRps: number;
  floorRps: number;
  /** The median of the rounds' ratios (check req/s / floor req/s of the same round). */
  ratio: number;
  ratios: number[];
  validateP50Ms: number;
  validateP99Ms: number;
  floorP50Ms: number;
  floorP99Ms: number;
}

export interface ThroughputResult {
  throughput: Throughput;
  /** Summed workerd CPU over the check runs / their requests (for reference). */
  cpuMsPerValidation: number;
  cpuMsPerFloorRequest: number;
  /** The median of the rounds' differences: workerd CPU per check minus per floor request, same round. */
  cpuMsOverFloor: number;
  cpuMsOverFloorByRound: number[];
  /**
   * Where cpuMsOverFloor goes, medians of the rounds' differences of workerd CPU per request:
   * the check statement over the floor's (hash, bigger statement and row), the whole check over its
   * statement (log line, outcome), /v1/validate over the whole check (Hono, middleware, headers, body).
   * `httpWithoutDatabase` measures `http` again where neither route reaches the database: the cached
   * variant's /v1/validate over its check-token route, both answered from the isolate's cache. The
   * database's round trip is what makes the other differences noisy (PostgreSQL and the stand-in
   * share the two cores), so this one is the HTTP layer's cost with the least noise. Absent when the
   * cached variant is not run.
   */
  cpuMsOverFloorParts: { statement: number; checkToken: number; http: number; httpWithoutDatabase?: number };
  bySystem: Partial<Record<TargetName, LoadSummary>>;
  memory: { rssBeforeMb: number; rssAfterMb: number };
  runs: MeasuredRun[];
}

const medianOf = (values: number[]) => round(median(values), 3);

function summarize(runs: MeasuredRun[]): LoadSummary {
  return {
    rps: medianOf(runs.map((run) => run.rps)),
    p50Ms: medianOf(runs.map((run) => run.p50Ms)),
    p99Ms: medianOf(runs.map((run) => run.p99Ms)),
    workerdCpuMsPerCheck: medianOf(runs.map((run) => run.workerdCpuMsPerRequest)),
    postgresCpuMsPerCheck: medianOf(runs.map((run) => run.postgresCpuMsPerRequest)),
    standInRequestsPerCheck: medianOf(runs.map((run) => run.standInRequestsPerRequest)),
    runs: runs.length,
  };
}

function cpuPerRequest(runs: MeasuredRun[]): number {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  const cpu = runs.reduce((sum, run) => sum + run.workerdCpuMsPerRequest * run.requests, 0);
  return round(cpu / requests, 3);
}

export async function measureThroughput(ctx: BenchContext, systems: System[]): Promise<ThroughputResult> {
  const { settings } = ctx;
  const gate = systems.find((system) => system.name === "session-gate");
  if (gate === undefined) throw new Error("throughput: session-gate is not among the systems");
  const part = (name: TargetName, system: System, path: string, headers: Record<string, string>): Target => ({
    name,
    worker: system.worker,
    path,
    headers,
    applicationName: system.applicationName,
  });
  const targets: Target[] = [];
  for (const system of systems) {
    const session = await system.newSession();
    targets.push({
      name: system.name,
      worker: system.worker,
      path: system.validatePath,
      headers: bearer(session.token),
      applicationName: system.applicationName,
    });
    if (system === gate) {
      // Each route checks a session of its own, so that no run's touches share another's row.
      const [floorToken, statementToken, checkToken] = [
        (await gate.newSession()).token,
        (await gate.newSession()).token,
        (await gate.newSession()).token,
      ];
      targets.push(
        part("floor", gate, `/__bench/floor?hash=${hashOf(floorToken)}`, {}),
        part("statement", gate, "/__bench/statement", bearer(statementToken)),
        part("check-token", gate, "/__bench/check-token", bearer(checkToken)),
      );
    }
    if (system.name === "session-gate-cached") {
      // Its own session: after its first check, answered from the cache like the variant's check.
      const { token } = await system.newSession();
      targets.push(part("check-token-cached", system, "/__bench/check-token", bearer(token)));
    }
  }
  for (const target of targets) {
    if (target.worker.workerdPids().length === 0) throw new Error(`no workerd process found for ${target.name}`);
  }

  const load = (target: Target, seconds: number) =>
    runLoad({
      url: target.worker.url,
      path: target.path,
      headers: target.headers,
      connections: settings.loadConnections,
      seconds,
    });
  const rssBeforeMb = rssMb(gate.worker.workerdPids());
  // Warm-up: JIT, the stand-in's pool, PostgreSQL's caches. Not counted.
  for (const target of targets) await load(target, settings.warmupSeconds);

  // The bench database's backends only: other work on the same server is not the checks'.
  const database = ctx.client.database;
  const runs: MeasuredRun[] = [];
  for (let pass = 0; pass < settings.loadRounds; pass++) {
    for (const target of roundOrder(targets, pass)) {
      const workerd = target.worker.workerdPids();
      const workerdBefore = cpuMs(workerd);
      const benchBefore = process.cpuUsage();
      // Backends come and go (the stand-in's pools): those started during the run count whole.
      const postgresBefore = cpuMsByPid(postgresPids(database));
      const standInBefore = ctx.standIn.requests(target.applicationName);
      const run = await load(target, settings.loadSeconds);
      if (run.failures > 0) throw new Error(`load on ${target.name}: ${run.failures} failed requests`);
      const measured: MeasuredRun = {
        ...run,
        target: target.name,
        round: pass,
        workerdCpuMsPerRequest: round3((cpuMs(workerd) - workerdBefore) / run.requests),
        benchProcessCpuMsPerRequest: round3(benchCpuMs(process.cpuUsage(benchBefore)) / run.requests),
        postgresCpuMsPerRequest: round3(cpuMsSince(postgresBefore, postgresPids(database)) / run.requests),
        standInRequestsPerRequest: round3(
          (ctx.standIn.requests(target.applicationName) - standInBefore) / run.requests,
        ),
        loadAverage: round3(os.loadavg()[0] ?? 0),
      };
      runs.push(measured);
      ctx.log(
        `  ${measured.target}: ${measured.rps} req/s, p50 ${measured.p50Ms} ms, p99 ${measured.p99Ms} ms, CPU ms/req: workerd ${measured.workerdCpuMsPerRequest}, postgres ${measured.postgresCpuMsPerRequest}, bench process ${measured.benchProcessCpuMsPerRequest}`,
      );
    }
  }
  const rssAfterMb = rssMb(gate.worker.workerdPids());

  const of = (name: TargetName) => runs.filter((run) => run.target === name);
  const bySystem = Object.fromEntries(targets.map((target) => [target.name, summarize(of(target.name))]));
  const checks = of("session-gate");
  const floors = of("floor");
  const paired = checks.map((check) => [check, floors.find((floor) => floor.round === check.round) as MeasuredRun]);
  const ratios = paired.map(([check, floor]) => round3((check as MeasuredRun).rps / (floor as MeasuredRun).rps));
  const overFloor = paired.map(([check, floor]) =>
    round3((check as MeasuredRun).workerdCpuMsPerRequest - (floor as MeasuredRun).workerdCpuMsPerRequest),
  );
  // Each part over the one before it, per round: they add up to cpuMsOverFloor.
  const partOver = (name: TargetName, before: TargetName) =>
    medianOf(
      of(name).map(
        (run) =>
          run.workerdCpuMsPerRequest -
          (of(before).find((other) => other.round === run.round) as MeasuredRun).workerdCpuMsPerRequest,
      ),
    );
  const cachedHttp =
    of("check-token-cached").length > 0 ? partOver("session-gate-cached", "check-token-cached") : undefined;
  const gateSummary = summarize(checks);
  const floorSummary = summarize(floors);
  return {
    throughput: {
      validateRps: gateSummary.rps,
      floorRps: floorSummary.rps,
      ratio: medianOf(ratios),
      ratios,
      validateP50Ms: gateSummary.p50Ms,
      validateP99Ms: gateSummary.p99Ms,
      floorP50Ms: floorSummary.p50Ms,
      floorP99Ms: floorSummary.p99Ms,
    },
    cpuMsPerValidation: cpuPerRequest(checks),
    cpuMsPerFloorRequest: cpuPerRequest(floors),
    cpuMsOverFloor: medianOf(overFloor),
    cpuMsOverFloorByRound: overFloor,
    cpuMsOverFloorParts: {
      statement: partOver("statement", "floor"),
      checkToken: partOver("check-token", "statement"),
      http: partOver("session-gate", "check-token"),
      ...(cachedHttp === undefined ? {} : { httpWithoutDatabase: cachedHttp }),
    },
    bySystem,
    memory: { rssBeforeMb, rssAfterMb },
    runs,
  };
}

/**
 * The order of round `pass`: the systems rotated by one per round, and the runs compared with each
 * other run back to back, so that the differences between them compare runs seconds apart, not
 * minutes: session-gate's check with its floor and the bench routes beside them, and the cached
 * variant's check with its cached check-token route. Within such a group the order is reversed
 * every other round, so each of two neighbours runs first in half the rounds: the runs before
 * 2026-11-30 rotated the group instead, which put session-gate's check right before its floor in
 * 5 of 7 rounds (bench/findings.md). An even number of rounds balances it exactly.
 */
function roundOrder(targets: Target[], pass: number): Target[] {
  const together: TargetName[][] = [
    ["session-gate", "floor", "statement", "check-token"],
    ["session-gate-cached", "check-token-cached"],
  ];
  // Keyed by the group's names, or by the target itself when it runs alone; in order of first appearance.
  const groups = new Map<unknown, Target[]>();
  for (const target of targets) {
    const key = together.find((names) => names.includes(target.name)) ?? target;
    groups.set(key, [...(groups.get(key) ?? []), target]);
  }
  const rotated = [...groups.values()].map((_, i, all) => all[(i + pass) % all.length] as Target[]);
  return rotated.flatMap((group) => (pass % 2 === 0 ? group : [...group].reverse()));
}

function benchCpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function round3(value: number): number {
  return round(value, 3);
}
