/**
 * The benchmark's sizes, from the environment. `BENCH_SMOKE=1` shrinks everything to a run of
 * under a minute that exercises every phase; each size can also be set on its own.
 */
export interface BenchSettings {
  smoke: boolean;
  /** A server URL; the bench creates a database of its own there and drops it at the end. */
  serverUrl: string;
  /** Table sizes at which validation latency is measured, ascending; the last one is also the expiry table. */
  scaleRows: number[];
  /** Of the last table, every `expiredEvery`-th row is expired: 10 gives 10 %. */
  expiredEvery: number;
  /** Sequential validations per table size (each token twice: once due a touch, once not). */
  scaleSamples: number;
  /** Sequential validations of one session for `hotSessionWrites`. */
  hotValidations: number;
  loadConnections: number;
  loadSeconds: number;
  warmupSeconds: number;
  /** Validate/floor pairs, alternated. */
  loadRounds: number;
  touchIntervalSeconds: number;
  idleTimeoutMinutes: number;
  expiryBatchSize: number;
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
    scaleRows: [largest / 100, largest / 10, largest].map((n) => Math.max(100, Math.round(n))),
    expiredEvery: 10,
    scaleSamples: readInt("BENCH_SCALE_SAMPLES", smoke ? 50 : 400),
    hotValidations: readInt("BENCH_HOT_VALIDATIONS", smoke ? 100 : 1000),
    loadConnections: readInt("BENCH_CONNECTIONS", 10),
    loadSeconds: readInt("BENCH_LOAD_SECONDS", smoke ? 2 : 10),
    warmupSeconds: readInt("BENCH_WARMUP_SECONDS", smoke ? 1 : 3),
    loadRounds: readInt("BENCH_LOAD_ROUNDS", smoke ? 1 : 3),
    touchIntervalSeconds: 60,
    idleTimeoutMinutes: 30,
    expiryBatchSize: 5000,
  };
}
