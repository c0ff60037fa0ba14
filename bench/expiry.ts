/**
 * The expiry job against the least work that ends the same rows, in variants that take it apart,
 * each on its own fresh copy of the full table (`CREATE DATABASE … TEMPLATE`), through the genuine
 * driver and a stand-in, in alternating rounds:
 * - `job`: the job itself (`runExpiryJob`, the code the cron trigger runs): batches of
 *   EXPIRY_BATCH_SIZE, each a one-request transaction that sets `statement_timeout` first;
 * - `jobNoWrapper`: the same statements in the same batches, each sent alone (no transaction,
 *   no `set_config`): what the wrapper costs;
 * - `oneBatch`: the same statements with no batch limit (one per pass): what batching costs;
 * - `floor`: one plain UPDATE doing the end pass: what the statements' shape (index order, `FOR
 *   UPDATE SKIP LOCKED`, primary-key update) costs.
 * Every HTTP request the driver sends is timed: one request is one batch.
 */
import { neonConfig } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { startStandIn } from "../dev/standin/index";
import { type Config, parseConfig } from "../src/config";
import { createDb, queryRows } from "../src/db/client";
import { endExpiredSessionsQuery, endInconsistentSessionsQuery } from "../src/db/expiry-statements";
import { runExpiryJob } from "../src/jobs/expiry-job";
import { insertBulkSessions } from "./data";
import { median, round } from "./load";
import { type BenchSettings, largestTableRows } from "./settings";

export type ExpiryVariant = "job" | "jobNoWrapper" | "oneBatch" | "floor";
export const EXPIRY_VARIANTS: ExpiryVariant[] = ["job", "jobNoWrapper", "oneBatch", "floor"];

export interface Batch {
  pass: "repair" | "end" | "purge" | "other";
  /** From the start of the run to the request's start. */
  startSeconds: number;
  seconds: number;
}

export interface ExpiryRun {
  round: number;
  variant: ExpiryVariant;
  seconds: number;
  /** Sessions ended, by reason. */
  ended: Record<string, number>;
  batches: Batch[];
}

export interface Expiry {
  rows: number;
  expired: number;
  /** Medians over the rounds. */
  jobSeconds: number;
  jobNoWrapperSeconds: number;
  oneBatchSeconds: number;
  floorSeconds: number;
  /** The median of the rounds' job / floor. */
  ratio: number;
  ratios: number[];
  /** Where the job's time over the floor goes: medians of the rounds' differences, in seconds. */
  breakdown: {
    /** job − jobNoWrapper: the one-request transaction with `set_config('statement_timeout', …)`. */
    wrapper: number;
    /** jobNoWrapper − oneBatch: many statements (each its own commit) instead of one per pass. */
    batching: number;
    /** oneBatch − floor: ordered index scans, `FOR UPDATE SKIP LOCKED`, update by primary key. */
    statementShape: number;
    /** Share of the job's time spent inside its requests (the rest is the job's own loop in Node). */
    inRequests: number;
  };
  /**
   * The same job and floor on the same rows written with their expired rows spread over the table
   * (bench/data.ts), in alternating rounds: what the job's order costs when rows that expire
   * together do not lie together.
   */
  spread: {
    rows: number;
    expired: number;
    jobSeconds: number;
    floorSeconds: number;
    ratio: number;
    ratios: number[];
  };
  /** Slowest batch of any job run. */
  maxBatchSeconds: number;
  usesIndex: boolean;
  floorExpired: number;
  endedByReason: Record<string, number>;
  floorEndedByReason: Record<string, number>;
  /** The batches of the job run whose ratio is the median. */
  batches: Batch[];
  runs: ExpiryRun[];
  /** EXPLAIN of the job's batch statement on the full table, before the runs. */
  plan: string;
}

/** The job's end pass as one statement with no batching: the same rule, the same columns. */
function floorStatement(idleTimeoutMinutes: number) {
  const idle = sql`make_interval(mins => ${idleTimeoutMinutes}::int)`;
  return sql`with ended as (
    update sessions s
    set is_active = false,
      revoke_reason = case when s.absolute_expires_at <= s.last_activity_at + ${idle} then 'absolute_timeout' else 'idle_timeout' end,
      ended_at = least(s.absolute_expires_at, s.last_activity_at + ${idle}),
      revoked_at = now()
    where s.is_active and s.ended_at is null and s.revoked_at is null
      and (s.absolute_expires_at <= now() or s.last_activity_at <= now() - ${idle})
    returning s.revoke_reason
  )
  select revoke_reason as reason, count(*)::int as sessions from ended group by revoke_reason`;
}

