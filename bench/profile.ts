/**
 * `npm run bench:profile`: where the Worker's CPU goes in `GET /v1/validate`, by V8's sampling
 * profiler in workerd (the inspector Miniflare opens with `inspectorPort`). The production Worker
 * (wrangler.toml) bundled unminified so functions keep their names, a valid session checked
 * PROFILE_REQUESTS times (20,000) at 8 in flight after a warm-up, then self time per function and
 * per source (our src/ files, each dependency) printed, largest first. Time spent waiting for the
 * database is idle time in the isolate and does not show.
 */

import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Miniflare } from "miniflare";
import { createScratchDatabase } from "../dev/scratch-database";
import { startStandIn } from "../dev/standin/index";
import { startInspectedWorker } from "../test/load/inspected-worker";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const REQUESTS = Number(process.env.PROFILE_REQUESTS ?? 20_000);
const serverUrl = process.env.PROFILE_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const scratch = await createScratchDatabase(serverUrl, "sessiongate_profile");
const standIn = await startStandIn({ databaseUrl: scratch.url, port: 0 });
const outDir = mkdtempSync(path.join(os.tmpdir(), "session-gate-profile-"));
let mf: Miniflare | undefined;
try {
  await standIn.backend.migrate(path.join(projectRoot, "drizzle"));
  const token = randomBytes(32).toString("base64url");
  const user = await standIn.backend.query("insert into users default values returning id", []);
  await standIn.backend.query(
    `insert into sessions (id, user_id, session_token_hash, created_at, last_activity_at, absolute_expires_at,
       ip_address, user_agent, is_active, app_type)
     values (gen_random_uuid(), $2::int, $1, now(), now(), now() + interval '8 hours', '203.0.113.7', 'profile', true, 'control_panel')`,
    [createHash("sha256").update(token, "utf8").digest("hex"), String(user.rows[0]?.[0])],
  );

  execFileSync(
    path.join(projectRoot, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--minify=false", "--outdir", outDir, "--config", "wrangler.toml"],
    { cwd: projectRoot, stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  const script = path.join(outDir, readdirSync(outDir).find((f) => f.endsWith(".js")) as string);
  const worker = await startInspectedWorker(script, { DATABASE_URL: standIn.databaseUrl(), NEON_LOCAL_HTTP: "true" });
  mf = worker.mf;
  const { base, inspector } = worker;
  const headers = { authorization: `Bearer ${token}` };
  const load = async (n: number) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (sent < n) {
          sent++;
          const res = await fetch(`${base}/v1/validate`, { headers });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`validate answered ${res.status}`);
        }
      }),
    );
  };
  await load(2_000);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 50 });
  await inspector.send("Profiler.start");
  const started = performance.now();
  await load(REQUESTS);
  const wallMs = performance.now() - started;
  const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
  inspector.close();

  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const source = (url: string, line: number) => {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (match) return match[1] as string;
    return url === "" ? "(runtime)" : `${path.basename(url)}:${line}`;
  };
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${source(url, lineNumber + 1)}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const total = [...byFunction.values()].reduce((a, b) => a + b, 0);
  const busy = total - (byFunction.get("(idle) (runtime)") ?? 0) - (byFunction.get("(program) (runtime)") ?? 0);
  console.log(
    `profile: ${REQUESTS} valid checks in ${(wallMs / 1000).toFixed(1)} s; isolate busy ${(busy / 1000).toFixed(0)} ms (${(busy / REQUESTS).toFixed(1)} µs per check, (program) and (idle) excluded)`,
  );
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`profile: ${(us / REQUESTS).toFixed(2).padStart(7)} µs/check  ${key}`);
  }
} finally {
  await mf?.dispose();
  await standIn.close();
  await scratch.drop();
  rmSync(outDir, { recursive: true, force: true });
}
