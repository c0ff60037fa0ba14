/**
 * `npm run bench` (issue 6, and the comparison with the peers): session-gate's validation and
 * expiry, and session-gate against Lucia and Better Auth (bench/peers/), each measured through its
 * real Worker in workerd, the genuine Neon driver and the local stand-in, on a PostgreSQL server.
 * Prints a table and writes bench/results.json, BENCHMARKS.md and the charts in bench/. A full run
 * takes about 15 minutes on 2 cores. `npm run bench:smoke` runs every phase on small sizes (about
 * 2 minutes) and writes its results to a temporary directory; `BENCH_OUT_DIR` sends a run's results
 * elsewhere.
 *
 * Everything it starts or creates (workerd processes, stand-ins, databases, build directories) is
 * stopped or dropped at the end, on failure and on Ctrl-C.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createScratchDatabase } from "../dev/scratch-database";
import { type Bursts, measureBursts } from "./bursts";
import type { BenchContext } from "./context";
import { countRows, insertUsersAndTenants } from "./data";
import { measureDelays } from "./delay";
import { measureDownDatabase } from "./down-database";
import { describeEnvironment } from "./environment";
import { EXPIRY_VARIANTS, measureExpiry, spreadCopy } from "./expiry";
import { round } from "./load";
import { checkTargets, printTable, type Results, writeResults } from "./report";
import type { Comparison } from "./results";
import { measureRevocation, type Revocation } from "./revocation";
import { type HotSessionWrites, measureHotSessionWrites, measureRoundTrips, type RoundTrips } from "./round-trips";
import { installWriteCounter } from "./row-writes";
import { growTable, measureScalePoint, type ScalePoint, startScaleReference } from "./scale";
import { readSettings } from "./settings";
import { standInControl } from "./standin-control";
import { createPeerSchemas, describeSystems, fillPeerTables, type SystemName, startSystems } from "./systems";
import { measureThroughput } from "./throughput";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const log = (line: string) => console.log(line);

/** Undone in reverse order, once, whichever way the run ends. */
const cleanups: { name: string; run: () => Promise<void> }[] = [];
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step.run();
      } catch (error) {
        console.error(
          `bench: cleanup "${step.name}" failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, cleaning up`);
    void cleanUp().then(() => process.exit(130));
  });
}

function undo(name: string, run: () => Promise<void>): void {
  cleanups.push({ name, run });
}

