/**
 * The expiry job, run to completion in Node through the genuine driver and a stand-in (the same
 * code the cron trigger runs), against one raw UPDATE doing the same work in one statement on an
 * identical copy of the table: the floor. Every HTTP request the driver sends is timed, and each
 * is one batch.
 */
import { neonConfig } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { startStandIn } from "../dev/standin/index";
import { parseConfig } from "../src/config";
import { createDb, queryRows } from "../src/db/client";
import { endExpiredSessionsQuery } from "../src/db/expiry-statements";
import { type ExpiryRunSummary, runExpiryJob } from "../src/jobs/expiry-job";
import { round } from "./load";
import type { BenchSettings } from "./settings";

export interface Batch {
  pass: "repair" | "end" | "purge" | "other";
  seconds: number;
}

export interface Expiry {
  rows: number;
  expired: number;
  jobSeconds: number;
  floorSeconds: number;
  ratio: number;
  maxBatchSeconds: number;
  usesIndex: boolean;
  floorExpired: number;
  endedByReason: Record<string, number>;
  floorEndedByReason: Record<string, number>;
  batches: Batch[];
  /** EXPLAIN of the job's batch statement on the full table, before the run. */
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

function byReason(rows: { reason: string; sessions: number }[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [row.reason, row.sessions]));
}

/** Runs `work` with a stand-in in front of the database at `url` and the Worker's config pointed at it. */
async function throughStandIn<T>(
  url: string,
  settings: BenchSettings,
  work: (db: ReturnType<typeof createDb>, config: ReturnType<typeof parseConfig>) => Promise<T>,
): Promise<T> {
  const standIn = await startStandIn({ databaseUrl: url, port: 0 });
  try {
    const config = parseConfig({
      DATABASE_URL: standIn.databaseUrl(),
      NEON_LOCAL_HTTP: "true",
      IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
      EXPIRY_BATCH_SIZE: String(settings.expiryBatchSize),
      // Run to completion: the budget only decides when to stop starting batches.
      EXPIRY_TIME_BUDGET_MS: String(15 * 60_000),
    });
    return await work(createDb(config), config);
  } finally {
    await standIn.close();
  }
}

export async function measureExpiry(options: {
  settings: BenchSettings;
  /** The bench database, full; the job runs here. */
  jobUrl: string;
  /** An identical copy; the floor runs here. */
  floorUrl: string;
  log: (line: string) => void;
}): Promise<Expiry> {
  const { settings } = options;
  const counts = await withClient(options.jobUrl, async (client) => {
    const result = await client.query<{ rows: number; expired: number }>(
      `select count(*)::int as rows,
         (count(*) filter (where is_active and ended_at is null and revoked_at is null
           and (absolute_expires_at <= now() or last_activity_at <= now() - make_interval(mins => $1::int))))::int as expired
       from sessions`,
      [settings.idleTimeoutMinutes],
    );
    return result.rows[0] ?? { rows: 0, expired: 0 };
  });
  const explained = await explainBatch(options.jobUrl, settings);
  options.log(
    `  ${counts.rows} rows, ${counts.expired} expired; batch plan uses ${explained.indexes.join(", ") || "no index"}`,
  );

  // Time every request the driver makes: one request is one statement is one batch.
  const batches: Batch[] = [];
  const originalFetch = neonConfig.fetchFunction;
  neonConfig.fetchFunction = async (input: string, init: RequestInit) => {
    const started = performance.now();
    const response = await fetch(input, init);
    const body = await response.text();
    batches.push({ pass: passOf(init.body), seconds: (performance.now() - started) / 1000 });
    return new Response(body, { status: response.status, headers: response.headers });
  };

  let summary: ExpiryRunSummary;
  let jobSeconds: number;
  try {
    await withClient(options.jobUrl, (client) => client.query("checkpoint"));
    ({ summary, jobSeconds } = await throughStandIn(options.jobUrl, settings, async (db, config) => {
      const started = performance.now();
      const result = await runExpiryJob(db, config);
      return { summary: result, jobSeconds: (performance.now() - started) / 1000 };
    }));
  } finally {
    neonConfig.fetchFunction = originalFetch;
  }
  if (summary.cutShort || summary.error !== undefined) throw new Error("expiry: the job did not run to completion");

  await withClient(options.floorUrl, (client) => client.query("checkpoint"));
  const { floorRows, floorSeconds } = await throughStandIn(options.floorUrl, settings, async (db) => {
    const started = performance.now();
    const rows = await queryRows<{ reason: string; sessions: number }>(db, floorStatement(settings.idleTimeoutMinutes));
    return { floorRows: rows, floorSeconds: (performance.now() - started) / 1000 };
  });

  const expired = summary.ended.idle_timeout + summary.ended.absolute_timeout;
  const floorEndedByReason = byReason(floorRows);
  const floorExpired = Object.values(floorEndedByReason).reduce((sum, n) => sum + n, 0);
  if (expired !== counts.expired || floorExpired !== counts.expired) {
    throw new Error(`expiry: ${counts.expired} rows were expired, the job ended ${expired}, the floor ${floorExpired}`);
  }
  return {
    rows: counts.rows,
    expired,
    jobSeconds: round(jobSeconds, 3),
    floorSeconds: round(floorSeconds, 3),
    ratio: round(jobSeconds / floorSeconds, 3),
    maxBatchSeconds: round(Math.max(...batches.map((batch) => batch.seconds)), 3),
    usesIndex: explained.usesIndex,
    floorExpired,
    endedByReason: { ...summary.ended },
    floorEndedByReason,
    batches: batches.map((batch) => ({ ...batch, seconds: round(batch.seconds, 3) })),
    plan: explained.plan,
  };
}
