import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, createSession, type Database, scratchDir, startDatabase } from "../harness";

/*
 * The consumer Worker of this example and session-gate itself, both as wrangler bundles them, in one
 * workerd: the consumer reaches session-gate only through its `SESSIONS` service binding.
 */
let db: Database;
let mf: Miniflare;
const dir = scratchDir();

function gateWorker(name: string, scriptPath: string, databaseUrl: string) {
  return {
    name,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: "2026-08-03",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { DATABASE_URL: databaseUrl, NEON_LOCAL_HTTP: "true", VALIDATION_TIMEOUT_MS: "1000" },
  };
}

beforeAll(async () => {
  db = await startDatabase();
  const [consumer, gate] = await Promise.all([
    bundleWorker("examples/service-binding/wrangler.toml", join(dir.path, "consumer")),
    bundleWorker("wrangler.toml", join(dir.path, "gate")),
  ]);
  const consumerWorker = (name: string, service: string) => ({
    name,
    modules: true,
    scriptPath: consumer,
    modulesRoot: dirname(consumer),
    compatibilityDate: "2026-08-03",
    serviceBindings: { SESSIONS: { name: service, entrypoint: "SessionValidator" } },
  });
  mf = new Miniflare({
    workers: [
      consumerWorker("consumer", "session-gate"),
      gateWorker("session-gate", gate, db.url),
      // The same consumer bound to a session-gate whose database is down.
      consumerWorker("consumer-db-down", "session-gate-db-down"),
      gateWorker("session-gate-db-down", gate, db.downUrl),
    ],
  });
  await mf.ready;
});

afterAll(async () => {
  await mf?.dispose();
  await db?.close();
  dir.remove();
});

async function call(path: string, token?: string, worker = "consumer") {
  const consumer = await mf.getWorker(worker);
  return consumer.fetch(`http://example.test${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

describe("examples/service-binding", () => {
  it("returns the session of a valid token, checked by session-gate over the binding", async () => {
    const s = await createSession(db.standIn, { appType: "tenant_app", withTenant: true });
    const res = await call("/me", s.token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      sessionId: s.id,
      userId: s.userId,
      tenantId: s.tenantId,
      appType: "tenant_app",
    });
  });

  it.each([
    ["no token", undefined, 401, 'Bearer realm="example"'],
    ["an unknown token", "x".repeat(43), 401, 'Bearer realm="example", error="invalid_token"'],
  ])("answers %s with 401", async (_name, token, status, challenge) => {
    const res = await call("/me", token);
    expect(res.status).toBe(status);
    expect(res.headers.get("www-authenticate")).toBe(challenge);
  });

  it("passes requirements: a control_panel session gets 403 on /tenant/me", async () => {
    const s = await createSession(db.standIn, { appType: "control_panel" });
    const res = await call("/tenant/me", s.token);
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="example", error="insufficient_scope"');
  });

  it("fails closed with 503 when session-gate's database is down", async () => {
    const s = await createSession(db.standIn);
    const res = await call("/me", s.token, "consumer-db-down");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });
});
