import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/sessions/check-hash";
import { createTenant, createUser, insertSession, readSession, sql } from "../helpers/db";
import { bearer, callWorker } from "../helpers/worker";

// As Python's isoformat() writes a UTC time: `+00:00`, microseconds only when there are any.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/;
const TEST_ADMIN_API_KEY = env.ADMIN_API_KEY ?? "";
const admin = { authorization: `Bearer ${TEST_ADMIN_API_KEY}` };

function adminJson(method: string, body?: unknown): RequestInit {
  return {
    method,
    headers: { ...admin, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

async function issue(body: Record<string, unknown>) {
  const res = await callWorker("/v1/sessions", adminJson("POST", body));
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; session: Record<string, unknown> & { id: string } };
}

describe("admin authentication", () => {
  it("answers 503 when ADMIN_API_KEY is not configured, never open", async () => {
    const res = await callWorker("/v1/users/1/sessions", { headers: admin }, { ADMIN_API_KEY: "" });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: "not_configured",
      error_description: "Admin endpoints are disabled: ADMIN_API_KEY is not configured.",
    });
  });

  it.each([
    ["POST", "/v1/sessions", JSON.stringify({ user_id: 1 })],
    ["DELETE", `/v1/sessions/${crypto.randomUUID()}`, undefined],
    ["POST", "/v1/users/1/sessions/revoke", JSON.stringify({ reason: "admin_revoke" })],
    ["GET", "/v1/users/1/sessions", undefined],
  ])(
    "%s %s answers 401 with a bare challenge without the key, and invalid_token with a wrong one",
    async (method, path, body) => {
      const init = (headers: Record<string, string>) => ({
        method,
        headers: { ...headers, "content-type": "application/json" },
        body,
      });
      const missing = await callWorker(path, init({}));
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="session-gate"');
      expect(((await missing.json()) as { error: string }).error).toBe("unauthorized");
      const wrong = await callWorker(path, init({ authorization: `Bearer ${TEST_ADMIN_API_KEY}x` }));
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    },
  );

  it.each([
    ["a wrong key", `Bearer ${TEST_ADMIN_API_KEY}x`],
    ["a prefix of the key", `Bearer ${TEST_ADMIN_API_KEY.slice(0, 20)}`],
    ["the key under another scheme", `Basic ${TEST_ADMIN_API_KEY}`],
  ])("answers 401 invalid_token for %s", async (_name, authorization) => {
    const res = await callWorker("/v1/users/1/sessions", { headers: { authorization } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
    expect(((await res.json()) as { error: string }).error).toBe("invalid_token");
  });

  it("does not accept a user's session token as the admin key", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/users/1/sessions", bearer(s.token));
    expect(res.status).toBe(401);
  });
});

describe("POST /v1/sessions", () => {
  it("issues a 256-bit token, stores only its hash, and the token validates", async () => {
    const userId = await createUser();
    const tenantId = await createTenant();
    const res = await callWorker(
      "/v1/sessions",
      adminJson("POST", {
        user_id: userId,
        tenant_id: tenantId,
        app_type: "tenant_app",
        ip_address: "2001:db8::1",
        user_agent: "Mozilla/5.0",
      }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { token, session } = (await res.json()) as { token: string; session: Record<string, unknown> };
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).toEqual({
      id: expect.any(String),
      user_id: userId,
      tenant_id: tenantId,
      created_at: expect.stringMatching(ISO),
      last_activity_at: expect.stringMatching(ISO),
      absolute_expires_at: expect.stringMatching(ISO),
      ip_address: "2001:db8::1",
      is_active: true,
      revoked_at: null,
      revoke_reason: null,
      ended_at: null,
      app_type: "tenant_app",
    });
    expect(Date.parse(String(session.absolute_expires_at)) - Date.parse(String(session.created_at))).toBe(8 * 3600_000);
    const [row] = await sql`select session_token_hash, user_agent from sessions where id = ${session.id}`;
    expect(row).toEqual({ session_token_hash: hashToken(token), user_agent: "Mozilla/5.0" });
    const [plain] = await sql`select count(*)::int as n from sessions where session_token_hash = ${token}`;
    expect(plain?.n).toBe(0);

    const validated = await callWorker("/v1/validate", bearer(token));
    expect(validated.status).toBe(200);
    expect(validated.headers.get("x-session-id")).toBe(session.id);
  });

  it("defaults the app type and honours absolute_timeout_hours", async () => {
    const { session } = await issue({ user_id: await createUser(), absolute_timeout_hours: 1.5 });
    expect(session.app_type).toBe("control_panel");
    expect(session.tenant_id).toBeNull();
    expect(Date.parse(String(session.absolute_expires_at)) - Date.parse(String(session.created_at))).toBe(5400_000);
  });

  it("refuses an absolute timeout above MAX_ABSOLUTE_TIMEOUT_HOURS", async () => {
    const res = await callWorker(
      "/v1/sessions",
      adminJson("POST", { user_id: await createUser(), absolute_timeout_hours: 25 }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "invalid_request",
      error_description: "The request json is invalid.",
      issues: [{ path: "absolute_timeout_hours", message: "must be at most 24 (MAX_ABSOLUTE_TIMEOUT_HOURS)" }],
    });
  });

  it.each([
    ["user", { user_id: 2_000_000_000 }, "user_id"],
    ["tenant", { tenant_id: 2_000_000_000 }, "tenant_id"],
  ])("answers 422 for an unknown %s", async (what, extra, field) => {
    const res = await callWorker("/v1/sessions", adminJson("POST", { user_id: await createUser(), ...extra }));
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: "unprocessable_entity",
      error_description: `No ${what} with this ${field} exists.`,
      issues: [{ path: field, message: `unknown ${what}` }],
    });
  });

  it.each([
    ["a string user_id", { user_id: "7" }, ["user_id"]],
    ["a negative user_id", { user_id: -1 }, ["user_id"]],
    ["a huge user_id", { user_id: 1e12 }, ["user_id"]],
    ["an unknown app type", { user_id: 1, app_type: "admin" }, ["app_type"]],
    ["a bad IP address", { user_id: 1, ip_address: "999.1.1.1" }, ["ip_address"]],
    ["a negative timeout", { user_id: 1, absolute_timeout_hours: -1 }, ["absolute_timeout_hours"]],
    ["an unknown field", { user_id: 1, is_admin: true }, ["body"]],
    ["several bad fields", { user_id: "x", app_type: 3 }, ["user_id", "app_type"]],
    ["an array", [1, 2], ["body"]],
  ])("answers 400 invalid_request for %s, naming each bad field", async (_name, body, paths) => {
    const res = await callWorker("/v1/sessions", adminJson("POST", body));
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; issues: { path: string }[] };
    expect(json.error).toBe("invalid_request");
    expect(json.issues.map((i) => i.path).sort()).toEqual([...paths].sort());
  });

  it.each([
    ["non-JSON", "text/plain", "user_id=1", "content-type"],
    ["malformed JSON", "application/json", '{"user_id": 1', "body"],
    ["an empty body", "application/json", "", "body"],
    ["a body over 16 KiB", "application/json", JSON.stringify({ user_id: 1, user_agent: "x".repeat(17_000) }), "body"],
  ])("answers 400 invalid_request for %s", async (_name, contentType, body, path) => {
    const res = await callWorker("/v1/sessions", {
      method: "POST",
      headers: { ...admin, "content-type": contentType },
      body,
    });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; issues: { path: string }[] };
    expect(json.error).toBe("invalid_request");
    expect(json.issues[0]?.path).toBe(path);
  });
});

