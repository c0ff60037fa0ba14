import { afterEach, describe, expect, it, vi } from "vitest";
import { hashToken } from "../../src/sessions/check-hash";
import { countedDatabase, createTenant, insertSession, newToken, readSession, sql } from "../helpers/db";
import { captureLogs, events } from "../helpers/logs";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";

// As Python's isoformat() writes a UTC time: `+00:00`, microseconds only when there are any.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/;

describe("GET /v1/validate: a valid session", () => {
  it("answers 200 with the identity headers and the session", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId, appType: "tenant_app" });
    const res = await callWorker("/v1/validate", bearer(s.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-session-id")).toBe(s.id);
    expect(res.headers.get("x-user-id")).toBe(String(s.userId));
    expect(res.headers.get("x-tenant-id")).toBe(String(tenantId));
    expect(res.headers.get("x-app-type")).toBe("tenant_app");
    expect(res.headers.get("server-timing")).toMatch(/^db;dur=[\d.]+$/);
    const body = (await res.json()) as { session: Record<string, unknown> };
    expect(body.session).toEqual({
      id: s.id,
      user_id: s.userId,
      tenant_id: tenantId,
      app_type: "tenant_app",
      created_at: expect.stringMatching(ISO),
      last_activity_at: expect.stringMatching(ISO),
      absolute_expires_at: expect.stringMatching(ISO),
      idle_expires_at: expect.stringMatching(ISO),
    });
    const stored = await readSession(s.id);
    expect(body.session.absolute_expires_at).toBe(stored.absolute_expires_at);
    expect(Date.parse(String(body.session.idle_expires_at)) - Date.parse(String(body.session.last_activity_at))).toBe(
      30 * 60 * 1000,
    );
  });

  it("sends an empty X-Tenant-Id when the session has no tenant, so a proxy still overwrites it", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", bearer(s.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-tenant-id")).toBe("");
    expect(res.headers.get("x-app-type")).toBe("control_panel");
    // The check's row arrives as JSON (src/db/check-statement.ts): its null stays null, not "".
    expect(((await res.json()) as { session: { tenant_id: unknown } }).session.tenant_id).toBeNull();
  });

  it("answers HEAD like GET, without a body", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", {
      method: "HEAD",
      ...bearer(s.token),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-session-id")).toBe(s.id);
    expect(await res.text()).toBe("");
  });

  it("accepts the scheme in any case and several spaces before the token", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", {
      headers: { authorization: `bEaReR   ${s.token}` },
    });
    expect(res.status).toBe(200);
  });

  it("validates a row the existing application wrote, with a token format of its own", async () => {
    // Hash computed by PostgreSQL from the plaintext, as the other application's Python would.
    const token = "legacy.Token_with~all+b64/chars==";
    const s = await insertSession({ token });
    expect((await readSession(s.id)).is_active).toBe(true);
    const [row] = await sql`select session_token_hash from sessions where id = ${s.id}`;
    expect(row?.session_token_hash).toBe(hashToken(token));
    const res = await callWorker("/v1/validate", bearer(token));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-session-id")).toBe(s.id);
  });
});

describe("GET /v1/validate: touch throttling", () => {
  it("writes the row at most once per touch interval", async () => {
    const s = await insertSession({ idleSeconds: 120 });
    const before = await readSession(s.id);
    expect((await callWorker("/v1/validate", bearer(s.token))).status).toBe(200);
    const touched = await readSession(s.id);
    expect(touched.xmin).not.toBe(before.xmin);
    expect(touched.last_activity_at > before.last_activity_at).toBe(true);

    for (let i = 0; i < 3; i++) expect((await callWorker("/v1/validate", bearer(s.token))).status).toBe(200);
    const after = await readSession(s.id);
    expect(after.xmin).toBe(touched.xmin);
    expect(after.last_activity_at).toBe(touched.last_activity_at);
  });

  it("touches again once the interval has passed", async () => {
    const s = await insertSession({ idleSeconds: 2 });
    const overrides = { TOUCH_INTERVAL_SECONDS: "1" };
    const before = await readSession(s.id);
    expect((await callWorker("/v1/validate", bearer(s.token), overrides)).status).toBe(200);
    const first = await readSession(s.id);
    expect(first.last_activity_at > before.last_activity_at).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await callWorker("/v1/validate", bearer(s.token), overrides)).status).toBe(200);
    const second = await readSession(s.id);
    expect(second.last_activity_at > first.last_activity_at).toBe(true);
  });
});

