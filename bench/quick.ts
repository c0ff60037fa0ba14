/**
 * `npm run bench:quick`: only the throughput phase of `npm run bench` (every system, session-gate's
 * floor route and its partial routes, alternating rounds, medians), on a small table, printed and
 * not written anywhere. For trying a change to the check's CPU before the full run that records it:
 * about eleven minutes with 8 rounds of 10 s per target, about two with BENCH_LOAD_ROUNDS=1. The sizes
 * come from the same variables (BENCH_LOAD_ROUNDS, BENCH_LOAD_SECONDS, ...).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createScratchDatabase } from "../dev/scratch-database";
import type { BenchContext } from "./context";
import { insertUsersAndTenants } from "./data";
import { readSettings } from "./settings";
import { standInControl } from "./standin-control";
import { createPeerSchemas, fillPeerTables, startSystems } from "./systems";
import { measureThroughput } from "./throughput";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const log = (line: string) => console.log(line);
const settings = readSettings();

const database = await createScratchDatabase(settings.serverUrl, "session_gate_bench_quick");
const client = new pg.Client({ connectionString: database.url });
await client.connect();
const standIn = standInControl(database.url, log);
let stopSystems: (() => Promise<void>) | undefined;
try {
  const first = await standIn.start();
  await first.backend.migrate(path.join(projectRoot, "drizzle"));
  await insertUsersAndTenants(client);
  await createPeerSchemas(client);
  const started = await startSystems({ settings, standIn, log }, database);
  stopSystems = started.stop;
  const gate = started.systems.find((system) => system.name === "session-gate");
  if (gate === undefined) throw new Error("session-gate did not start");
  const ctx: BenchContext = { settings, client, standIn, worker: gate.worker, log };
  await fillPeerTables(client, 1_000);
  const load = await measureThroughput(ctx, started.systems);
  for (const [name, summary] of Object.entries(load.bySystem)) {
    log(
      `${name.padEnd(20)} ${String(summary.rps).padStart(9)} req/s  p50 ${summary.p50Ms} ms  workerd ${summary.workerdCpuMsPerCheck} ms/check`,
    );
  }
  log(`throughput.ratio ${load.throughput.ratio} (${load.throughput.ratios.join(", ")})`);
  log(`cpuMsOverFloor ${load.cpuMsOverFloor} (${load.cpuMsOverFloorByRound.join(", ")})`);
  log(`parts ${JSON.stringify(load.cpuMsOverFloorParts)}`);
} finally {
  await stopSystems?.().catch(() => undefined);
  await standIn.stop().catch(() => undefined);
  await client.end().catch(() => undefined);
  await database.drop();
}