function passOf(body: unknown): Batch["pass"] {
  const text = typeof body === "string" ? body : "";
  if (/from repaired/.test(text)) return "repair";
  if (/from ended/.test(text)) return "end";
  if (/from purged/.test(text)) return "purge";
  return "other";
}

/** Plan nodes that read `sessions` through an index, anywhere in an EXPLAIN (FORMAT JSON) tree. */
function indexScans(node: unknown): string[] {
  // FORMAT JSON answers an array holding one {"Plan": ...} per statement.
  if (Array.isArray(node)) return node.flatMap(indexScans);
  if (typeof node !== "object" || node === null) return [];
  const record = node as Record<string, unknown>;
  const own =
    typeof record["Node Type"] === "string" &&
    /Index/.test(record["Node Type"]) &&
    typeof record["Index Name"] === "string"
      ? [record["Index Name"]]
      : [];
  const plans = Array.isArray(record.Plans) ? record.Plans : [];
  return [...own, ...plans.flatMap(indexScans), ...(record.Plan ? indexScans(record.Plan) : [])];
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** EXPLAIN of one batch of the job on `url`; `usesIndex` when the candidate scan goes through an index. */
export async function explainBatch(
  url: string,
  settings: BenchSettings,
): Promise<{ usesIndex: boolean; plan: string; indexes: string[] }> {
  // The job's expiry pass reads each limit's partial index in turn: both batches must use theirs.
  const explained = await Promise.all(
    (["absolute", "idle"] as const).map((scan) => {
      const query = new PgDialect().sqlToQuery(
        endExpiredSessionsQuery({
          idleTimeoutMinutes: settings.idleTimeoutMinutes,
          limit: settings.expiryBatchSize,
          scan,
        }),
      );
      return withClient(url, async (client) => {
        const json = await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${query.sql}`, query.params);
        const text = await client.query<{ "QUERY PLAN": string }>(`explain ${query.sql}`, query.params);
        return {
          indexes: indexScans(json.rows[0]?.["QUERY PLAN"]),
          plan: text.rows.map((row) => row["QUERY PLAN"]).join("\n"),
        };
      });
    }),
  );
  return {
    usesIndex: explained.every((e) => e.indexes.length > 0),
    indexes: explained.flatMap((e) => e.indexes),
    plan: explained.map((e) => e.plan).join("\n\n"),
  };
}

function addRows(into: Record<string, number>, rows: { reason: string; sessions: number }[]): void {
  for (const row of rows) into[row.reason] = (into[row.reason] ?? 0) + row.sessions;
}

/** The job's passes as plain statements: batches of `limit` until one comes back short. */
async function runPasses(db: ReturnType<typeof createDb>, settings: BenchSettings, limit: number) {
  const ended: Record<string, number> = {};
  for (;;) {
    const rows = await queryRows<{ sessions: number }>(db, endInconsistentSessionsQuery({ limit }));
    if ((rows[0]?.sessions ?? 0) < limit) break;
  }
  for (const scan of ["absolute", "idle"] as const) {
    for (;;) {
      const query = endExpiredSessionsQuery({ idleTimeoutMinutes: settings.idleTimeoutMinutes, limit, scan });
      const rows = await queryRows<{ reason: string; sessions: number }>(db, query);
      addRows(ended, rows);
      if (rows.reduce((sum, row) => sum + row.sessions, 0) < limit) break;
    }
  }
  return ended;
}

async function runVariant(
  variant: ExpiryVariant,
  db: ReturnType<typeof createDb>,
  config: Config,
  settings: BenchSettings,
): Promise<Record<string, number>> {
  switch (variant) {
    case "job": {
      const summary = await runExpiryJob(db, config);
      if (summary.cutShort || summary.error !== undefined) throw new Error("expiry: the job did not run to completion");
      return { ...summary.ended };
    }
    case "jobNoWrapper":
      return runPasses(db, settings, settings.expiryBatchSize);
    case "oneBatch":
      // The largest limit the statements take (an int): every pass in one statement.
      return runPasses(db, settings, 2 ** 31 - 1);
    case "floor": {
      const ended: Record<string, number> = {};
      addRows(
        ended,
        await queryRows<{ reason: string; sessions: number }>(db, floorStatement(settings.idleTimeoutMinutes)),
      );
      return ended;
    }
  }
}

/** A fresh copy of `template` named `copy`, replacing any left by an earlier run. */
async function copyDatabase(serverUrl: string, template: string, copy: string): Promise<void> {
  await withClient(serverUrl, async (admin) => {
    await admin.query(`drop database if exists "${copy}"`);
    // FILE_COPY: a checkpoint and a file copy, much faster than WAL_LOG for a large database.
    await admin.query(`create database "${copy}" template "${template}" strategy = file_copy`);
  });
}

/** All rows of `sessions`, and those the job should end (live, past a limit), by the database's clock. */
async function countExpired(client: pg.Client, idleTimeoutMinutes: number): Promise<{ rows: number; expired: number }> {
  const result = await client.query<{ rows: number; expired: number }>(
    `select count(*)::int as rows,
       (count(*) filter (where is_active and ended_at is null and revoked_at is null
         and (absolute_expires_at <= now() or last_activity_at <= now() - make_interval(mins => $1::int))))::int as expired
     from sessions`,
    [idleTimeoutMinutes],
  );
  return result.rows[0] ?? { rows: 0, expired: 0 };
}

/** One variant on a fresh copy of `template`, through its own stand-in; the copy is dropped after. */
async function timeVariant(
  variant: ExpiryVariant,
  round: number,
  options: { settings: BenchSettings; template: string },
): Promise<ExpiryRun> {
  const { settings } = options;
  const copy = `${options.template}_${variant.toLowerCase()}`;
  await copyDatabase(settings.serverUrl, options.template, copy);
  try {
    const url = databaseUrl(settings.serverUrl, copy);
    await withClient(url, (client) => client.query("checkpoint"));
    const standIn = await startStandIn({ databaseUrl: url, port: 0 });
    const batches: Batch[] = [];
    const originalFetch = neonConfig.fetchFunction;
    let started = 0;
    // Time every request the driver makes: one request is one statement is one batch.
    neonConfig.fetchFunction = async (input: string, init: RequestInit) => {
      const begun = performance.now();
      const response = await fetch(input, init);
      const body = await response.text();
      batches.push({
        pass: passOf(init.body),
        startSeconds: round3((begun - started) / 1000),
        seconds: round3((performance.now() - begun) / 1000),
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    try {
      const config = parseConfig({
        DATABASE_URL: standIn.databaseUrl(),
        NEON_LOCAL_HTTP: "true",
        IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
        EXPIRY_BATCH_SIZE: String(settings.expiryBatchSize),
        // Run to completion: the budget only decides when to stop starting batches.
        EXPIRY_TIME_BUDGET_MS: String(15 * 60_000),
      });
      started = performance.now();
      const ended = await runVariant(variant, createDb(config), config, settings);
      const seconds = (performance.now() - started) / 1000;
      return { round, variant, seconds: round3(seconds), ended, batches };
    } finally {
      neonConfig.fetchFunction = originalFetch;
      await standIn.close();
    }
  } finally {
    await withClient(settings.serverUrl, (admin) => admin.query(`drop database if exists "${copy}" with (force)`));
  }
}

const medianOf = (values: number[]) => round3(median(values));
const total = (ended: Record<string, number>) => Object.values(ended).reduce((sum, n) => sum + n, 0);

/**
 * Measures the variants on copies of `template` (the bench database, full, with no connections
 * left: a template must have none).
 */
export async function measureExpiry(options: {
  settings: BenchSettings;
  template: string;
  log: (line: string) => void;
}): Promise<Expiry> {
  const { settings } = options;
  const templateUrl = databaseUrl(settings.serverUrl, options.template);
  const counts = await withClient(templateUrl, (client) => countExpired(client, settings.idleTimeoutMinutes));
  const explained = await explainBatch(templateUrl, settings);
  options.log(
    `  ${counts.rows} rows, ${counts.expired} expired; batch plan uses ${explained.indexes.join(", ") || "no index"}`,
  );

  const runs: ExpiryRun[] = [];
  for (let pass = 0; pass < settings.expiryRounds; pass++) {
    // Each round in another order: no variant always runs first, or right after the same one.
    const order = EXPIRY_VARIANTS.map((_, i) => EXPIRY_VARIANTS[(i + pass) % EXPIRY_VARIANTS.length] as ExpiryVariant);
    for (const variant of order) {
      const run = await timeVariant(variant, pass, { settings, template: options.template });
      if (total(run.ended) !== counts.expired) {
        throw new Error(`expiry: ${counts.expired} rows were expired, ${variant} ended ${total(run.ended)}`);
      }
      runs.push(run);
      options.log(`  round ${pass + 1}, ${variant}: ${run.seconds} s in ${run.batches.length} statements`);
    }
  }

  const spread = await measureSpread(options);
  options.log(`  expired rows spread over the table: job / floor ${spread.ratio} (${spread.ratios.join(", ")})`);

  const of = (variant: ExpiryVariant) => runs.filter((run) => run.variant === variant);
  const byRound = (variant: ExpiryVariant, pass: number) =>
    runs.find((run) => run.variant === variant && run.round === pass) as ExpiryRun;
  const rounds = Array.from({ length: settings.expiryRounds }, (_, pass) => pass);
  const ratios = rounds.map((pass) => round3(byRound("job", pass).seconds / byRound("floor", pass).seconds));
  const medianRatio = medianOf(ratios);
  // The round nearest the median: with an even number of rounds the median is no round's own ratio.
  const distance = (pass: number) => Math.abs((ratios[pass] as number) - medianRatio);
  const jobRun = byRound(
    "job",
    rounds.reduce((best, pass) => (distance(pass) < distance(best) ? pass : best), 0),
  );
  const difference = (a: ExpiryVariant, b: ExpiryVariant) =>
    medianOf(rounds.map((pass) => byRound(a, pass).seconds - byRound(b, pass).seconds));
  const jobs = of("job");
  return {
    rows: counts.rows,
    expired: counts.expired,
    jobSeconds: medianOf(jobs.map((run) => run.seconds)),
    jobNoWrapperSeconds: medianOf(of("jobNoWrapper").map((run) => run.seconds)),
    oneBatchSeconds: medianOf(of("oneBatch").map((run) => run.seconds)),
    floorSeconds: medianOf(of("floor").map((run) => run.seconds)),
    ratio: medianRatio,
    ratios,
    breakdown: {
      wrapper: difference("job", "jobNoWrapper"),
      batching: difference("jobNoWrapper", "oneBatch"),
      statementShape: difference("oneBatch", "floor"),
      inRequests: medianOf(jobs.map((run) => run.batches.reduce((sum, batch) => sum + batch.seconds, 0) / run.seconds)),
    },
    spread,
    maxBatchSeconds: round3(Math.max(...jobs.flatMap((run) => run.batches.map((batch) => batch.seconds)))),
    usesIndex: explained.usesIndex,
    floorExpired: total(byRound("floor", 0).ended),
    endedByReason: jobRun.ended,
    floorEndedByReason: byRound("floor", 0).ended,
    batches: jobRun.batches,
    runs,
    plan: explained.plan,
  };
}

/** The name of the table with its expired rows spread (bench/run.ts drops it with the other copies). */
export const spreadCopy = (template: string) => `${template}_spread`;

/**
 * Job against floor on a copy of the template whose bulk rows are written again with the `spread`
 * layout (bench/data.ts): the same rows, the same expired share, each minute's expired rows spread
 * over the whole table instead of lying together.
 */
async function measureSpread(options: { settings: BenchSettings; template: string }): Promise<Expiry["spread"]> {
  const { settings } = options;
  const spread = spreadCopy(options.template);
  await copyDatabase(settings.serverUrl, options.template, spread);
  const tableRows = largestTableRows(settings);
  const counts = await withClient(databaseUrl(settings.serverUrl, spread), async (client) => {
    await client.query("truncate sessions");
    const { expiredEvery } = settings;
    await insertBulkSessions(client, { from: 1, to: tableRows, tableRows, expiredEvery, layout: "spread" });
    await client.query("vacuum analyze sessions");
    return countExpired(client, settings.idleTimeoutMinutes);
  });
  try {
    const seconds: Record<"job" | "floor", number[]> = { job: [], floor: [] };
    for (let pass = 0; pass < settings.expiryRounds; pass++) {
      const order = pass % 2 === 0 ? (["job", "floor"] as const) : (["floor", "job"] as const);
      for (const variant of order) {
        const run = await timeVariant(variant, pass, { settings, template: spread });
        if (total(run.ended) !== counts.expired) {
          throw new Error(`expiry, spread: ${counts.expired} rows were expired, ${variant} ended ${total(run.ended)}`);
        }
        seconds[variant].push(run.seconds);
      }
    }
    const ratios = seconds.job.map((job, pass) => round3(job / (seconds.floor[pass] as number)));
    return {
      ...counts,
      jobSeconds: medianOf(seconds.job),
      floorSeconds: medianOf(seconds.floor),
      ratio: medianOf(ratios),
      ratios,
    };
  } finally {
    await withClient(settings.serverUrl, (admin) => admin.query(`drop database if exists "${spread}" with (force)`));
  }
}

function round3(value: number): number {
  return round(value, 3);
}
