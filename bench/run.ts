/**
 * `npm run bench` (issue 6): validation and expiry measured through the real Worker in workerd, the
 * genuine Neon driver and the local stand-in, on a PostgreSQL server. Prints a table and writes
 * bench/results.json and BENCHMARKS.md. `npm run bench:smoke` runs every phase on small sizes and
 * writes its results to a temporary directory instead.
 *
 * Everything it starts or creates (workerd, stand-ins, two databases, a build directory) is stopped or
 * dropped at the end, on failure and on Ctrl-C.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createScratchDatabase } from "../dev/scratch-database";
import { startStandIn } from "../dev/standin/index";
import type { BenchContext } from "./context";
import { countRows, insertUsersAndTenants } from "./data";
import { describeEnvironment } from "./environment";
import { measureExpiry } from "./expiry";
import { round } from "./load";
import { checkTargets, printTable, type Results, writeResults } from "./report";
import { measureHotSessionWrites, measureRoundTrips } from "./round-trips";
import { growTable, measureScalePoint, type ScalePoint } from "./scale";
import { readSettings } from "./settings";
import { measureThroughput } from "./throughput";
import { startWorker } from "./worker-process";

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
  const outDir = settings.smoke ? mkdtempSync(path.join(os.tmpdir(), "session-gate-bench-")) : projectRoot;
  const logFile = path.join(os.tmpdir(), `session-gate-bench-worker-${process.pid}.log`);
  log(`bench: ${settings.smoke ? "smoke run" : "full run"}, tables of ${settings.scaleRows.join(", ")} rows`);

  const database = await createScratchDatabase(settings.serverUrl, "session_gate_bench");
  undo("drop the bench database", database.drop);
  const copy = { name: `${database.name}_copy`, url: "" };

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  undo("close the bench connection", () => client.end().catch(() => undefined));
  const environment = await describeEnvironment(client);

  const standIn = await startStandIn({ databaseUrl: database.url, port: 0, log });
  undo("stop the stand-in", () => standIn.close().catch(() => undefined));
  await standIn.backend.migrate(path.join(projectRoot, "drizzle"));
  await insertUsersAndTenants(client);

  log(`bench: bundling the Worker and starting it in workerd (log: ${logFile})`);
  const worker = await startWorker({
    logFile,
    vars: {
      DATABASE_URL: standIn.databaseUrl(database.name),
      NEON_LOCAL_HTTP: "true",
      TOUCH_INTERVAL_SECONDS: String(settings.touchIntervalSeconds),
      IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
    },
  });
  undo("stop the Worker", worker.stop);
  const ctx: BenchContext = { settings, client, standIn, worker, log };

  log("bench: hot session writes");
  const hotSession = await measureHotSessionWrites(ctx);
  log("bench: round trips");
  const roundTrips = await measureRoundTrips(ctx);

  const scalePoints: ScalePoint[] = [];
  let bulkRows = 0;
  const measureAt = async (size: number) => {
    await growTable(ctx, bulkRows + 1, size);
    bulkRows = size;
    const point = await measureScalePoint(ctx, size);
    point.rows = await countRows(client);
    scalePoints.push(point);
    log(`  ${point.rows} rows: p50 ${point.p50Ms} ms, p99 ${point.p99Ms} ms, touch p50 ${point.touchP50Ms} ms`);
  };
  const [small, middle, large] = settings.scaleRows as [number, number, number];
  log("bench: scale");
  await measureAt(small);
  log("bench: throughput (validate vs floor)");
  const load = await measureThroughput(ctx);
  log("bench: scale, continued");
  await measureAt(middle);
  await measureAt(large);

  // A template database must have no other connections: stop everything that holds one.
  log("bench: expiry");
  await worker.stop();
  await standIn.close();
  await client.query("vacuum analyze sessions");
  await client.end();
  await withServer(settings.serverUrl, (admin) =>
    admin.query(`create database "${copy.name}" template "${database.name}"`),
  );
  undo("drop the copy", async () => {
    await withServer(settings.serverUrl, (admin) => admin.query(`drop database if exists "${copy.name}" with (force)`));
  });
  const copyUrl = new URL(database.url);
  copyUrl.pathname = `/${copy.name}`;
  const expiry = await measureExpiry({ settings, jobUrl: database.url, floorUrl: copyUrl.toString(), log });
  log(`  job ${expiry.jobSeconds} s, floor ${expiry.floorSeconds} s, slowest batch ${expiry.maxBatchSeconds} s`);

  const [p10k, p100k, p1M] = scalePoints as [ScalePoint, ScalePoint, ScalePoint];
  const { batches, plan, floorExpired, endedByReason, floorEndedByReason, ...expiryFigures } = expiry;
  const figures = {
    roundTrips,
    hotSessionWrites: hotSession.writes,
    throughput: load.throughput,
    cpuMsPerValidation: load.cpuMsPerValidation,
    scale: {
      p50Ms10k: p10k.p50Ms,
      p50Ms100k: p100k.p50Ms,
      p50Ms1M: p1M.p50Ms,
      ratio1MTo10k: round(p1M.p50Ms / p10k.p50Ms, 3),
    },
    expiry: expiryFigures,
    memory: load.memory,
  };
  const results: Results = {
    ...figures,
    checks: checkTargets(figures),
    details: {
      hotSession,
      cpuMsPerFloorRequest: load.cpuMsPerFloorRequest,
      loadRuns: load.runs,
      scalePoints,
      expiry: { batches, plan, floorExpired, endedByReason, floorEndedByReason },
    },
    settings,
    environment,
    durationSeconds: round((performance.now() - started) / 1000, 1),
  };
  console.log("");
  printTable(results.checks);
  writeResults(
    results,
    path.join(outDir, settings.smoke ? "results.json" : "bench/results.json"),
    path.join(outDir, "BENCHMARKS.md"),
    path.join(projectRoot, "bench/findings.md"),
  );
  log(
    `\nbench: wrote ${settings.smoke ? `${outDir}/results.json and BENCHMARKS.md` : "bench/results.json and BENCHMARKS.md"}`,
  );
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
