import type { Config } from "../config";
import { DatabaseError, type Db } from "../db/client";
import type { PermanentCause } from "../db/database-error";
import {
  endExpiredSessions,
  endInconsistentSessions,
  purgeEndedSessions,
  type TimeoutReason,
} from "../db/expiry-statements";
import { logEvent } from "../log";
import { type MetricsDataset, writeExpiryPoint } from "../metrics";

/** What one run did; logged as one JSON line and returned. */
export interface ExpiryRunSummary {
  event: "expiry_run";
  /** Sessions ended by this run, per reason. */
  ended: Record<TimeoutReason, number>;
  /** Inconsistent rows (active, yet with `ended_at` or `revoked_at`) ended as 'cleanup_stale'. */
  repaired: number;
  /** Ended rows deleted under SESSION_RETENTION_DAYS (always 0 when it is unset). */
  purged: number;
  /** Statements run, each one batch. */
  batches: number;
  durationMs: number;
  /** True when the time budget ran out with work possibly left: the next run carries on. */
  cutShort: boolean;
  /** Only on a failed run: what failed. Every batch before it committed and is counted above. */
  error?: string;
  /** Only on a failed run whose cause retrying cannot fix (see `DatabaseError.permanent`). */
  permanent?: PermanentCause;
}

/** One batch of a pass: returns how many rows it handled. */
type Batch = (limit: number) => Promise<number>;

/**
 * One run of the expiry job: repairs inconsistent rows, ends expired sessions (those past their
 * absolute limit, then those idle too long, each pass reading its own partial index), then (when
 * SESSION_RETENTION_DAYS is set) purges old ended rows. Each pass runs batches of at most
 * EXPIRY_BATCH_SIZE rows until a batch comes back short; no batch starts once EXPIRY_TIME_BUDGET_MS
 * is spent, and what is left waits for the next run. Safe to run twice, or twice at once.
 *
 * A half-revoked row is only ever the repair pass's, timed out or not, so it keeps its writer's
 * `ended_at`. A failing statement rejects the run after logging the summary of what committed
 * before it; the failed batch itself changed nothing.
 *
 * `now` is the budget's clock only (tests pass a fake one); every timestamp written comes from the
 * database's now().
 *
 * @example
 * // The Worker's cron trigger (src/index.ts):
 * ctx.waitUntil(runExpiryJob(createDb(config), config));
 */
export async function runExpiryJob(
  db: Db,
  config: Config,
  options: { now?: () => number; metrics?: MetricsDataset } = {},
): Promise<ExpiryRunSummary> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const summary: ExpiryRunSummary = {
    event: "expiry_run",
    ended: { idle_timeout: 0, absolute_timeout: 0 },
    repaired: 0,
    purged: 0,
    batches: 0,
    durationMs: 0,
    cutShort: false,
  };

  // The database cancels a batch past this; the run then fails like any other, and the next
  // run carries on with what that batch left (it changed nothing: one statement, rolled back).
  const statementTimeoutMs = config.expiryStatementTimeoutMs;
  const passes: Batch[] = [
    async (limit) => {
      const repaired = await endInconsistentSessions(db, { limit, statementTimeoutMs });
      summary.repaired += repaired;
      return repaired;
    },
    ...(["absolute", "idle"] as const).map((scan) => async (limit: number) => {
      const ended = await endExpiredSessions(db, {
        idleTimeoutMinutes: config.idleTimeoutMinutes,
        limit,
        scan,
        statementTimeoutMs,
      });
      summary.ended.idle_timeout += ended.idle_timeout;
      summary.ended.absolute_timeout += ended.absolute_timeout;
      return ended.idle_timeout + ended.absolute_timeout;
    }),
  ];
  const retentionDays = config.sessionRetentionDays;
  if (retentionDays !== undefined) {
    passes.push(async (limit) => {
      const purged = await purgeEndedSessions(db, { retentionDays, limit, statementTimeoutMs });
      summary.purged += purged;
      return purged;
    });
  }

  try {
    runs: for (const runBatch of passes) {
      for (;;) {
        if (now() - startedAt >= config.expiryTimeBudgetMs) {
          summary.cutShort = true;
          break runs;
        }
        const handled = await runBatch(config.expiryBatchSize);
        summary.batches += 1;
        // A short batch means nothing was left (rows other runs hold are theirs to finish).
        if (handled < config.expiryBatchSize) break;
      }
    }
  } catch (error) {
    // The run's one log line, so what committed before the failure is on record; the rejection
    // marks the cron invocation failed (and makes the CLI exit non-zero).
    summary.durationMs = now() - startedAt;
    summary.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (error instanceof DatabaseError && error.permanent !== undefined) summary.permanent = error.permanent;
    logEvent("error", { ...summary }, config.secrets);
    writeExpiryPoint(options.metrics, summary);
    throw error;
  }
  summary.durationMs = now() - startedAt;
  logEvent("info", { ...summary }, config.secrets);
  writeExpiryPoint(options.metrics, summary);
  return summary;
}