describe("GET /v1/validate: lazy expiry", () => {
  it.each([
    {
      name: "idle first",
      spec: { idleSeconds: 31 * 60, absoluteInSeconds: 3600 },
      reason: "idle_timeout",
    },
    {
      name: "absolute first",
      spec: { idleSeconds: 60, absoluteInSeconds: -10 },
      reason: "absolute_timeout",
    },
    {
      name: "both, absolute earlier",
      spec: { idleSeconds: 40 * 60, absoluteInSeconds: -20 * 60 },
      reason: "absolute_timeout",
    },
    {
      name: "both, idle earlier",
      spec: { idleSeconds: 50 * 60, absoluteInSeconds: -5 * 60 },
      reason: "idle_timeout",
    },
  ])("ends a session expired $name with the reason and the moment it expired", async ({ spec, reason }) => {
    const s = await insertSession(spec);
    const res = await callWorker("/v1/validate", bearer(s.token));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    const stored = await readSession(s.id);
    expect(stored).toMatchObject({
      is_active: false,
      revoke_reason: reason,
      ended_at: stored.expected_ended_at,
    });
    expect(stored.revoked_at).toMatch(ISO);
  });

  it("ends a session idle for 30 minutes (the exact boundary is in expiry-rule.test.ts)", async () => {
    const s = await insertSession({ idleSeconds: 30 * 60 });
    expect((await callWorker("/v1/validate", bearer(s.token))).status).toBe(401);
    expect((await readSession(s.id)).revoke_reason).toBe("idle_timeout");
  });

  it("honours IDLE_TIMEOUT_MINUTES", async () => {
    const s = await insertSession({ idleSeconds: 6 * 60 });
    const res = await callWorker("/v1/validate", bearer(s.token), {
      IDLE_TIMEOUT_MINUTES: "5",
    });
    expect(res.status).toBe(401);
    const stored = await readSession(s.id, 5);
    expect(stored).toMatchObject({
      revoke_reason: "idle_timeout",
      ended_at: stored.expected_ended_at,
    });
  });

  it("never re-activates, touches or re-ends an ended session", async () => {
    const s = await insertSession({
      isActive: false,
      endedAgoSeconds: 60,
      revokeReason: "logout",
      idleSeconds: 3600,
    });
    const before = await readSession(s.id);
    const res = await callWorker("/v1/validate", bearer(s.token));
    expect(res.status).toBe(401);
    expect(await readSession(s.id)).toEqual(before);
  });
});

describe("GET /v1/validate: a half-done revoke by another writer", () => {
  it("refuses a row still marked active but carrying revoked_at or ended_at, and leaves it to the repair pass", async () => {
    const s = await insertSession();
    await sql`update sessions set revoked_at = now() where id = ${s.id}`;
    const before = await readSession(s.id);
    const res = await callWorker("/v1/validate", bearer(s.token));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    // Not touched, not ended by the check; an expiry run of another test file may repair it meanwhile.
    const after = await readSession(s.id);
    expect(after.last_activity_at).toBe(before.last_activity_at);
    expect([null, "cleanup_stale"]).toContain(after.revoke_reason);
  });
});

