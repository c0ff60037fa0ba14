/**
 * Validation latency as the table grows: sequential validations of sessions drawn at random from
 * the whole table, each presented twice in a row. The first is due a touch (bulk rows were last
 * active 90-570 s ago), so it also writes; the second finds the touch just done and only reads, the
 * common case, and that one is the figure. Each size is measured against a reference table of the
 * smallest size, in alternating rounds (`ScaleReference`).
 */
import pg from "pg";
import { createScratchDatabase } from "../dev/scratch-database";
import { startStandIn } from "../dev/standin/index";
import { type BenchContext, bearer } from "./context";
import { insertBulkSessions, insertUsersAndTenants, isExpiredRow, tokenFor } from "./data";
import { median, quantile, round, timedRequest } from "./load";
import { largestTableRows } from "./settings";
import { sessionGateVars, workerLogFile } from "./systems";
import { startWorker, type WorkerProcess } from "./worker-process";

export interface ScalePoint {
  rows: number;
  /** p50 of validations that only read (the touch was just done). */
  p50Ms: number;
  p99Ms: number;
  /** p50 of the first validation of each session, which also touches it. */
  touchP50Ms: number;
  samples: number;
  /** The reference table's p50 over the same rounds (read-only validations). */
  referenceP50Ms: number;
  /** Per round, this table's p50 over the reference's (read-only validations); `ratio` is their median. */
  ratios: number[];
  ratio: number;
}

/**
 * The table every size is measured against: `rows` bulk rows in a database of their own, behind a
 * session-gate Worker of its own on the same stand-in. Each point alternates rounds between the
 * two, so a change in the machine's speed between points (minutes apart, with the throughput phase
 * between the first and the others) is not taken for a change with the table's size.
 */
export interface ScaleReference {
  rows: number;
  worker: WorkerProcess;
  stop(): Promise<void>;
}

