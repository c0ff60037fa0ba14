/*
 * Metrics without a log pipeline: when the Worker has a Workers Analytics Engine dataset bound as
 * METRICS (wrangler.toml), one data point per check and one per expiry run, queryable with the SQL
 * API (docs/operations.md has the queries). Unbound, nothing is written. A metric never fails a
 * request: a write that throws is dropped.
 */

/** Where a check came in: the proxies' endpoint, gateway mode, a bearer route or another app's middleware, the binding. */
export type EntryPoint = "validate" | "gateway" | "session_auth" | "binding";

/**
 * The part of a Workers Analytics Engine dataset we use, written out so that the Node side (the
 * expiry CLI, the bench) typechecks the job without the Workers globals.
 */
export interface MetricsDataset {
  writeDataPoint(point: DataPoint): void;
}

interface DataPoint {
  indexes: string[];
  blobs: string[];
  doubles: number[];
}

/** The Worker's optional bindings besides its variables. */
export interface MetricsBinding {
  METRICS?: MetricsDataset;
}

export interface CheckPoint {
  entryPoint: EntryPoint;
  outcome: string;
  reason?: string;
  appType?: string;
  dbMs: number | null;
  cached?: boolean;
}

/**
 * blob1 "check", blob2 entry point, blob3 outcome (valid, rejected, error), blob4 reason, blob5
 * app type; double1 database ms (0 when the database was not asked), double2 1 when answered
 * from the cache; index1 the entry point (the sampling key).
 */
export function writeCheckPoint(metrics: MetricsDataset | undefined, point: CheckPoint): void {
  // Unbound (the default): nothing to build. Every check comes through here.
  if (metrics === undefined) return;
  write(metrics, {
    indexes: [point.entryPoint],
    blobs: ["check", point.entryPoint, point.outcome, point.reason ?? "", point.appType ?? ""],
    doubles: [point.dbMs ?? 0, point.cached ? 1 : 0],
  });
}

export interface ExpiryPoint {
  ended: { idle_timeout: number; absolute_timeout: number };
  repaired: number;
  purged: number;
  batches: number;
  durationMs: number;
  cutShort: boolean;
  error?: string;
  permanent?: string;
}

/**
 * blob1 "expiry_run", blob2 "ok" or "failed", blob3 the permanent cause of a failure; double1 idle
 * ends, double2 absolute ends, double3 repaired, double4 purged, double5 batches, double6
 * duration ms, double7 1 when cut short by the time budget; index1 "expiry_run".
 */
export function writeExpiryPoint(metrics: MetricsDataset | undefined, run: ExpiryPoint): void {
  write(metrics, {
    indexes: ["expiry_run"],
    blobs: ["expiry_run", run.error === undefined ? "ok" : "failed", run.permanent ?? ""],
    doubles: [
      run.ended.idle_timeout,
      run.ended.absolute_timeout,
      run.repaired,
      run.purged,
      run.batches,
      run.durationMs,
      run.cutShort ? 1 : 0,
    ],
  });
}

function write(metrics: MetricsDataset | undefined, point: DataPoint): void {
  if (metrics === undefined) return;
  try {
    metrics.writeDataPoint(point);
  } catch {
    // A metric lost is a metric lost: the answer to the request is what matters.
  }
}
