/**
 * `npm run expire`: one run of the expiry job from Node, for operators and for back-filling after
 * an outage, against `DATABASE_URL` with the Worker's other variables from the environment
 * (EXPIRY_BATCH_SIZE, EXPIRY_TIME_BUDGET_MS, IDLE_TIMEOUT_MINUTES, SESSION_RETENTION_DAYS, ...).
 * Prints the run's JSON summary; exits 1 when the run fails.
 *
 * The job talks Neon's SQL-over-HTTP, exactly as in the Worker. A Neon URL is used as it is; any
 * other postgres:// URL gets a stand-in for Neon's endpoint in this process, in front of that
 * server, so the very same code path runs against a plain PostgreSQL. With NEON_LOCAL_HTTP=true
 * the URL is taken to name a stand-in already running (`npm run standin`).
 *
 * @example
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/app EXPIRY_TIME_BUDGET_MS=600000 npm run expire
 */
import { parseConfig } from "../src/config";
import { createDb } from "../src/db/client";
import { runExpiryJob } from "../src/jobs/expiry-job";
import { describeError } from "./describe-error";
import { type StandIn, startStandIn } from "./standin/index";

function speaksNeonHttp(databaseUrl: string): boolean {
  if (["true", "1"].includes(process.env.NEON_LOCAL_HTTP ?? "")) return true;
  try {
    return new URL(databaseUrl).hostname.endsWith(".neon.tech");
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is required: the postgres:// URL of the sessions database");

  let standIn: StandIn | undefined;
  try {
    let workerVars: Record<string, string> = {};
    if (!speaksNeonHttp(databaseUrl)) {
      standIn = await startStandIn({ databaseUrl, port: 0, log: (line) => console.error(line) });
      // The database name is the stand-in's business (it serves the one it was opened on).
      workerVars = { DATABASE_URL: standIn.databaseUrl(), NEON_LOCAL_HTTP: "true" };
    }
    const config = parseConfig({ ...process.env, ...workerVars });
    // The summary line is the job's own log (console.log on success, console.error on failure).
    await runExpiryJob(createDb(config), config);
  } finally {
    await standIn?.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(`expire: run failed: ${describeError(error)}`);
  process.exitCode = 1;
}