describe("bearer endpoints", () => {
  it("GET /v1/sessions/current answers the caller's session in to_dict shape", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/sessions/current", bearer(s.token));
    expect(res.status).toBe(200);
    const { session } = (await res.json()) as { session: Record<string, unknown> };
    expect(Object.keys(session).sort()).toEqual(
      [
        "id",
        "user_id",
        "tenant_id",
        "created_at",
        "last_activity_at",
        "absolute_expires_at",
        "ip_address",
        "is_active",
        "revoked_at",
        "revoke_reason",
        "ended_at",
        "app_type",
      ].sort(),
    );
    expect(session).toMatchObject({ id: s.id, user_id: s.userId, ip_address: "203.0.113.7", is_active: true });
  });

  it("answers bearer failures as /v1/validate does", async () => {
    const missing = await callWorker("/v1/logout", { method: "POST" });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="session-gate"');
    const expired = await insertSession({ absoluteInSeconds: -1 });
    const res = await callWorker("/v1/sessions/current", bearer(expired.token));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="session-gate", error="invalid_token"');
  });

  it("round trip: issue, validate 200, logout 204, validate 401", async () => {
    const { token, session } = await issue({ user_id: await createUser() });
    expect((await callWorker("/v1/validate", bearer(token))).status).toBe(200);
    const logout = await callWorker("/v1/logout", { method: "POST", ...bearer(token) });
    expect(logout.status).toBe(204);
    expect(await logout.text()).toBe("");
    expect((await callWorker("/v1/validate", bearer(token))).status).toBe(401);
    const stored = await readSession(session.id);
    expect(stored).toMatchObject({ is_active: false, revoke_reason: "logout" });
    expect(stored.ended_at).toBe(stored.revoked_at);
  });

  it("logs out a session the existing application wrote with plain SQL", async () => {
    const s = await insertSession({ token: "legacy-app-token-abcdefghijklmnop" });
    expect((await callWorker("/v1/logout", { method: "POST", ...bearer(s.token) })).status).toBe(204);
    expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "logout" });
  });

  it("POST /v1/sessions/revoke-others ends the user's other live sessions only", async () => {
    const userId = await createUser();
    const mine = await insertSession({ userId });
    const other1 = await insertSession({ userId });
    const other2 = await insertSession({ userId });
    const expired = await insertSession({ userId, idleSeconds: 3600 });
    const stranger = await insertSession();
    const res = await callWorker("/v1/sessions/revoke-others", { method: "POST", ...bearer(mine.token) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 2 });
    expect((await readSession(mine.id)).is_active).toBe(true);
    for (const s of [other1, other2])
      expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "logout" });
    // Over before anyone revoked it: ended truthfully, with its own reason and moment.
    const e = await readSession(expired.id);
    expect(e).toMatchObject({ is_active: false, revoke_reason: "idle_timeout", ended_at: e.expected_ended_at });
    expect((await readSession(stranger.id)).is_active).toBe(true);
  });
});

