import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, createSession, type Database, scratchDir, startDatabase } from "../harness";

/* The example app as wrangler bundles it (with session-gate's middleware inside), in workerd. */
let db: Database;
let mf: Miniflare;
let script: string;
const dir = scratchDir();

beforeAll(async () => {
  db = await startDatabase();
  script = await bundleWorker("examples/hono-middleware/wrangler.toml", join(dir.path, "app"));
  const app = (name: string, databaseUrl: string) => ({
    name,
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: "2026-08-03",
    compatibilityFlags: ["nodejs_compat"],
    // [vars] of the example's wrangler.toml, plus what `wrangler secret put` / .dev.vars would add.
    bindings: { IDLE_TIMEOUT_MINUTES: "30", REALM: "example", DATABASE_URL: databaseUrl, NEON_LOCAL_HTTP: "true" },
  });
  mf = new Miniflare({ workers: [app("app", db.url), app("app-db-down", db.downUrl)] });
  await mf.ready;
});

afterAll(async () => {
  await mf?.dispose();
  await db?.close();
  dir.remove();
});

async function call(path: string, token?: string, worker = "app") {
  return (await mf.getWorker(worker)).fetch(`http://example.test${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

describe("examples/hono-middleware", () => {
  it("bundles session-gate from the installed tarball, not from this repo's source", () => {
    // esbuild names each input file in a comment above its code, relative to the example.
    const bundle = readFileSync(script, "utf8");
    expect(bundle).toContain("// ../node_modules/session-gate/lib/library.js");
    expect(bundle).not.toMatch(/^\/\/ \.\.\/\.\.\/src\//m);
  });

  it("serves public routes without a session", async () => {
    const res = await call("/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("public");
  });

  it("sets c.var.session for a valid token", async () => {
    const s = await createSession(db.standIn);
    const res = await call("/me", s.token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: s.userId, sessionId: s.id });
  });

  it("answers a missing or unknown token with 401 and the challenge in the app's realm", async () => {
    expect((await call("/me")).headers.get("www-authenticate")).toBe('Bearer realm="example"');
    const res = await call("/me", "x".repeat(43));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="example", error="invalid_token"');
  });

  it("lets a tenant_app session into its own tenant only", async () => {
    const s = await createSession(db.standIn, { appType: "tenant_app", withTenant: true });
    const own = await call(`/tenants/${s.tenantId}/orders`, s.token);
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ tenantId: s.tenantId, orders: [] });
    const other = await call(`/tenants/${Number(s.tenantId) + 1000}/orders`, s.token);
    expect(other.status).toBe(403);
    expect(other.headers.get("www-authenticate")).toBe('Bearer realm="example", error="insufficient_scope"');
  });

  it("answers 403 for a control_panel session on tenant routes", async () => {
    const s = await createSession(db.standIn, { appType: "control_panel", withTenant: true });
    expect((await call(`/tenants/${s.tenantId}/orders`, s.token)).status).toBe(403);
  });

  it("fails closed with 503 and Retry-After when the database is down", async () => {
    const s = await createSession(db.standIn);
    const res = await call("/me", s.token, "app-db-down");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });
});
