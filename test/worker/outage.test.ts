import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/config";
import { getConfig } from "../../src/config";
import { createDb, DatabaseError, type Db } from "../../src/db/client";
import worker, { SessionValidator } from "../../src/index";
import { runExpiryJob } from "../../src/jobs/expiry-job";
import { sessionAuth } from "../../src/library";
import { createUser, insertSession, readSession, sql } from "../helpers/db";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";
import { TEST_SECRETS } from "../secrets";

/*
 * A database that is down (closed port), failing (500s) or slower than VALIDATION_TIMEOUT_MS, at
 * every entry point that checks a session, every admin write, and the expiry job. validate.test.ts
 * and health.test.ts already cover GET /v1/validate and /healthz; this file covers the rest.
 */

const admin = { authorization: `Bearer ${env.ADMIN_API_KEY}` };
const outages = Object.entries(faultyDatabases);
/** Down and failing: the request never reached PostgreSQL. (Slow requests do, late: see below.) */
const hardOutages = outages.filter(([name]) => name !== "slow");
const UNAVAILABLE = {
  error: "temporarily_unavailable",
  error_description: "The session store is unavailable; try again later.",
};

afterEach(() => {
  vi.restoreAllMocks();
});

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("5");
  expect(res.headers.get("x-session-id")).toBeNull();
  expect(await res.json()).toEqual(UNAVAILABLE);
}

// Each case waits out a fault on its own database URL: they run side by side.
describe.concurrent("a failing database at every check entry point", () => {
  it.each(
    outages.flatMap(([db, url]) =>
      (
        [
          ["HEAD", "/v1/validate"],
          ["GET", "/v1/sessions/current"],
          ["POST", "/v1/logout"],
          ["POST", "/v1/sessions/revoke-others"],
        ] as const
      ).map(([method, path]) => [db, method, path, url] as const),
    ),
  )("%s: %s %s answers 503 with Retry-After, then recovers", async (_db, method, path, url) => {
    const s = await insertSession();
    const before = await readSession(s.id);
    const res = await callWorker(path, { method, ...bearer(s.token) }, { DATABASE_URL: url });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    if (method !== "HEAD") expect(await res.json()).toEqual(UNAVAILABLE);
    if (url !== faultyDatabases.slow) expect(await readSession(s.id)).toEqual(before);

    // Same Worker, same module state: the next request with a healthy database just works.
    // The check failed, so no write was ever sent: the session is as live as before.
    expect((await callWorker("/v1/sessions/current", bearer(s.token))).status).toBe(200);
  });

  it.each(outages)("gateway mode, %s: 503 and the origin never sees the request", async (_db, url) => {
    const s = await insertSession();
    const path = `/never-${crypto.randomUUID()}`;
    const gateway = {
      ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`,
      GATEWAY_SIGNING_KEY: TEST_SECRETS.outageGatewaySigningKey,
    };
    await expectUnavailable(await callWorker(path, bearer(s.token), { ...gateway, DATABASE_URL: url }));
    const seen = await fetch(`${gateway.ORIGIN_URL}/__echo/seen?path=${encodeURIComponent(path)}`);
    expect(((await seen.json()) as { count: number }).count).toBe(0);
  });

  it.each(outages)(
    "a browser navigation with the session cookie and LOGIN_URL set, %s: 503, never a redirect, in forward-auth and in gateway mode",
    async (_db, url) => {
      const s = await insertSession();
      const browser = {
        SESSION_COOKIE_NAME: "sg_session",
        LOGIN_URL: "https://login.example/signin",
        REDIRECT_ALLOWED_HOSTS: "gate.test",
        DATABASE_URL: url,
      };
      const headers = { "sec-fetch-mode": "navigate", accept: "text/html", cookie: `sg_session=${s.token}` };
      await expectUnavailable(await callWorker("/v1/validate", { headers }, browser));
      const gateway = {
        ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`,
        GATEWAY_SIGNING_KEY: TEST_SECRETS.outageGatewaySigningKey,
      };
      await expectUnavailable(await callWorker("/shop", { headers }, { ...browser, ...gateway }));
    },
  );

  it.each(outages)("sessionAuth middleware, %s: 503, never next()", async (_db, url) => {
    const s = await insertSession();
    const reached = vi.fn();
    const app = new Hono<{ Bindings: Env }>();
    app.use("*", sessionAuth());
    app.get("/me", (c) => {
      reached();
      return c.text("ok");
    });
    const res = await app.request("/me", bearer(s.token), { ...env, DATABASE_URL: url });
    await expectUnavailable(res);
    expect(reached).not.toHaveBeenCalled();
    expect((await app.request("/me", bearer(s.token), env)).status).toBe(200);
  });

  it.each(outages)(
    "SessionValidator binding, %s: { ok: false, reason: 'unavailable' }, then recovers",
    async (_db, url) => {
      const s = await insertSession();
      const ctx = createExecutionContext();
      const failing = new SessionValidator(ctx, { ...env, DATABASE_URL: url });
      expect(await failing.validate(s.token)).toEqual({ ok: false, reason: "unavailable" });
      const healthy = new SessionValidator(ctx, env);
      expect(await healthy.validate(s.token)).toMatchObject({ ok: true, session: { id: s.id } });
    },
  );
});

