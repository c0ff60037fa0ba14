/**
 * How long a session revoked directly in the database keeps passing the check: each trial checks
 * a new session (200), commits its end with SQL, then checks every `pollMs` until the first 401.
 * Without a cache the check right after the commit must refuse. With VALID_CACHE_SECONDS, the
 * trials' revocations are spread over the cache's lifetime after the answer was remembered, so
 * that the lags cover its whole range (the longest comes from a revocation right after the check).
 */
import { type BenchContext, bearer, sleep } from "./context";
import { quantile, round, timedRequest } from "./load";
import type { System } from "./systems";

export interface Revocation {
  trials: number;
  /** Trials whose first check after the commit answered 401. */
  refusedOnNextCheck: number;
  /** From the commit to the first 401, per trial (resolution: `pollMs`). */
  lagsMs: number[];
  medianLagMs: number;
  maxLagMs: number;
  pollMs: number;
}

const pollMs = 100;

export async function measureRevocation(
  ctx: BenchContext,
  system: System,
  options: { spreadSeconds: number },
): Promise<Revocation> {
  const trials = ctx.settings.revocationTrials;
  const url = `${system.worker.url}${system.validatePath}`;
  // The longest a revoked session may pass: the spread, plus the deadline of a check.
  const giveUpMs = options.spreadSeconds * 1000 + 10_000;
  const results = await Promise.all(
    Array.from({ length: trials }, async (_, trial) => {
      const session = await system.newSession();
      const first = await timedRequest(url, bearer(session.token));
      if (first.status !== 200) throw new Error(`${system.name} revocation: a new session answered ${first.status}`);
      await sleep((trial * options.spreadSeconds * 1000) / trials);
      await system.revoke(session);
      const committed = performance.now();
      for (let check = 0; ; check++) {
        const { status } = await timedRequest(url, bearer(session.token));
        const lagMs = performance.now() - committed;
        if (status === 401) return { lagMs, nextCheck: check === 0 };
        if (status !== 200) throw new Error(`${system.name} revocation: a check answered ${status}`);
        if (lagMs > giveUpMs)
          throw new Error(`${system.name} revocation: still 200 ${round(lagMs)} ms after the revoke`);
        await sleep(pollMs);
      }
    }),
  );
  const lagsMs = results.map((result) => round(result.lagMs));
  return {
    trials,
    refusedOnNextCheck: results.filter((result) => result.nextCheck).length,
    lagsMs,
    medianLagMs: round(quantile(lagsMs, 0.5)),
    maxLagMs: round(Math.max(...lagsMs)),
    pollMs,
  };
}
