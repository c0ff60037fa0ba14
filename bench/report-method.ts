/** BENCHMARKS.md's method section: how each figure is measured, with the run's own settings. */
import type { Results } from "./results";
import { REFERENCE_WARMUP_CHECKS, SCALE_ROUNDS } from "./scale";

export function renderMethod(r: Results): string {
  const s = r.settings;
  return `## Method

- A database of its own on \`BENCH_DATABASE_URL\` (default the local server), migrated with drizzle/, the peers' tables
  created in their own schemas (bench/peers/*/schema.sql), dropped at the end. The stand-in for Neon's SQL-over-HTTP
  endpoint runs in the bench's process in front of it and counts requests per \`application_name\`, which each Worker
  sets in its DATABASE_URL.
- Every system is a Worker bundled by \`wrangler deploy --dry-run\` and served by Miniflare in its own workerd
  process: session-gate's bench build (bench/wrangler.bench.toml: src/app.ts, its log line per check, plus one
  bench-only route, \`GET /__bench/floor\`, which runs \`select id from sessions where session_token_hash = $1\`
  through the same createDb/queryRows, config and stand-in), the same build with VALID_CACHE_SECONDS=${s.cacheSeconds},
  and the peers in bench/peers/ (configurations below). Variables are Miniflare bindings: TOUCH_INTERVAL_SECONDS=${s.touchIntervalSeconds},
  IDLE_TIMEOUT_MINUTES=${s.idleTimeoutMinutes}, VALIDATION_TIMEOUT_MS=${s.requestTimeoutMs} (the peers' request deadline too).
  Requests go to each Worker's own socket (Miniflare's \`unsafeDirectSockets\`), as they reach a deployed Worker, not
  through Miniflare's entry Worker, which rewrites every request and hands it on over a service binding: about 0.2 ms
  of workerd CPU per request that production does not pay, the same for every system (runs before 2026-11-29 include it).
  Each workerd writes its console output straight into its log file (bench/workerd-stdout-to-log.sh), as a deployed
  Worker's goes to Cloudflare's log pipeline: relayed through the bench's own process, a log line cost that process
  about 0.02 ms of CPU on the cores every system shares, and only session-gate logs (runs before 2026-11-30 include it).
- Sessions: session-gate's are inserted with SQL as the existing application writes them; the peers' through their
  own APIs (\`POST /issue\`: Lucia's createSession, Better Auth's internal adapter). To make one due a touch or
  refresh, or expired, the bench moves its timestamps with SQL; a revoke is what each system's own revoke writes
  (session-gate: is_active false with revoked_at and ended_at; the peers: DELETE). Before the load runs each peer's
  table is filled with SQL to as many rows as session-gate's, so every lookup reads an index of the same size.
- **Load** (throughput, latency, CPU): autocannon, ${s.loadConnections} connections, ${s.loadSeconds} s per run after a
  ${s.warmupSeconds} s warm-up of each target; ${s.loadRounds} rounds, each running every target once (the systems'
  checks of one valid session; session-gate's floor route, and two bench routes that do part of its check: the check
  statement alone, \`GET /__bench/statement\`, and the whole check without HTTP, \`GET /__bench/check-token\`) in an
  order rotated by one per round, session-gate's four targets back to back and their order reversed every other
  round (from 2026-11-30; rotated with the rest before, which put the check right before its floor in 5 of 7 rounds);
  medians over the rounds (of an even number of rounds, the mean of the two middle ones; the runs of 2026-11-30 before
  05:50 took the lower one).
  Latencies are per response (autocannon's \`response\` event). CPU is utime+stime from /proc: the target's workerd
  process(es), every PostgreSQL process (alive at both ends of the run), and the bench's own process. The requests
  reaching the stand-in from the target's Worker are counted too. throughput.ratio and cpuMsOverFloor pair each check
  run with the floor run of the same round and take the median of the rounds.
- **Round trips**: the stand-in's count for the system before and after one check (and 100 ms after, for anything sent
  after the answer): a session active just now (valid), one due a touch or refresh (the bench checks it was written),
  one idle past its limit (checked ended or deleted), a well-formed token with no row (unknown), \`Bearer not*a*token\`.
- **Hot session writes**: ${s.hotValidations} sequential checks of a session made just before, the row's xmin read after
  each, so every new row version is counted exactly (session-gate's count is cross-checked with
  \`pg_stat_user_tables.n_tup_upd\` after an 11 s wait for the statistics flush: ${r.details.hotSession.nTupUpd}); the
  same for a session due a touch or refresh at the first check (1 is right).
- **Bursts**: ${s.bursts} times, the session is made due a touch or refresh, then ${s.burstSize} checks are sent at once;
  an AFTER UPDATE trigger (installed for this phase only) logs each row version written.
- **Revocation**: ${s.revocationTrials} trials per system: a new session checked once (200), its end committed with SQL,
  then checked every 100 ms until the first 401; the time from the commit to that answer. With VALID_CACHE_SECONDS the
  trials' revokes are spread evenly over the ${s.cacheSeconds} s after the check, so the lags cover the cache's range.
- **Network delay**: the stand-in restarted (same port) with \`delayMs\` ${s.delaysMs.join(", ")}: each /sql request is
  held that long before it runs. Per system and delay: ${s.delaySeconds} s of checks of one valid session on one connection,
  one after another, and ${s.delayDueSamples} checks of sessions due a touch or refresh. The delay held is what the
  stand-in measured: the median of its holds of that system's requests in that run (a timer fires a little late). The
  baseline a delay is judged against has the same idle time: no delay held, the client pausing that long before each
  check (${s.delaySeconds} s per system and delay). The two run on the same connection in 5 chunks of each kind,
  alternating which comes first, so a drift of the machine over the phase falls on both (from 2026-11-30; before, every
  baseline ran after all the delays' held runs, minutes later). On this machine a request that reaches processes which sat idle for
  milliseconds costs about 1 ms more than one sent straight after the last, with or without a Worker, so against p50
  back to back even the floor route looks like more than one round trip; against the paused baseline only where the
  wait is differs. The same client also runs ${s.delaySeconds} s against a bare HTTP hop at each delay (a server in the bench's
  process holding each request with the same timer and answering two bytes at once, no Worker and no database), and as
  long with the server holding nothing and the client pausing. The client is Node's own HTTP client on one keep-alive
  connection (autocannon cannot pause), for every run of this phase.
- **Database down**: the stand-in restarted in front of a port nothing listens on (PostgreSQL refuses: the stand-in
  answers 500, as Neon does for an unreachable compute), stopped (connection refused), and restarted holding every
  request for a minute (no answer). Each system checks its session once while the database is up, then, per failure,
  once uncounted and ${s.downRequests} time(s) counted; the bench gives up after 15 s.
- **Scale**: the table grown to ${s.scaleRows.join(", ")} bulk rows (one INSERT … SELECT generate_series each, then
  VACUUM ANALYZE), each size against a reference table of ${s.scaleRows[0]} rows in a database of its own, behind a
  session-gate Worker of its own on the same stand-in (warmed with ${REFERENCE_WARMUP_CHECKS.toLocaleString("en-US")} checks first):
  ${s.scaleSamples} live sessions of each drawn at random from the whole table, each validated twice in a row from
  Node, sequentially, in ${SCALE_ROUNDS} alternating rounds (which table goes first turns each round). The second
  validation of each (touch just done: read only, the common case) gives the figure; the first one (due a touch, so it
  writes and commits) is reported as touch p50. A size's ratio is the median of
  the rounds' p50 over the reference's p50: its three sizes are measured minutes apart, with the throughput phase
  between the first and the others, and the machine's speed moves more than that in a few minutes.
- **Expiry**: on the largest table (every ${s.expiredEvery}th bulk row expired: idle only, absolute only, or both, over
  60 minutes; written in order, as an application writes its table: the rows that expired first were written first),
  after VACUUM ANALYZE, ${s.expiryRounds} rounds of four variants, each on a fresh \`CREATE DATABASE … TEMPLATE … STRATEGY
  FILE_COPY\` copy, through the genuine driver and a stand-in of its own, after a CHECKPOINT, in an order rotated per
  round: the job (\`runExpiryJob\`, EXPIRY_BATCH_SIZE=${s.expiryBatchSize}, a budget long enough to finish: each batch a
  one-request transaction with \`set_config('statement_timeout', …)\`), the same statements sent alone (no wrapper),
  the same statements with no batch limit (one per pass), and one \`UPDATE\` doing the end pass (the floor). Each
  must end exactly the expired rows. Every driver request is timed. \`usesIndex\`: EXPLAIN (FORMAT JSON) of the
  job's batch statement (\`endExpiredSessionsQuery\`) has an index scan. Then the same rows written again on a copy
  with each minute's expired rows spread evenly over the table (their minutes cycle every 60 rows), and the job
  against the floor on it, ${s.expiryRounds} alternating rounds: a worst case for a job that ends rows in expiry order.`;
}