export async function startScaleReference(
  ctx: BenchContext,
  options: { rows: number; migrations: string },
): Promise<ScaleReference> {
  const { settings } = ctx;
  const database = await createScratchDatabase(settings.serverUrl, "session_gate_bench_reference");
  let worker: WorkerProcess | undefined;
  const stop = async () => {
    await worker?.stop();
    await database.drop();
  };
  try {
    const migrator = await startStandIn({ databaseUrl: database.url, port: 0 });
    try {
      await migrator.backend.migrate(options.migrations);
    } finally {
      await migrator.close();
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await insertUsersAndTenants(client);
      const { rows } = options;
      const { expiredEvery } = settings;
      await insertBulkSessions(client, {
        from: 1,
        to: rows,
        tableRows: rows,
        expiredEvery,
        layout: "written in order",
      });
      await client.query("vacuum analyze sessions");
    } finally {
      await client.end();
    }
    const standIn = ctx.standIn.current;
    if (standIn === undefined) throw new Error("scale: the stand-in is not running");
    worker = await startWorker({
      logFile: workerLogFile("session-gate-reference"),
      vars: {
        ...sessionGateVars(settings),
        DATABASE_URL: standIn.databaseUrl(database.name, { applicationName: "session-gate-reference" }),
      },
    });
    // The measured Worker has served thousands of checks by the first scale point, a new one none:
    // warmed as little as that, the reference answered about a tenth slower in a smoke run.
    const warm = pickLiveRows(options.rows, 20, settings.expiredEvery);
    for (let k = 0; k < REFERENCE_WARMUP_CHECKS; k++) {
      await timedRequest(`${worker.url}/v1/validate`, bearer(tokenFor(warm[k % warm.length] ?? 1)));
    }
    return { rows: options.rows, worker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Grows the bulk rows from `from` to `to` (inclusive), in the order an application writes them, and
 * refreshes the planner's statistics.
 */
export async function growTable(ctx: BenchContext, from: number, to: number): Promise<void> {
  const started = performance.now();
  const tableRows = largestTableRows(ctx.settings);
  const { expiredEvery } = ctx.settings;
  await insertBulkSessions(ctx.client, { from, to, tableRows, expiredEvery, layout: "written in order" });
  await ctx.client.query("vacuum analyze sessions");
  ctx.log(`  inserted rows ${from}..${to} in ${round((performance.now() - started) / 1000, 1)} s`);
}

/** Distinct live bulk rows in 1..rows, spread at random. */
function pickLiveRows(rows: number, count: number, expiredEvery: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(count, rows - Math.ceil(rows / expiredEvery))) {
    const i = 1 + Math.floor(Math.random() * rows);
    if (!isExpiredRow(i, expiredEvery)) picked.add(i);
  }
  return [...picked];
}

/** Each session validated twice in a row: the first touches it, the second only reads. */
async function validateTwice(workerUrl: string, rows: number[]): Promise<{ touching: number[]; reading: number[] }> {
  const url = `${workerUrl}/v1/validate`;
  const touching: number[] = [];
  const reading: number[] = [];
  for (const i of rows) {
    const first = await timedRequest(url, bearer(tokenFor(i)));
    const second = await timedRequest(url, bearer(tokenFor(i)));
    if (first.status !== 200 || second.status !== 200) {
      throw new Error(`scale: row ${i} answered ${first.status}/${second.status}: ${second.body}`);
    }
    touching.push(first.ms);
    reading.push(second.ms);
  }
  return { touching, reading };
}

/** Sessions picked for this point, split into `rounds` equal parts. */
function inRounds(rows: number[], rounds: number): number[][] {
  const size = Math.floor(rows.length / rounds);
  return Array.from({ length: rounds }, (_, round) => rows.slice(round * size, (round + 1) * size));
}

/**
 * The table at `rows`, against the reference in SCALE_ROUNDS alternating rounds (which goes first
 * turns each round), each round `scaleSamples / SCALE_ROUNDS` sessions of each drawn at random.
 */
export async function measureScalePoint(
  ctx: BenchContext,
  rows: number,
  reference: ScaleReference,
): Promise<ScalePoint> {
  const { scaleSamples, expiredEvery } = ctx.settings;
  const all = pickLiveRows(rows, scaleSamples + 20, expiredEvery);
  const references = pickLiveRows(reference.rows, scaleSamples + 20, expiredEvery);
  await validateTwice(ctx.worker.url, all.slice(0, 20));
  await validateTwice(reference.worker.url, references.slice(0, 20));

  const touching: number[] = [];
  const reading: number[] = [];
  const referenceReading: number[] = [];
  const ratios: number[] = [];
  const ours = inRounds(all.slice(20), SCALE_ROUNDS);
  const theirs = inRounds(references.slice(20), SCALE_ROUNDS);
  for (let pass = 0; pass < SCALE_ROUNDS; pass++) {
    const table = () => validateTwice(ctx.worker.url, ours[pass] ?? []);
    const referenceTable = () => validateTwice(reference.worker.url, theirs[pass] ?? []);
    const [measured, against] =
      pass % 2 === 0
        ? [await table(), await referenceTable()]
        : await referenceTable().then(async (first) => [await table(), first] as const);
    touching.push(...measured.touching);
    reading.push(...measured.reading);
    referenceReading.push(...against.reading);
    ratios.push(round(quantile(measured.reading, 0.5) / quantile(against.reading, 0.5), 3));
  }
  return {
    rows,
    p50Ms: round(quantile(reading, 0.5)),
    p99Ms: round(quantile(reading, 0.99)),
    touchP50Ms: round(quantile(touching, 0.5)),
    samples: reading.length,
    referenceP50Ms: round(quantile(referenceReading, 0.5)),
    ratios,
    ratio: round(median(ratios), 3),
  };
}

export const REFERENCE_WARMUP_CHECKS = 3000;

/** Alternating rounds per scale point: enough for a median, each round still dozens of checks. */
export const SCALE_ROUNDS = 8;
