import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/config";
import { sessionAuth } from "../../src/library";
import type { ValidSession } from "../../src/sessions/session";
import { createTenant, insertSession, newToken } from "../helpers/db";
import { faultyDatabases } from "../helpers/worker";

function hostApp() {
  const app = new Hono<{ Bindings: Env; Variables: { session: ValidSession } }>();
  app.use("/tenant/*", sessionAuth({ appType: "tenant_app" }));
  app.get("/tenant/me", (c) => c.json({ userId: c.var.session.userId, sessionId: c.var.session.id }));
  return app;
}

describe("sessionAuth middleware in another Hono app", () => {
  it("lets a valid session through and sets c.var.session", async () => {
    const s = await insertSession({ appType: "tenant_app", tenantId: await createTenant() });
    const res = await hostApp().request("/tenant/me", { headers: { authorization: `Bearer ${s.token}` } }, env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: s.userId, sessionId: s.id });
  });

  it.each([
    ["no token", undefined, 401, 'Bearer realm="session-gate"'],
    ["an unknown token", `Bearer ${newToken()}`, 401, 'Bearer realm="session-gate", error="invalid_token"'],
  ])("answers %s with the RFC 6750 challenge", async (_name, authorization, status, challenge) => {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const res = await hostApp().request("/tenant/me", { headers }, env);
    expect(res.status).toBe(status);
    expect(res.headers.get("www-authenticate")).toBe(challenge);
  });

  it("answers 403 for the wrong app type", async () => {
    const s = await insertSession({ appType: "control_panel" });
    const res = await hostApp().request("/tenant/me", { headers: { authorization: `Bearer ${s.token}` } }, env);
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="insufficient_scope"');
  });

  it("fails closed with 503 when the database is down", async () => {
    const s = await insertSession({ appType: "tenant_app" });
    const res = await hostApp().request(
      "/tenant/me",
      { headers: { authorization: `Bearer ${s.token}` } },
      { ...env, DATABASE_URL: faultyDatabases.down },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("rejects bad options when the factory is called, not per request", () => {
    expect(() => sessionAuth({ appType: "admin" as never })).toThrow(/appType must be one of/);
  });
});

describe("SessionValidator service binding", () => {
  const validator = (
    exports as unknown as { SessionValidator: { validate: (token: string, requirements?: object) => Promise<unknown> } }
  ).SessionValidator;

  it("returns the session for a valid token", async () => {
    const s = await insertSession();
    const result = await validator.validate(s.token);
    expect(result).toMatchObject({ ok: true, session: { id: s.id, userId: s.userId, appType: "control_panel" } });
  });

  it.each([
    ["an unknown token", () => newToken(), { ok: false, reason: "unknown" }],
    ["a malformed token", () => "short", { ok: false, reason: "malformed_credentials" }],
  ])("returns a rejection for %s", async (_name, token, expected) => {
    expect(await validator.validate(token())).toEqual(expected);
  });

  it("applies requirements", async () => {
    const s = await insertSession({ appType: "control_panel" });
    expect(await validator.validate(s.token, { appType: "tenant_app" })).toEqual({
      ok: false,
      reason: "app_type_mismatch",
      sessionId: s.id,
    });
  });

  it("applies a tenant requirement: only the session's own tenant passes", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId });
    expect(await validator.validate(s.token, { tenantId })).toMatchObject({
      ok: true,
      session: { id: s.id, tenantId },
    });
    expect(await validator.validate(s.token, { tenantId: tenantId + 1 })).toEqual({
      ok: false,
      reason: "tenant_mismatch",
      sessionId: s.id,
    });
    // A session without a tenant never meets a tenant requirement.
    const none = await insertSession();
    expect(await validator.validate(none.token, { tenantId })).toEqual({
      ok: false,
      reason: "tenant_mismatch",
      sessionId: none.id,
    });
  });
});