describe.concurrent("admin writes during an outage", () => {
  it.each(hardOutages)("%s: POST /v1/sessions answers 503 with no token and writes no row", async (_db, url) => {
    const userId = await createUser();
    const res = await callWorker(
      "/v1/sessions",
      {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ user_id: userId }),
      },
      { DATABASE_URL: url },
    );
    await expectUnavailable(res);
    const [row] = await sql`select count(*)::int as n from sessions where user_id = ${userId}`;
    expect(row?.n).toBe(0);
  });

  it.each(hardOutages)("%s: DELETE and revoke-all answer 503 and leave every row as it was", async (_db, url) => {
    const userId = await createUser();
    const [a, b] = await Promise.all([insertSession({ userId }), insertSession({ userId })]);
    const before = await Promise.all([readSession(a.id), readSession(b.id)]);
    const json = { ...admin, "content-type": "application/json" };
    await expectUnavailable(
      await callWorker(`/v1/sessions/${a.id}`, { method: "DELETE", headers: admin }, { DATABASE_URL: url }),
    );
    await expectUnavailable(
      await callWorker(
        `/v1/users/${userId}/sessions/revoke`,
        { method: "POST", headers: json, body: JSON.stringify({ reason: "password_change" }) },
        { DATABASE_URL: url },
      ),
    );
    await expectUnavailable(
      await callWorker(`/v1/users/${userId}/sessions`, { headers: admin }, { DATABASE_URL: url }),
    );
    expect(await Promise.all([readSession(a.id), readSession(b.id)])).toEqual(before);
    // Back up: the same calls do what they say.
    expect((await callWorker(`/v1/sessions/${a.id}`, { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await readSession(a.id)).revoke_reason).toBe("admin_revoke");
  });

  it("slow: a write the Worker gave up on may still commit when it arrives, whole or not at all", async () => {
    // The statement was already sent when the deadline passed; a database cannot be told to drop
    // it. What must hold: the client never saw a token, and the row is complete if it exists.
    const userId = await createUser();
    const res = await callWorker(
      "/v1/sessions",
      {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ user_id: userId }),
      },
      { DATABASE_URL: faultyDatabases.slow },
    );
    await expectUnavailable(res);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const rows =
      await sql`select is_active, session_token_hash, absolute_expires_at, revoked_at from sessions where user_id = ${userId}`;
    expect(rows.length).toBeLessThanOrEqual(1);
    for (const row of rows) {
      expect(row).toMatchObject({ is_active: true, revoked_at: null });
      expect(row.session_token_hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe("the expiry job during an outage", () => {
  it("down: the run rejects, logs its summary as an error, and changes nothing; the next run catches up", async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, () => insertSession({ idleSeconds: 2 * 3600 })));
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }),
      { ...env, DATABASE_URL: faultyDatabases.down },
      ctx,
    );
    await expect(waitOnExecutionContext(ctx)).rejects.toBeInstanceOf(DatabaseError);
    const lines = errors.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"expiry_run"'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ batches: 0, error: expect.stringContaining("DatabaseError") });
    // Nothing changed: every row is still active, unended, with no reason.
    for (const s of ids) {
      expect(await readSession(s.id)).toMatchObject({
        is_active: true,
        revoke_reason: null,
        ended_at: null,
        revoked_at: null,
      });
    }

    const config = getConfig(env);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await runExpiryJob(createDb(config), config);
    for (const s of ids) {
      const stored = await readSession(s.id);
      expect(stored).toMatchObject({
        is_active: false,
        revoke_reason: "idle_timeout",
        ended_at: stored.expected_ended_at,
      });
    }
  });

  it("an outage in the middle of a run: committed batches are whole, the rest untouched, the next run finishes", async () => {
    const userId = await createUser();
    const sessions = await Promise.all(
      Array.from({ length: 9 }, () => insertSession({ userId, absoluteInSeconds: -3600 })),
    );
    const config = { ...getConfig(env), expiryBatchSize: 2 };
    // The database goes away after the repair pass and two batches of the expiry pass.
    const healthy = createDb(config);
    const down = createDb(getConfig({ ...env, DATABASE_URL: faultyDatabases.down }));
    // Each batch of the job is one request (the statement with its deadline, in one transaction).
    let statements = 0;
    const client = new Proxy(healthy.$client, {
      get(target, property, receiver) {
        if (property !== "transaction") return Reflect.get(target, property, receiver);
        return (...args: Parameters<Db["$client"]["transaction"]>) =>
          (++statements <= 3 ? healthy : down).$client.transaction(...args);
      },
    });
    const flaky = Object.assign(Object.create(healthy) as Db, { $client: client });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    await expect(runExpiryJob(flaky, config)).rejects.toBeInstanceOf(DatabaseError);
    const summary = JSON.parse(String(errors.mock.calls.at(-1)?.[0])) as { batches: number; error: string };
    expect(summary.batches).toBe(3);
    expect(summary.error).toContain("DatabaseError");

    // Every row is either fully ended or untouched: never one without the other.
    for (const s of sessions) {
      const stored = await readSession(s.id);
      if (stored.is_active) {
        expect(stored).toMatchObject({ revoke_reason: null, ended_at: null, revoked_at: null });
      } else {
        expect(stored).toMatchObject({ revoke_reason: "absolute_timeout", ended_at: stored.absolute_expires_at });
        expect(stored.revoked_at).not.toBeNull();
      }
    }
    vi.spyOn(console, "log").mockImplementation(() => {});
    await runExpiryJob(healthy, config);
    for (const s of sessions) {
      expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "absolute_timeout" });
    }
  });
});
