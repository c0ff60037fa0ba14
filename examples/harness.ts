import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createScratchDatabase } from "../dev/scratch-database";
import { type StandIn, startStandIn } from "../dev/standin";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const wranglerBin = join(projectRoot, "node_modules/.bin/wrangler");

/** Bundles the Worker of `configPath` as `wrangler deploy` would, and returns the script's path. */
export async function bundleWorker(configPath: string, outDir: string): Promise<string> {
  await promisify(execFile)(
    wranglerBin,
    ["deploy", "--dry-run", "--config", join(projectRoot, configPath), "--outdir", outDir],
    { cwd: projectRoot, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  return join(outDir, "index.js");
}

export interface Database {
  standIn: StandIn;
  /** DATABASE_URL for a Worker (over the stand-in, NEON_LOCAL_HTTP=true). */
  url: string;
  /** A loopback URL nothing listens on: the database down. */
  downUrl: string;
  close(): Promise<void>;
}

/** The stand-in on a scratch database of TEST_DATABASE_URL's server, or an embedded PGlite; migrated. */
export async function startDatabase(): Promise<Database> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl, "sessiongate_examples") : undefined;
  const standIn = await startStandIn({ databaseUrl: scratch?.url, port: 0 });
  await standIn.backend.migrate(join(projectRoot, "drizzle"));
  // Port 9 (discard) on loopback: nothing listens there in these environments.
  return {
    standIn,
    url: standIn.databaseUrl(),
    downUrl: "postgres://postgres@127.0.0.1:9/sessiongate",
    async close() {
      await standIn.close();
      await scratch?.drop();
    },
  };
}

/** A session of a fresh user, written as the existing application writes them; returns its token. */
export async function createSession(
  standIn: StandIn,
  spec: { appType?: "control_panel" | "tenant_app"; withTenant?: boolean } = {},
): Promise<{ token: string; id: string; userId: number; tenantId: number | null }> {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const result = await standIn.backend.query(
    `with new_user as (insert into users default values returning id),
          new_tenant as (insert into tenants default values returning id)
     insert into sessions (user_id, tenant_id, session_token_hash, absolute_expires_at, app_type)
     select new_user.id, case when $3::boolean then new_tenant.id end, encode(sha256(convert_to($1, 'UTF8')), 'hex'),
            now() + interval '1 hour', $2
     from new_user, new_tenant
     returning id, user_id, tenant_id`,
    [token, spec.appType ?? "control_panel", String(spec.withTenant ?? false)],
  );
  const [id, userId, tenantId] = result.rows[0] ?? [];
  if (!id || !userId) throw new Error("no session row");
  return { token, id, userId: Number(userId), tenantId: tenantId ? Number(tenantId) : null };
}

export function scratchDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "session-gate-examples-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
