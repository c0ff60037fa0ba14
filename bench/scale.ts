/**
 * Validation latency as the table grows: sequential validations of sessions drawn at random from
 * the whole table, each presented twice in a row. The first is due a touch (bulk rows were last
 * active 90-570 s ago), so it also writes; the second finds the touch just done and only reads, the
 * common case, and that one is the figure.
 */
import { type BenchContext, bearer } from "./context";
import { insertBulkSessions, isExpiredRow, tokenFor } from "./data";
import { quantile, round, timedRequest } from "./load";

export interface ScalePoint {
  rows: number;
  /** p50 of validations that only read (the touch was just done). */
  p50Ms: number;
  p99Ms: number;
  /** p50 of the first validation of each session, which also touches it. */
  touchP50Ms: number;
  samples: number;
}

/**
 * Grows the bulk rows from `from` to `to` (inclusive), in the order an application writes them, and
 * refreshes the planner's statistics.
 */
export async function growTable(ctx: BenchContext, from: number, to: number): Promise<void> {
  const started = performance.now();
  const tableRows = ctx.settings.scaleRows.at(-1) ?? to;
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

export async function measureScalePoint(ctx: BenchContext, rows: number): Promise<ScalePoint> {
  const url = `${ctx.worker.url}/v1/validate`;
  const all = pickLiveRows(rows, ctx.settings.scaleSamples + 20, ctx.settings.expiredEvery);
  const warmup = all.slice(0, 20);
  const measured = all.slice(20);
  for (const i of warmup) await timedRequest(url, bearer(tokenFor(i)));

  const touching: number[] = [];
  const reading: number[] = [];
  for (const i of measured) {
    const first = await timedRequest(url, bearer(tokenFor(i)));
    const second = await timedRequest(url, bearer(tokenFor(i)));
    if (first.status !== 200 || second.status !== 200) {
      throw new Error(`scale: row ${i} answered ${first.status}/${second.status}: ${second.body}`);
    }
    touching.push(first.ms);
    reading.push(second.ms);
  }
  return {
    rows,
    p50Ms: round(quantile(reading, 0.5)),
    p99Ms: round(quantile(reading, 0.99)),
    touchP50Ms: round(quantile(touching, 0.5)),
    samples: measured.length,
  };
}
