/**
 * The benchmark's sizes, from the environment. `BENCH_SMOKE=1` shrinks everything to a short run
 * that exercises every phase; each size can also be set on its own.
 */
export interface BenchSettings {
  smoke: boolean;
  /** A server URL; the bench creates a database of its own there and drops it at the end. */
  serverUrl: string;
  /** Where results.json, BENCHMARKS.md and the charts go; unset: the repository (a full run) or a temporary directory (smoke). */
  outDir: string | undefined;
  /** Table sizes at which validation latency is measured, ascending; the last one is also the expiry table. */
  scaleRows: number[];
  /** Of the last table, every `expiredEvery`-th row is expired: 10 gives 10 %. */
  expiredEvery: number;
  /** Sequential validations per table size (each token twice: once due a touch, once not). */
  scaleSamples: number;
  /** Sequential checks of one session for the hot-session writes, per system. */
  hotValidations: number;
  loadConnections: number;
  loadSeconds: number;
  warmupSeconds: number;
  /** Rounds of the load runs: each round runs every system once, in a rotated order. */
  loadRounds: number;
  /** Simulated network delays between the Workers and the database (the stand-in's `delayMs`). */
  delaysMs: number[];
  /** Seconds of sequential checks per system and delay. */
  delaySeconds: number;
  /** Checks of sessions due a touch or refresh, per system and delay (each on its own session). */
  delayDueSamples: number;
  /** Bursts of simultaneous checks on a session due a touch or refresh. */
  bursts: number;
  burstSize: number;
  /** session-gate's VALID_CACHE_SECONDS for the cached variant (30 in a full run). */
  cacheSeconds: number;
  /** Revocation trials per system (for the cached variant: sessions revoked at spread moments). */
  revocationTrials: number;
  /** Requests per system and database failure. */
  downRequests: number;
  /** Alternating rounds of the expiry variants (job, job without its transaction wrapper, one batch, one UPDATE). */
  expiryRounds: number;
  touchIntervalSeconds: number;
  idleTimeoutMinutes: number;
  expiryBatchSize: number;
  /** session-gate's VALIDATION_TIMEOUT_MS, and the peers' request deadline. */
  requestTimeoutMs: number;
}

function readInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return value;
}

export function readSettings(): BenchSettings {
  const smoke = ["1", "true"].includes(process.env.BENCH_SMOKE ?? "");
  const largest = readInt("BENCH_ROWS", smoke ? 10_000 : 1_000_000);
  return {
    smoke,
    serverUrl: process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    outDir: process.env.BENCH_OUT_DIR || undefined,
    scaleRows: [largest / 100, largest / 10, largest].map((n) => Math.max(100, Math.round(n))),
    expiredEvery: 10,
    scaleSamples: readInt("BENCH_SCALE_SAMPLES", smoke ? 50 : 400),
    hotValidations: readInt("BENCH_HOT_VALIDATIONS", smoke ? 100 : 1000),
    loadConnections: readInt("BENCH_CONNECTIONS", 10),
    loadSeconds: readInt("BENCH_LOAD_SECONDS", smoke ? 2 : 10),
    warmupSeconds: readInt("BENCH_WARMUP_SECONDS", smoke ? 1 : 3),
    loadRounds: readInt("BENCH_LOAD_ROUNDS", smoke ? 1 : 8),
    delaysMs: [0, 10, 40],
    delaySeconds: readInt("BENCH_DELAY_SECONDS", smoke ? 1 : 5),
    delayDueSamples: readInt("BENCH_DELAY_DUE_SAMPLES", smoke ? 3 : 15),
    bursts: 5,
    burstSize: 10,
    cacheSeconds: readInt("BENCH_CACHE_SECONDS", smoke ? 4 : 30),
    revocationTrials: readInt("BENCH_REVOCATION_TRIALS", smoke ? 4 : 10),
    downRequests: readInt("BENCH_DOWN_REQUESTS", smoke ? 1 : 3),
    expiryRounds: readInt("BENCH_EXPIRY_ROUNDS", smoke ? 1 : 3),
    touchIntervalSeconds: 60,
    idleTimeoutMinutes: 30,
    expiryBatchSize: 5000,
    requestTimeoutMs: 2000,
  };
}

/** The bulk rows of the largest table: the one the scale phase grows to and the expiry phase copies. */
export function largestTableRows(settings: Pick<BenchSettings, "scaleRows">): number {
  const rows = settings.scaleRows.at(-1);
  if (rows === undefined) throw new Error("bench: no table sizes (scaleRows is empty)");
  return rows;
}