describe("admin revocation", () => {
  it("DELETE /v1/sessions/:id ends a live session with admin_revoke, then 404", async () => {
    const s = await insertSession();
    const res = await callWorker(`/v1/sessions/${s.id}`, { method: "DELETE", headers: admin });
    expect(res.status).toBe(204);
    expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "admin_revoke" });
    const again = await callWorker(`/v1/sessions/${s.id}`, { method: "DELETE", headers: admin });
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: "not_found", error_description: "No such active session." });
  });

  it("takes an optional reason, and keeps the first reason and times of an ended session", async () => {
    const s = await insertSession();
    expect((await callWorker(`/v1/sessions/${s.id}`, adminJson("DELETE", { reason: "password_change" }))).status).toBe(
      204,
    );
    const first = await readSession(s.id);
    expect(first.revoke_reason).toBe("password_change");
    expect((await callWorker(`/v1/sessions/${s.id}`, adminJson("DELETE", { reason: "admin_revoke" }))).status).toBe(
      404,
    );
    expect(await readSession(s.id)).toEqual(first);
  });

  it.each([
    ["a bad UUID", "/v1/sessions/not-a-uuid", undefined, "id"],
    ["an unknown reason", `/v1/sessions/${crypto.randomUUID()}`, { reason: "idle_timeout" }, "reason"],
    ["an unknown field", `/v1/sessions/${crypto.randomUUID()}`, { reason: "admin_revoke", force: true }, "body"],
  ])("DELETE answers 400 for %s", async (_name, path, body, field) => {
    const res = await callWorker(path, adminJson("DELETE", body));
    expect(res.status).toBe(400);
    const json = (await res.json()) as { issues: { path: string }[] };
    expect(json.issues.map((i) => i.path)).toContain(field);
  });

  it("DELETE on a session already past its limit ends it truthfully (timeout reason, the moment it expired) and answers 404", async () => {
    const idle = await insertSession({ idleSeconds: 31 * 60 });
    const absolute = await insertSession({ absoluteInSeconds: -60 });
    for (const [s, reason] of [
      [idle, "idle_timeout"],
      [absolute, "absolute_timeout"],
    ] as const) {
      const res = await callWorker(`/v1/sessions/${s.id}`, { method: "DELETE", headers: admin });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", error_description: "No such active session." });
      const stored = await readSession(s.id);
      expect(stored).toMatchObject({ is_active: false, revoke_reason: reason, ended_at: stored.expected_ended_at });
    }
  });

  it("revoke-all ends sessions already past a limit with their timeout reason and does not count them", async () => {
    const userId = await createUser();
    const live = await insertSession({ userId });
    const expired = await insertSession({ userId, absoluteInSeconds: -60 });
    const res = await callWorker(`/v1/users/${userId}/sessions/revoke`, adminJson("POST", { reason: "admin_revoke" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 1 });
    expect(await readSession(live.id)).toMatchObject({ is_active: false, revoke_reason: "admin_revoke" });
    const stored = await readSession(expired.id);
    expect(stored).toMatchObject({
      is_active: false,
      revoke_reason: "absolute_timeout",
      ended_at: stored.absolute_expires_at,
    });
  });

  it("answers 404 for an unknown session id", async () => {
    const res = await callWorker(`/v1/sessions/${crypto.randomUUID()}`, { method: "DELETE", headers: admin });
    expect(res.status).toBe(404);
  });

  it("POST /v1/users/:id/sessions/revoke ends all but the exception", async () => {
    const userId = await createUser();
    const keep = await insertSession({ userId });
    const a = await insertSession({ userId });
    const b = await insertSession({ userId });
    const res = await callWorker(
      `/v1/users/${userId}/sessions/revoke`,
      adminJson("POST", { reason: "password_change", except_session_id: keep.id }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: 2 });
    expect((await readSession(keep.id)).is_active).toBe(true);
    for (const s of [a, b])
      expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "password_change" });
    expect(
      (await callWorker(`/v1/users/${userId}/sessions/revoke`, adminJson("POST", { reason: "admin_revoke" }))).status,
    ).toBe(200);
    expect((await readSession(keep.id)).revoke_reason).toBe("admin_revoke");
    expect((await readSession(a.id)).revoke_reason).toBe("password_change");
  });

  it.each([
    ["a missing reason", "/v1/users/1/sessions/revoke", {}, "reason"],
    ["logout as a reason", "/v1/users/1/sessions/revoke", { reason: "logout" }, "reason"],
    [
      "a bad except id",
      "/v1/users/1/sessions/revoke",
      { reason: "admin_revoke", except_session_id: "x" },
      "except_session_id",
    ],
    ["a bad user id", "/v1/users/abc/sessions/revoke", { reason: "admin_revoke" }, "userId"],
    ["a zero user id", "/v1/users/0/sessions/revoke", { reason: "admin_revoke" }, "userId"],
  ])("revoke answers 400 for %s", async (_name, path, body, field) => {
    const res = await callWorker(path, adminJson("POST", body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: { path: string }[] }).issues.map((i) => i.path)).toContain(field);
  });
});

