/**
 * `npm run test:memory`: does the Worker's own JavaScript heap stay flat over a long run? The
 * production build (wrangler.toml, bundled by `wrangler deploy --dry-run`) in Miniflare's workerd
 * with its inspector open, through the genuine Neon driver and the stand-in to PostgreSQL, with
 * gateway mode on (ORIGIN_URL) and the opt-in cache on (VALID_CACHE_SECONDS=30) so that every
 * cache we hold is exercised past its bound (12,000 distinct valid sessions, cache bound 10,000).
 *
 * Blocks of MEMORY_BLOCK requests (10,000), MEMORY_BLOCKS of them (10) after 3 blocks of warm-up
 * (by then the opt-in cache has reached its bound, 10,000 entries, and stays there);
 * per 20 requests: 7 valid checks, 4 unknown, 1 malformed, 2 expired, 3 gateway requests with a
 * valid session, 1 GET /v1/sessions/current, and one lifecycle write in turn (issue + logout,
 * issue + revoke-others, an admin list). After each block, 10 expiry runs (each over 50 freshly
 * expired rows), then the isolate's heap after two forced collections (HeapProfiler.collectGarbage,
 * Runtime.getHeapUsage) and workerd's RSS. A heap snapshot at the end of the warm-up and at the end
 * is compared per constructor, to name what grew.
 *
 * workerd's resident memory grows under load whatever the Worker does, so the run ends with a
 * control: a Worker that only answers "ok", in a workerd of its own, sent as many requests at the
 * same concurrency; its RSS growth per request beside ours tells workerd's growth from ours.
 *
 * The figures go to test/load/memory-results.json (BENCHMARKS.md shows them).
 *
 * Fails (exit 1) on a wrong answer, or when the heap after GC grows more than MEMORY_MAX_GROWTH_MB
 * (2) from the end of the warm-up to the end, or exceeds MEMORY_MAX_HEAP_MB (32) at any sample.
 * MEMORY_DATABASE_URL: the PostgreSQL server (postgres://postgres@127.0.0.1:5432/postgres).
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { descendants, freePort, rssMb } from "../../bench/worker-process";
import { createScratchDatabase } from "../../dev/scratch-database";
import { type StandIn, startStandIn } from "../../dev/standin/index";
import { bundleWorker, scratchDir } from "../../examples/harness";
import { startInspectedWorker } from "./inspected-worker";
import type { HeapUsage } from "./inspector";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const serverUrl = process.env.MEMORY_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const BLOCK = Number(process.env.MEMORY_BLOCK ?? 10_000);
const BLOCKS = Number(process.env.MEMORY_BLOCKS ?? 10);
const WARMUP_BLOCKS = 3;
const MAX_GROWTH_MB = Number(process.env.MEMORY_MAX_GROWTH_MB ?? 2);
const MAX_HEAP_MB = Number(process.env.MEMORY_MAX_HEAP_MB ?? 32);
const VALID_SESSIONS = 12_000;
const EXPIRY_RUNS_PER_BLOCK = 10;
const CONCURRENCY = 16;
const adminKey = randomBytes(32).toString("base64url");

type Kind = "valid" | "unknown" | "malformed" | "expired" | "gateway" | "current" | "lifecycle";
const MIX: Kind[] = [
  ...Array<Kind>(7).fill("valid"),
  ...Array<Kind>(4).fill("unknown"),
  "malformed",
  ...Array<Kind>(2).fill("expired"),
  ...Array<Kind>(3).fill("gateway"),
  "current",
  "lifecycle",
  "valid",
];

interface Sample {
  after: string;
  requests: number;
  expiryRuns: number;
  heap: HeapUsage & { byConstructor: Map<string, { count: number; bytes: number }> };
  rssMb: number;
}

const round = (n: number) => Math.round(n * 100) / 100;
const hash = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");
const newToken = () => randomBytes(32).toString("base64url");

async function main(): Promise<number> {
  const scratch = await createScratchDatabase(serverUrl, "sessiongate_memory");
  const dir = scratchDir();
  let standIn: StandIn | undefined;
  let mf: Miniflare | undefined;
  let origin: Server | undefined;
  try {
    standIn = await startStandIn({ databaseUrl: scratch.url, port: 0 });
    await standIn.backend.migrate(path.join(projectRoot, "drizzle"));
    const db = standIn.backend;
    const user = await db.query("insert into users default values returning id", []);
    const userId = String(user.rows[0]?.[0]);
    const valid = Array.from({ length: VALID_SESSIONS }, newToken);
    const expired = Array.from({ length: 500 }, newToken);
    const insert = (tokens: string[], absolute: string) =>
      db.query(
        `insert into sessions (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
           ip_address, user_agent, is_active, app_type)
         select gen_random_uuid(), $1::int, h, now(), now(), ${absolute}, '203.0.113.7', 'memory', true, 'control_panel'
         from unnest($2::text[]) as h`,
        [userId, `{${tokens.map(hash).join(",")}}`],
      );
    await insert(valid, "now() + interval '8 hours'");
    console.log(`memory: ${standIn.backend.description}; ${VALID_SESSIONS} valid sessions seeded`);
    // Absolute-expired: the first check (or expiry run) to reach one ends it, later checks find
    // it ended; either way 401.
    await insert(expired, "now() - interval '1 minute'");

    origin = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("origin"));
    await new Promise<void>((resolve) => origin?.listen(0, "127.0.0.1", resolve));
    const originPort = (origin.address() as { port: number }).port;

    const script = await bundleWorker("wrangler.toml", dir.path);
    const served = await startInspectedWorker(script, {
      DATABASE_URL: standIn.databaseUrl(),
      NEON_LOCAL_HTTP: "true",
      ADMIN_API_KEY: adminKey,
      ORIGIN_URL: `http://127.0.0.1:${originPort}`,
      GATEWAY_SIGNING_KEY: randomBytes(32).toString("base64url"),
      VALID_CACHE_SECONDS: "30",
    });
    mf = served.mf;
    const { base, inspector, inspectorPort, workerdPids: workerd } = served;
    console.log(`memory: wrangler.toml's build in workerd on ${base}, inspector on port ${inspectorPort}`);
    const worker = await mf.getWorker();

    const wrong: string[] = [];
    let sent = 0;
    let expiryRuns = 0;
    const samples: Sample[] = [];
    const sample = async (after: string) => {
      const s = { after, requests: sent, expiryRuns, heap: await inspector.heapAfterGc(), rssMb: rssMb(workerd) };
      samples.push(s);
      console.log(
        `memory: ${after}: ${s.requests} requests, ${s.expiryRuns} expiry runs; heap ${s.heap.usedMb.toFixed(2)} MB used of ${s.heap.totalMb.toFixed(2)} MB; workerd RSS ${s.rssMb.toFixed(1)} MB`,
      );
    };

    const request = async (i: number): Promise<void> => {
      const kind = MIX[i % MIX.length] as Kind;
      const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)] as string;
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const admin = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
      const expect = (what: string, res: Response, status: number) => {
        if (res.status !== status) wrong.push(`#${i} ${kind} ${what}: ${res.status}, expected ${status}`);
      };
      switch (kind) {
        case "valid":
        case "expired":
        case "unknown":
        case "malformed": {
          const authorization = {
            valid: () => `Bearer ${pick(valid)}`,
            expired: () => `Bearer ${pick(expired)}`,
            unknown: () => `Bearer ${newToken()}`,
            malformed: () => `Bearer ${"!".repeat(40)}`,
          }[kind]();
          const res = await fetch(`${base}/v1/validate`, { headers: { authorization } });
          await res.arrayBuffer();
          expect("validate", res, kind === "valid" ? 200 : 401);
          return;
        }
        case "gateway": {
          const res = await fetch(`${base}/app/orders?page=${i}`, { headers: bearer(pick(valid)) });
          await res.arrayBuffer();
          expect("gateway", res, 200);
          return;
        }
        case "current": {
          const res = await fetch(`${base}/v1/sessions/current`, { headers: bearer(pick(valid)) });
          await res.arrayBuffer();
          expect("current", res, 200);
          return;
        }
        case "lifecycle": {
          const turn = Math.floor(i / MIX.length) % 3;
          if (turn === 2) {
            const res = await fetch(`${base}/v1/users/${userId}/sessions?limit=10`, { headers: admin });
            await res.arrayBuffer();
            expect("admin list", res, 200);
            return;
          }
          // Issued to a user of its own, so revoke-others never ends the pool's sessions.
          const own = await db.query("insert into users default values returning id", []);
          const issued = await fetch(`${base}/v1/sessions`, {
            method: "POST",
            headers: admin,
            body: JSON.stringify({ user_id: Number(own.rows[0]?.[0]) }),
          });
          expect("issue", issued, 201);
          const { token } = (await issued.json()) as { token: string };
          const res = await fetch(`${base}${turn === 0 ? "/v1/logout" : "/v1/sessions/revoke-others"}`, {
            method: "POST",
            headers: bearer(token),
          });
          await res.arrayBuffer();
          expect(turn === 0 ? "logout" : "revoke-others", res, turn === 0 ? 204 : 200);
          return;
        }
      }
    };

    const runBlock = async () => {
      const end = sent + BLOCK;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (sent < end) await request(sent++);
        }),
      );
    };
    const runExpiry = async () => {
      for (let k = 0; k < EXPIRY_RUNS_PER_BLOCK; k++) {
        await insert(Array.from({ length: 50 }, newToken), "now() - interval '1 minute'");
        await worker.scheduled({ cron: "*/5 * * * *", scheduledTime: new Date() });
        expiryRuns++;
      }
    };

    const started = performance.now();
    await sample("start");
    for (let b = 1; b <= WARMUP_BLOCKS; b++) {
      await runBlock();
      await runExpiry();
      await sample(b === WARMUP_BLOCKS ? "warm-up" : `warm-up block ${b}`);
    }
    for (let b = 1; b <= BLOCKS; b++) {
      await runBlock();
      await runExpiry();
      await sample(`block ${b}`);
    }
    inspector.close();
    const seconds = (performance.now() - started) / 1000;

    const warm = samples[WARMUP_BLOCKS] as Sample;
    const last = samples.at(-1) as Sample;
    const growth = last.heap.usedMb - warm.heap.usedMb;
    const peak = Math.max(...samples.map((s) => s.heap.usedMb));
    const firstSnapshot = warm.heap.byConstructor;
    const grown = [...last.heap.byConstructor]
      .map(([name, now]) => ({
        name,
        bytes: now.bytes - (firstSnapshot.get(name)?.bytes ?? 0),
        count: now.count - (firstSnapshot.get(name)?.count ?? 0),
      }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 8);
    console.log(
      `memory: ${sent} requests and ${expiryRuns} expiry runs in ${seconds.toFixed(0)} s; heap after GC ${warm.heap.usedMb.toFixed(2)} MB after warm-up, ${last.heap.usedMb.toFixed(2)} MB at the end (${growth >= 0 ? "+" : ""}${growth.toFixed(2)} MB), peak ${peak.toFixed(2)} MB; workerd RSS ${warm.rssMb.toFixed(1)} -> ${last.rssMb.toFixed(1)} MB`,
    );
    console.log("memory: largest growth per constructor between the warm-up and the end (heap snapshots):");
    for (const g of grown)
      console.log(
        `memory:   ${g.name}: ${g.bytes >= 0 ? "+" : ""}${g.bytes} bytes, ${g.count >= 0 ? "+" : ""}${g.count} objects`,
      );

    const control = await controlRss(sent);
    const perRequestKb = (mb: number) => ((mb * 1024) / sent).toFixed(1);
    console.log(
      `memory: workerd RSS growth from the warm-up to the end: ours ${(last.rssMb - warm.rssMb).toFixed(1)} MB (${perRequestKb(last.rssMb - warm.rssMb)} KB per request); a Worker that only answers "ok", same requests: ${control.warmMb.toFixed(1)} -> ${control.endMb.toFixed(1)} MB (${perRequestKb(control.endMb - control.warmMb)} KB per request)`,
    );

    writeFileSync(
      path.join(projectRoot, "test/load/memory-results.json"),
      `${JSON.stringify(
        {
          measuredAt: new Date().toISOString(),
          requests: sent,
          expiryRuns,
          seconds: Math.round(seconds),
          heapMbAfterGc: samples.map((s) => ({ after: s.after, requests: s.requests, usedMb: round(s.heap.usedMb) })),
          warmupMb: round(warm.heap.usedMb),
          endMb: round(last.heap.usedMb),
          growthMb: round(growth),
          peakMb: round(peak),
          limits: { growthMb: MAX_GROWTH_MB, heapMb: MAX_HEAP_MB },
          largestGrowthByConstructor: grown,
          workerdRssMb: { warmup: round(warm.rssMb), end: round(last.rssMb) },
          controlRssMb: { warmup: round(control.warmMb), end: round(control.endMb) },
          wrongAnswers: wrong.length,
        },
        null,
        2,
      )}\n`,
    );

    let failed = false;
    if (wrong.length > 0) {
      console.error(`memory: ${wrong.length} wrong answers, e.g.\n${wrong.slice(0, 10).join("\n")}`);
      failed = true;
    }
    if (growth > MAX_GROWTH_MB) {
      console.error(`memory: the heap grew ${growth.toFixed(2)} MB after the warm-up (limit ${MAX_GROWTH_MB} MB)`);
      failed = true;
    }
    if (peak > MAX_HEAP_MB) {
      console.error(`memory: the heap reached ${peak.toFixed(2)} MB (limit ${MAX_HEAP_MB} MB)`);
      failed = true;
    }
    return failed ? 1 : 0;
  } finally {
    await mf?.dispose();
    origin?.close();
    await standIn?.close();
    await scratch.drop();
    dir.remove();
  }
}

/** The control: workerd's RSS after a warm-up block and after `requests`, for a Worker that does nothing. */
async function controlRss(requests: number): Promise<{ warmMb: number; endMb: number }> {
  const before = new Set(descendants(process.pid));
  const mf = new Miniflare({
    modules: true,
    script: `export default { fetch() { return new Response("ok"); } }`,
    compatibilityDate: "2026-08-03",
    host: "127.0.0.1",
    port: await freePort(),
    logRequests: false,
  });
  try {
    const url = (await mf.ready).toString();
    const pids = descendants(process.pid).filter((pid) => !before.has(pid));
    let sent = 0;
    const run = async (end: number) =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (sent < end) {
            sent++;
            await (await fetch(url)).arrayBuffer();
          }
        }),
      );
    await run(BLOCK);
    const warmMb = rssMb(pids);
    await run(requests);
    return { warmMb, endMb: rssMb(pids) };
  } finally {
    await mf.dispose();
  }
}

process.exitCode = await main().catch((error) => {
  console.error(`memory: failed: ${error instanceof Error ? error.stack : String(error)}`);
  return 1;
});
