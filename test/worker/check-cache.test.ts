import { describe, expect, it, vi } from "vitest";
import { CheckCache, checkCacheFor } from "../../src/sessions/check-cache";
import type { ValidSession } from "../../src/sessions/session";
import { countedDatabase, insertSession, sql } from "../helpers/db";
import { captureLogs, events } from "../helpers/logs";
import { bearer, callWorkerIn, testEnv } from "../helpers/worker";

/*
 * The opt-in cache of valid answers (VALID_CACHE_SECONDS): what it saves (the database round
 * trip), what it costs (a session ended elsewhere passes here until its entry runs out, never
 * after), and its bounds (size, touch interval, the session's own limits).
 */

const session = (id: string, userId = 1): ValidSession => ({
  id,
  userId,
  tenantId: null,
  appType: "control_panel",
  createdAt: "",
  lastActivityAt: "",
  absoluteExpiresAt: "",
  idleExpiresAt: "",
});

describe("CheckCache", () => {
  it("holds at most its bound, dropping the oldest entry first", () => {
    const cache = new CheckCache(60_000, 3, () => 0);
    for (const id of ["a", "b", "c", "d", "e"]) cache.set(`hash-${id}`, session(id), 3600);
    expect(cache.size).toBe(3);
    expect(cache.get("hash-a")).toBeUndefined();
    expect(cache.get("hash-b")).toBeUndefined();
    expect(cache.get("hash-e")?.id).toBe("e");
  });

  it("forgets an answer when its age runs out, or sooner when the session's own limit comes first", () => {
    let now = 0;
    const cache = new CheckCache(10_000, 100, () => now);
    cache.set("long", session("long"), 3600);
    cache.set("short", session("short"), 2);
    now = 1999;
    expect(cache.get("short")?.id).toBe("short");
    now = 2000;
    expect(cache.get("short")).toBeUndefined();
    expect(cache.get("long")?.id).toBe("long");
    now = 10_000;
    expect(cache.get("long")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("is off at 0, and never longer than the touch interval", () => {
    expect(checkCacheFor({ validCacheSeconds: 0, touchIntervalSeconds: 60 })).toBeUndefined();
    const cache = checkCacheFor({ validCacheSeconds: 300, touchIntervalSeconds: 5 });
    expect((cache as unknown as { maxAgeMs: number }).maxAgeMs).toBe(5000);
  });
});

describe("VALID_CACHE_SECONDS in the Worker", () => {
  it("answers a repeated check of a valid session without the database, requirements still applied", async () => {
    const s = await insertSession();
    const counted = countedDatabase();
    const cached = testEnv({ VALID_CACHE_SECONDS: "30", DATABASE_URL: counted.databaseUrl });
    const lines = await captureLogs(async () => {
      expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(200);
      expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(200);
      expect((await callWorkerIn(cached, "/v1/validate?app_type=tenant_app", bearer(s.token))).status).toBe(403);
    });
    expect(await counted.requests()).toBe(1);
    expect(events(lines, "session_check").map((line) => line.cached ?? false)).toEqual([false, true, true]);
  });

  it("refuses a session ended elsewhere within VALID_CACHE_SECONDS, and never after", async () => {
    const s = await insertSession();
    const cached = testEnv({ VALID_CACHE_SECONDS: "2" });
    vi.spyOn(console, "log").mockImplementation(() => {});
    expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(200);
    // Ended by the application itself, behind this isolate's back.
    await sql`update sessions set is_active = false, revoke_reason = 'logout', revoked_at = now(), ended_at = now() where id = ${s.id}`;
    const ended = Date.now();
    let refusedAt: number | undefined;
    while (refusedAt === undefined) {
      const status = (await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status;
      if (status === 401) refusedAt = Date.now();
      else expect(status).toBe(200);
      expect(Date.now() - ended).toBeLessThan(2000 + 1000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let i = 0; i < 5; i++) expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(401);
  });

  it("forgets at once a session this isolate ends", async () => {
    const s = await insertSession();
    const cached = testEnv({ VALID_CACHE_SECONDS: "30" });
    vi.spyOn(console, "log").mockImplementation(() => {});
    expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(200);
    expect((await callWorkerIn(cached, "/v1/logout", { method: "POST", ...bearer(s.token) })).status).toBe(204);
    expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(401);
  });

  it("never answers past the session's absolute limit", async () => {
    const s = await insertSession({ absoluteInSeconds: 2 });
    const cached = testEnv({ VALID_CACHE_SECONDS: "30" });
    vi.spyOn(console, "log").mockImplementation(() => {});
    expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await callWorkerIn(cached, "/v1/validate", bearer(s.token))).status).toBe(401);
  });
});