async function main(): Promise<void> {
  const started = performance.now();
  const settings = readSettings();
  const outDir =
    settings.outDir ?? (settings.smoke ? mkdtempSync(path.join(os.tmpdir(), "session-gate-bench-")) : projectRoot);
  const jsonFile = path.join(outDir, outDir === projectRoot ? "bench/results.json" : "results.json");
  log(`bench: ${settings.smoke ? "smoke run" : "full run"}, tables of ${settings.scaleRows.join(", ")} rows`);

  const database = await createScratchDatabase(settings.serverUrl, "session_gate_bench");
  undo("drop the bench database", database.drop);
  undo("drop the expiry copies", () =>
    withServer(settings.serverUrl, async (admin) => {
      const spread = spreadCopy(database.name);
      const copies = [database.name, spread].flatMap((name) =>
        EXPIRY_VARIANTS.map((v) => `${name}_${v.toLowerCase()}`),
      );
      for (const copy of [...copies, spread]) await admin.query(`drop database if exists "${copy}" with (force)`);
    }),
  );

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  undo("close the bench connection", () => client.end().catch(() => undefined));
  const environment = await describeEnvironment(client);

  const standIn = standInControl(database.url, log);
  undo("stop the stand-in", () => standIn.stop().catch(() => undefined));
  const first = await standIn.start();
  await first.backend.migrate(path.join(projectRoot, "drizzle"));
  await insertUsersAndTenants(client);
  await createPeerSchemas(client);

  const gateAndPeers = await startSystems({ settings, standIn, log }, database);
  undo("stop the Workers", gateAndPeers.stop);
  const { systems } = gateAndPeers;
  const gate = systems.find((system) => system.name === "session-gate");
  if (gate === undefined) throw new Error("session-gate did not start");
  const ctx: BenchContext = { settings, client, standIn, worker: gate.worker, log };
  // The cached variant answers most checks without the database: it takes part where that is the question.
  const uncached = systems.filter((system) => system.name !== "session-gate-cached");
  const names = systems.map((system) => system.name);

  const hotWrites: Partial<Record<SystemName, HotSessionWrites>> = {};
  const roundTrips: Partial<Record<SystemName, RoundTrips>> = {};
  const bursts: Partial<Record<SystemName, Bursts>> = {};
  const revocation: Partial<Record<SystemName, Revocation>> = {};
  log("bench: hot session writes");
  for (const system of uncached) {
    hotWrites[system.name] = await measureHotSessionWrites(ctx, system);
    log(
      `  ${system.name}: ${hotWrites[system.name]?.writes} writes, ${hotWrites[system.name]?.writesTouchDue} when due`,
    );
  }
  log("bench: round trips");
  for (const system of uncached) {
    roundTrips[system.name] = await measureRoundTrips(ctx, system);
    log(`  ${system.name}: ${JSON.stringify(roundTrips[system.name])}`);
  }
  log("bench: bursts of simultaneous checks due a touch or refresh");
  const counter = await installWriteCounter(client, [
    ...new Map(uncached.map((system) => [system.table.name, system.table])).values(),
  ]);
  try {
    for (const system of uncached) {
      bursts[system.name] = await measureBursts(ctx, system, counter);
      log(`  ${system.name}: row versions per burst ${bursts[system.name]?.writes.join(", ")}`);
    }
  } finally {
    await counter.uninstall();
  }
  log("bench: revocation");
  await Promise.all(
    systems.map(async (system) => {
      const spreadSeconds = system.name === "session-gate-cached" ? settings.cacheSeconds : 0;
      revocation[system.name] = await measureRevocation(ctx, system, { spreadSeconds });
      const r = revocation[system.name];
      log(`  ${system.name}: next check refused ${r?.refusedOnNextCheck}/${r?.trials}, lag max ${r?.maxLagMs} ms`);
    }),
  );
  log("bench: database down");
  const down = await measureDownDatabase(ctx, systems);
  log("bench: network delay");
  const delay = await measureDelays(ctx, uncached);

  const scalePoints: ScalePoint[] = [];
  let bulkRows = 0;
  const [small, middle, large] = settings.scaleRows as [number, number, number];
  // Every size against a table of the smallest size behind a Worker of its own, in alternating
  // rounds; it runs only while a scale point is measured, so the throughput phase is as before.
  const measureAt = async (sizes: number[]) => {
    const reference = await startScaleReference(ctx, { rows: small, migrations: path.join(projectRoot, "drizzle") });
    undo("stop the scale reference", reference.stop);
    try {
      for (const size of sizes) {
        await growTable(ctx, bulkRows + 1, size);
        bulkRows = size;
        const point = await measureScalePoint(ctx, size, reference);
        point.rows = await countRows(client);
        scalePoints.push(point);
        log(
          `  ${point.rows} rows: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch p50 ${point.touchP50Ms} ms; against ${reference.rows} rows (p50 ${point.referenceP50Ms} ms) ${point.ratio} (${point.ratios.join(", ")})`,
        );
      }
    } finally {
      await reference.stop();
    }
  };
  log("bench: scale");
  await measureAt([small]);
  log("bench: throughput (every system, and session-gate's floor route)");
  await fillPeerTables(client, await countRows(client));
  const load = await measureThroughput(ctx, systems);
  log("bench: scale, continued");
  await measureAt([middle, large]);

  // A template database must have no other connections: stop everything that holds one.
  log("bench: expiry");
  await gateAndPeers.stop();
  await standIn.stop();
  await client.query("vacuum analyze sessions");
  await client.end();
  const expiry = await measureExpiry({ settings, template: database.name, log });
  log(
    `  medians: job ${expiry.jobSeconds} s, without the wrapper ${expiry.jobNoWrapperSeconds} s, one batch per pass ${expiry.oneBatchSeconds} s, floor ${expiry.floorSeconds} s; slowest batch ${expiry.maxBatchSeconds} s`,
  );

  const [p10k, p100k, p1M] = scalePoints as [ScalePoint, ScalePoint, ScalePoint];
  const { batches, plan, floorExpired, endedByReason, floorEndedByReason, runs, ...expiryFigures } = expiry;
  const descriptions = describeSystems(settings);
  const comparison: Comparison = {
    systems: names,
    descriptions: Object.fromEntries(names.map((name) => [name, descriptions[name]])),
    ...(names.includes("session-gate-cached")
      ? {}
      : { cacheSkipped: "this build of session-gate has no VALID_CACHE_SECONDS variable (src/config.ts)" }),
    load: load.bySystem,
    roundTrips,
    hotWrites,
    bursts,
    delay: delay.points,
    delayHop: delay.hop,
    down,
    revocation,
  };
  const gateHot = hotWrites["session-gate"] as HotSessionWrites;
  const figures = {
    roundTrips: roundTrips["session-gate"] as RoundTrips,
    hotSessionWrites: gateHot.writes,
    throughput: load.throughput,
    cpuMsOverFloor: load.cpuMsOverFloor,
    cpuMsPerValidation: load.cpuMsPerValidation,
    scale: {
      p50Ms10k: p10k.p50Ms,
      p50Ms100k: p100k.p50Ms,
      p50Ms1M: p1M.p50Ms,
      ratio1MTo10k: p1M.ratio,
      ratios1MTo10k: p1M.ratios,
    },
    expiry: expiryFigures,
    memory: load.memory,
    comparison,
  };
  const results: Results = {
    ...figures,
    checks: checkTargets(figures, load.runs),
    details: {
      hotSession: gateHot,
      cpuMsPerFloorRequest: load.cpuMsPerFloorRequest,
      cpuMsOverFloorByRound: load.cpuMsOverFloorByRound,
      cpuMsOverFloorParts: load.cpuMsOverFloorParts,
      loadRuns: load.runs,
      scalePoints,
      expiry: { batches, plan, floorExpired, endedByReason, floorEndedByReason, runs },
    },
    settings,
    environment,
    durationSeconds: round((performance.now() - started) / 1000, 1),
  };
  console.log("");
  printTable(results.checks);
  const written = writeResults(
    results,
    jsonFile,
    path.join(outDir, "BENCHMARKS.md"),
    path.join(projectRoot, "bench/findings.md"),
  );
  log(`\nbench: wrote ${written.map((file) => path.relative(process.cwd(), file)).join(", ")}`);
  log(`bench: took ${Math.round(results.durationSeconds)} s`);
}

async function withServer<T>(serverUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    return await run(admin);
  } finally {
    await admin.end();
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
