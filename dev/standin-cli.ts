/**
 * `npm run standin`: serves Neon's SQL-over-HTTP protocol on 127.0.0.1 in front of
 * `DATABASE_URL` (a postgres:// URL), or an in-memory PGlite when it is unset.
 * `STANDIN_PORT` picks the port (default 4444). Clients log in as Neon's do: a role with its
 * PostgreSQL password, or DATABASE_URL's own user with `STANDIN_SECRET` (random when unset, so
 * then only other roles can log in).
 */
import { startStandIn } from "./standin/index";

const port = Number(process.env.STANDIN_PORT ?? "4444");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`STANDIN_PORT must be a port number (0-65535), got "${process.env.STANDIN_PORT}"`);
  process.exit(1);
}

const standIn = await startStandIn({
  databaseUrl: process.env.DATABASE_URL || undefined,
  port,
  secret: process.env.STANDIN_SECRET || undefined,
  log: (line) => console.error(line),
}).catch((error: unknown) => {
  // Port taken, PGlite failing to start: one line that says what, not a stack trace.
  console.error(`stand-in could not start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
console.log(`stand-in for Neon's SQL-over-HTTP serving ${standIn.backend.description} at ${standIn.url}/sql`);
console.log(`connect as postgres://<role>:<password>@127.0.0.1:${standIn.port}/${standIn.database}`);

let stopping = false;
async function stop(signal: NodeJS.Signals) {
  // A second Ctrl-C while closing should not start a second close.
  if (stopping) return;
  stopping = true;
  console.error(`stand-in: ${signal}, stopping`);
  try {
    await standIn.close();
    process.exit(0);
  } catch (error) {
    console.error(`stand-in: could not stop cleanly: ${error}`);
    process.exit(1);
  }
}
process.on("SIGINT", (signal) => void stop(signal));
process.on("SIGTERM", (signal) => void stop(signal));
