/**
 * Bursts of simultaneous checks on a session due a touch (session-gate) or a refresh (the peers):
 * how many row versions each burst writes. session-gate re-checks "due" on the row's latest
 * version, so exactly one check of a burst writes; an unconditional UPDATE writes once per check
 * that saw the refresh due.
 */
import { type BenchContext, bearer, sleep } from "./context";
import { timedRequest } from "./load";
import type { WriteCounter } from "./row-writes";
import type { System } from "./systems";

export interface Bursts {
  size: number;
  /** Row versions written, per burst. */
  writes: number[];
  /** Requests that reached the stand-in, per burst. */
  standInRequests: number[];
}

export async function measureBursts(ctx: BenchContext, system: System, counter: WriteCounter): Promise<Bursts> {
  const { bursts, burstSize } = ctx.settings;
  const session = await system.newSession();
  const url = `${system.worker.url}${system.validatePath}`;
  const result: Bursts = { size: burstSize, writes: [], standInRequests: [] };
  for (let burst = 0; burst < bursts; burst++) {
    await system.makeDue(session);
    // makeDue is a write too: count only what the burst writes.
    await counter.reset();
    const before = ctx.standIn.requests(system.applicationName);
    const answers = await Promise.all(
      Array.from({ length: burstSize }, () => timedRequest(url, bearer(session.token))),
    );
    const refused = answers.filter((answer) => answer.status !== 200);
    if (refused.length > 0) {
      throw new Error(`${system.name} burst ${burst + 1}: ${refused.length} checks answered ${refused[0]?.status}`);
    }
    await sleep(100);
    result.writes.push(await counter.count(system.table.name, session.key));
    result.standInRequests.push(ctx.standIn.requests(system.applicationName) - before);
  }
  return result;
}