describe("GET /v1/validate: invalid tokens", () => {
  it("answers an unknown token with invalid_token and the same body as an expired one", async () => {
    const unknown = await callWorker("/v1/validate", bearer(newToken()));
    const expired = await callWorker("/v1/validate", bearer((await insertSession({ absoluteInSeconds: -1 })).token));
    const revoked = await callWorker(
      "/v1/validate",
      bearer(
        (
          await insertSession({
            isActive: false,
            endedAgoSeconds: 1,
            revokeReason: "admin_revoke",
          })
        ).token,
      ),
    );
    for (const res of [unknown, expired, revoked]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-user-id")).toBeNull();
      expect(await res.json()).toEqual({
        error: "invalid_token",
        error_description: "The token is not valid.",
      });
    }
  });

  it("answers no credentials with a bare challenge, in the configured realm", async () => {
    const res = await callWorker("/v1/validate", {}, { REALM: "acme" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="acme"');
    expect(await res.json()).toEqual({
      error: "unauthorized",
      error_description: "A bearer token is required.",
    });
  });

  const malformed: [string, string | string[]][] = [
    ["empty", ""],
    ["scheme only", "Bearer"],
    ["scheme and spaces", "Bearer     "],
    ["Basic", "Basic dXNlcjpwYXNzd29yZA=="],
    ["Bearer without a space", "BearerAAAAAAAAAAAAAAAAAAAAAA"],
    ["a tab separator", "Bearer\tAAAAAAAAAAAAAAAAAAAAAA"],
    ["a token with a space inside", "Bearer AAAAAAAAAAAA AAAAAAAAAAAA"],
    ["a 10 KB token", `Bearer ${"A".repeat(10 * 1024)}`],
    ["one character too long", `Bearer ${"A".repeat(513)}`],
    ["one character too short", `Bearer ${"A".repeat(15)}`],
    ["non-ASCII", "Bearer AAAAAAAAAAAAAAAAÄÄÄÄ"],
    ["a control character", "Bearer AAAAAAAAAAAAAAAA\u0001AAAA"],
    ["padding in the middle", "Bearer AAAAAAAA==AAAAAAAAAA"],
    ["a comma", "Bearer AAAAAAAAAAAAAAAA,AAAA"],
    ["a quote", 'Bearer "AAAAAAAAAAAAAAAAAAAA"'],
    ["a semicolon", "Bearer AAAAAAAAAAAAAAAAAAAA;"],
    ["a percent escape", "Bearer AAAAAAAAAAAAAAAA%20AAAA"],
    ["two schemes", "Bearer Bearer AAAAAAAAAAAAAAAAAAAA"],
    ["token then garbage", "Bearer AAAAAAAAAAAAAAAAAAAA extra"],
    ["only padding", "Bearer ================"],
    ["a NUL-like escape", "Bearer AAAAAAAAAAAAAAAA\\0AAAA"],
    ["two Authorization headers", ["Bearer AAAAAAAAAAAAAAAAAAAA", "Bearer BBBBBBBBBBBBBBBBBBBB"]],
  ];

  it.each(malformed)("answers %s with invalid_request and never asks the database", async (_name, value) => {
    const counted = countedDatabase();
    const headers = new Headers();
    for (const v of Array.isArray(value) ? value : [value]) {
      try {
        headers.append("authorization", v);
      } catch (error) {
        // Some values (control characters, non-Latin-1) cannot even be put on the wire: the
        // runtime refuses them before any request exists, so none can reach the Worker.
        expect(error).toBeInstanceOf(TypeError);
        expect(v).toMatch(/[^\t\x20-\x7e]/);
        return;
      }
    }
    const res = await callWorker("/v1/validate", { headers }, { DATABASE_URL: counted.databaseUrl });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_request"');
    expect(await res.json()).toEqual({
      error: "invalid_request",
      error_description: "The Authorization header is not a valid bearer credential.",
    });
    expect(await counted.requests()).toBe(0);
  });
});

describe("GET /v1/validate: one round trip", () => {
  it.each([
    ["valid", 200, async () => (await insertSession()).token],
    ["valid and touched", 200, async () => (await insertSession({ idleSeconds: 300 })).token],
    ["expired", 401, async () => (await insertSession({ absoluteInSeconds: -5 })).token],
    ["unknown", 401, async () => newToken()],
  ])("costs exactly one request to the database when %s", async (_name, status, makeToken) => {
    const token = await makeToken();
    const counted = countedDatabase();
    const res = await callWorker("/v1/validate", bearer(token), {
      DATABASE_URL: counted.databaseUrl,
    });
    expect(res.status).toBe(status);
    expect(await counted.requests()).toBe(1);
  });
});

describe("GET /v1/validate: requirements", () => {
  it("answers 403 insufficient_scope when the app type differs", async () => {
    const s = await insertSession({ appType: "control_panel" });
    const res = await callWorker("/v1/validate?app_type=tenant_app", bearer(s.token));
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="insufficient_scope"');
    expect(res.headers.get("x-user-id")).toBeNull();
    expect(((await res.json()) as { error: string }).error).toBe("insufficient_scope");
    expect((await callWorker("/v1/validate?app_type=control_panel", bearer(s.token))).status).toBe(200);
  });

  it("answers 403 when the tenant differs, by query or by X-Tenant-Id", async () => {
    const tenantId = await createTenant();
    const other = await createTenant();
    const s = await insertSession({ tenantId });
    expect((await callWorker(`/v1/validate?tenant_id=${other}`, bearer(s.token))).status).toBe(403);
    const viaHeader = await callWorker("/v1/validate", {
      headers: {
        authorization: `Bearer ${s.token}`,
        "x-tenant-id": String(other),
      },
    });
    expect(viaHeader.status).toBe(403);
    expect((await callWorker(`/v1/validate?tenant_id=${tenantId}`, bearer(s.token))).status).toBe(200);
  });

  it("answers 403 for a tenant requirement on a session without a tenant", async () => {
    const s = await insertSession();
    expect((await callWorker("/v1/validate?tenant_id=1", bearer(s.token))).status).toBe(403);
  });

  it.each(["app_type=admin", "tenant_id=abc", "tenant_id=-1", "tenant_id=99999999999"])(
    "answers 400 invalid_request for a bad requirement %s",
    async (query) => {
      const s = await insertSession();
      const res = await callWorker(`/v1/validate?${query}`, bearer(s.token));
      expect(res.status).toBe(400);
      const body = (await res.json()) as {
        error: string;
        issues: { path: string }[];
      };
      expect(body.error).toBe("invalid_request");
      expect(body.issues[0]?.path).toBe(query.split("=")[0]);
    },
  );
});

describe("GET /v1/validate: a database in trouble", () => {
  it.each(Object.entries(faultyDatabases))("answers 503 with Retry-After when the database is %s", async (_n, url) => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", bearer(s.token), {
      DATABASE_URL: url,
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.headers.get("x-user-id")).toBeNull();
    expect(await res.json()).toEqual({
      error: "temporarily_unavailable",
      error_description: "The session store is unavailable; try again later.",
    });
  });

  it("recovers without a restart once the database answers again", async () => {
    const s = await insertSession();
    expect(
      (
        await callWorker("/v1/validate", bearer(s.token), {
          DATABASE_URL: faultyDatabases.down,
        })
      ).status,
    ).toBe(503);
    expect((await callWorker("/v1/validate", bearer(s.token))).status).toBe(200);
  });
});