describe("GET /v1/users/:userId/sessions", () => {
  it("lists newest first, paginates with a cursor, and never shows the hash", async () => {
    const userId = await createUser();
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await insertSession({ userId, ageSeconds: 100 - i }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "limit=2" : `limit=2&cursor=${cursor}`;
      const res = await callWorker(`/v1/users/${userId}/sessions?${query}`, { headers: admin });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { sessions: Record<string, unknown>[]; next_cursor: string | null };
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      for (const s of page.sessions) {
        expect(s).not.toHaveProperty("session_token_hash");
        expect(s).not.toHaveProperty("user_agent");
        seen.push(String(s.id));
      }
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(made.map((s) => s.id).reverse());
  });

  it("filters by effective activity", async () => {
    const userId = await createUser();
    const live = await insertSession({ userId });
    const loggedOut = await insertSession({ userId, isActive: false, endedAgoSeconds: 5, revokeReason: "logout" });
    const idle = await insertSession({ userId, idleSeconds: 3600 });
    const ids = async (q: string) => {
      const res = await callWorker(`/v1/users/${userId}/sessions?${q}`, { headers: admin });
      return ((await res.json()) as { sessions: { id: string; is_active: boolean }[] }).sessions;
    };
    expect((await ids("active=true")).map((s) => s.id)).toEqual([live.id]);
    expect((await ids("active=false")).map((s) => s.id).sort()).toEqual([loggedOut.id, idle.id].sort());
    expect((await ids("")).find((s) => s.id === idle.id)?.is_active).toBe(false);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=-5", "limit"],
    ["active=yes", "active"],
    ["cursor=garbage", "cursor"],
    ["cursor=MjAyNi0xMS0yN1QwMDowMDowMC4wMDAwMDBafG5vdC1hLXV1aWQ", "cursor"],
    ["order=asc", "query"],
  ])("answers 400 for %s", async (query, field) => {
    const res = await callWorker(`/v1/users/1/sessions?${query}`, { headers: admin });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; issues: { path: string }[] };
    expect(json.error).toBe("invalid_request");
    expect(json.issues.map((i) => i.path)).toContain(field);
  });
});