describe("the session_check log line", () => {
  it.each<[string, () => Promise<{ header?: string; databaseUrl?: string }>, Record<string, unknown>]>([
    ["valid", async () => ({ header: `Bearer ${(await insertSession()).token}` }), { outcome: "valid" }],
    ["unknown", async () => ({ header: `Bearer ${newToken()}` }), { outcome: "rejected", reason: "unknown" }],
    [
      "expired",
      async () => ({ header: `Bearer ${(await insertSession({ absoluteInSeconds: -5 })).token}` }),
      { outcome: "rejected", reason: "absolute_timeout" },
    ],
    ["missing", async () => ({}), { outcome: "rejected", reason: "missing_credentials" }],
    ["malformed", async () => ({ header: "Bearer a b" }), { outcome: "rejected", reason: "malformed_credentials" }],
    [
      "the database down",
      async () => ({ header: `Bearer ${newToken()}`, databaseUrl: faultyDatabases.down }),
      { outcome: "error", reason: "database_unavailable" },
    ],
  ])("%s: one line, with exactly the documented fields", async (_name, setup, expected) => {
    const { header, databaseUrl } = await setup();
    const lines = await captureLogs(async () => {
      await callWorker(
        "/v1/validate",
        header ? { headers: { authorization: header } } : {},
        databaseUrl ? { DATABASE_URL: databaseUrl } : {},
      );
    });
    const checks = events(lines, "session_check");
    expect(checks).toHaveLength(1);
    const line = checks[0] ?? {};
    expect(line).toMatchObject({ event: "session_check", entryPoint: "validate", ...expected });
    // Only these keys, ever: never the token, its hash, or anything from the request.
    const allowed = ["event", "entryPoint", "outcome", "reason", "sessionId", "dbMs"];
    expect(Object.keys(line).every((key) => allowed.includes(key))).toBe(true);
    expect(line.dbMs === null || typeof line.dbMs === "number").toBe(true);
    if (expected.outcome === "valid" || expected.reason === "absolute_timeout")
      expect(line.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    if (header === undefined || header === "Bearer a b") expect(line.dbMs).toBeNull();
    if (header !== undefined) expect(JSON.stringify(line)).not.toContain(header.slice(7));
  });
});

describe("a skewed Worker clock", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ["a day fast", 86_400_000],
    ["a day slow", -86_400_000],
    ["a year fast", 365 * 86_400_000],
  ])("changes no answer when it runs %s: every time comparison is the database's", async (_name, skewMs) => {
    const live = await insertSession({ idleSeconds: 10 * 60 });
    const idle = await insertSession({ idleSeconds: 31 * 60 });
    const absolute = await insertSession({ absoluteInSeconds: -5 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + skewMs);
    expect((await callWorker("/v1/validate", bearer(live.token))).status).toBe(200);
    expect((await callWorker("/v1/validate", bearer(idle.token))).status).toBe(401);
    expect((await callWorker("/v1/validate", bearer(absolute.token))).status).toBe(401);
    vi.useRealTimers();
    expect(await readSession(live.id)).toMatchObject({ is_active: true });
    const ended = await readSession(idle.id);
    expect(ended).toMatchObject({ is_active: false, revoke_reason: "idle_timeout", ended_at: ended.expected_ended_at });
  });
});
