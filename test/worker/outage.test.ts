import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/config";
import { getConfig } from "../../src/config";
import { createDb, DatabaseError, type Db, STATEMENT_ANSWER_MARGIN_MS } from "../../src/db/client";
import worker, { SessionValidator } from "../../src/index";
import { runExpiryJob } from "../../src/jobs/expiry-job";
import { sessionAuth } from "../../src/library";
import { createUser, insertSession, readSession, sql } from "../helpers/db";
import { bearer, callWorker, faultsAfterStatement, faultyDatabases } from "../helpers/worker";
import { TEST_SECRETS } from "../secrets";

/*
 * A database that is down (connection refused), failing (500s), slower than VALIDATION_TIMEOUT_MS,
 * or behind a misbehaving wire (resets before and during the answer, a 200 that is truncated, not
 * JSON or an error, a 502 or 504 from an intermediary, an answer that drips a byte a second or goes
 * on far past Neon's size limit: test/setup/fault-servers.ts), at every entry point that checks a
 * session, every admin write, and the expiry job. validate.test.ts and health.test.ts already
 * cover GET /v1/validate and /healthz; this file covers the rest.
 */

const admin = { authorization: `Bearer ${env.ADMIN_API_KEY}` };
const outages = Object.entries(faultyDatabases);
/** The request never reached PostgreSQL, or PostgreSQL refused it: nothing it asked for was done. */
const hardOutages = outages.filter(([name]) => !faultsAfterStatement.has(name));
/** The statement ran (late, or its answer was spoiled on the way): a write may have committed, whole. */
const spoiledAnswers = outages.filter(([name]) => faultsAfterStatement.has(name));

/**
 * How much later than VALIDATION_TIMEOUT_MS a 503 may come, whatever the fault: the deadline aborts
 * the request, then the Worker answers (and, in these tests, the runtime and the test's own
 * bookkeeping take their share, with every fault's cases running at once). docs/operations.md.
 */
const ANSWER_MARGIN_MS = 500;
const ANSWER_BY_MS = Number(env.VALIDATION_TIMEOUT_MS) + ANSWER_MARGIN_MS;

/** Awaits `work` and fails when it took longer than a check may take with the database in trouble. */
async function inTime<T>(work: Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work;
  expect(performance.now() - started).toBeLessThan(ANSWER_BY_MS);
  return result;
}
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
  )("%s: %s %s answers 503 with Retry-After in time, then recovers", async (_db, method, path, url) => {
    const s = await insertSession();
    const before = await readSession(s.id);
    const res = await inTime(callWorker(path, { method, ...bearer(s.token) }, { DATABASE_URL: url }));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    if (method !== "HEAD") expect(await res.json()).toEqual(UNAVAILABLE);
    // Where the check ran, it may have touched the row; it never ended it: the check failed, so
    // the logout or revoke after it was never sent.
    if (faultsAfterStatement.has(_db))
      expect(await readSession(s.id)).toMatchObject({ is_active: true, ended_at: null });
    else expect(await readSession(s.id)).toEqual(before);

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
    await expectUnavailable(await inTime(callWorker(path, bearer(s.token), { ...gateway, DATABASE_URL: url })));
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
      await expectUnavailable(await inTime(callWorker("/v1/validate", { headers }, browser)));
      const gateway = {
        ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`,
        GATEWAY_SIGNING_KEY: TEST_SECRETS.outageGatewaySigningKey,
      };
      await expectUnavailable(await inTime(callWorker("/shop", { headers }, { ...browser, ...gateway })));
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
    const res = await inTime(Promise.resolve(app.request("/me", bearer(s.token), { ...env, DATABASE_URL: url })));
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
      expect(await inTime(failing.validate(s.token))).toEqual({ ok: false, reason: "unavailable" });
      const healthy = new SessionValidator(ctx, env);
      expect(await healthy.validate(s.token)).toMatchObject({ ok: true, session: { id: s.id } });
    },
  );
});

describe.concurrent("admin writes during an outage", () => {
  const json = { ...admin, "content-type": "application/json" };

  it.each(hardOutages)("%s: POST /v1/sessions answers 503 with no token and writes no row", async (_db, url) => {
    const userId = await createUser();
    const res = await inTime(
      callWorker(
        "/v1/sessions",
        { method: "POST", headers: json, body: JSON.stringify({ user_id: userId }) },
        { DATABASE_URL: url },
      ),
    );
    await expectUnavailable(res);
    const [row] = await sql`select count(*)::int as n from sessions where user_id = ${userId}`;
    expect(row?.n).toBe(0);
  });

  it.each(hardOutages)("%s: DELETE and revoke-all answer 503 and leave every row as it was", async (_db, url) => {
    const userId = await createUser();
    const [a, b] = await Promise.all([insertSession({ userId }), insertSession({ userId })]);
    const before = await Promise.all([readSession(a.id), readSession(b.id)]);
    await expectUnavailable(
      await inTime(callWorker(`/v1/sessions/${a.id}`, { method: "DELETE", headers: admin }, { DATABASE_URL: url })),
    );
    await expectUnavailable(
      await inTime(
        callWorker(
          `/v1/users/${userId}/sessions/revoke`,
          { method: "POST", headers: json, body: JSON.stringify({ reason: "password_change" }) },
          { DATABASE_URL: url },
        ),
      ),
    );
    await expectUnavailable(
      await inTime(callWorker(`/v1/users/${userId}/sessions`, { headers: admin }, { DATABASE_URL: url })),
    );
    expect(await Promise.all([readSession(a.id), readSession(b.id)])).toEqual(before);
    // Back up: the same calls do what they say.
    expect((await callWorker(`/v1/sessions/${a.id}`, { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await readSession(a.id)).revoke_reason).toBe("admin_revoke");
  });

  // The statement was already sent when the deadline passed or the answer went wrong; a database
  // cannot be told to drop it. What must hold: the client never saw a token or a success, and
  // every row is whole if the write happened.
  it.each(spoiledAnswers)(
    "%s: POST /v1/sessions answers 503; the write commits whole or not at all",
    async (db, url) => {
      const userId = await createUser();
      const res = await inTime(
        callWorker(
          "/v1/sessions",
          { method: "POST", headers: json, body: JSON.stringify({ user_id: userId }) },
          { DATABASE_URL: url },
        ),
      );
      await expectUnavailable(res);
      // The slow server forwards only once its delay is over (if the Worker is still there).
      if (db === "slow") await new Promise((resolve) => setTimeout(resolve, 3500));
      const rows =
        await sql`select is_active, session_token_hash, absolute_expires_at, revoked_at from sessions where user_id = ${userId}`;
      expect(rows.length).toBeLessThanOrEqual(1);
      for (const row of rows) {
        expect(row).toMatchObject({ is_active: true, revoked_at: null });
        expect(row.session_token_hash).toMatch(/^[0-9a-f]{64}$/);
      }
    },
  );

  it.each(spoiledAnswers)(
    "%s: DELETE and revoke-all answer 503; each row is ended whole or left as it was",
    async (_db, url) => {
      const userId = await createUser();
      const [a, b] = await Promise.all([insertSession({ userId }), insertSession({ userId })]);
      const before = await Promise.all([readSession(a.id), readSession(b.id)]);
      await expectUnavailable(
        await inTime(callWorker(`/v1/sessions/${a.id}`, { method: "DELETE", headers: admin }, { DATABASE_URL: url })),
      );
      await expectUnavailable(
        await inTime(
          callWorker(
            `/v1/users/${userId}/sessions/revoke`,
            { method: "POST", headers: json, body: JSON.stringify({ reason: "password_change" }) },
            { DATABASE_URL: url },
          ),
        ),
      );
      await expectUnavailable(
        await inTime(callWorker(`/v1/users/${userId}/sessions`, { headers: admin }, { DATABASE_URL: url })),
      );
      const after = await Promise.all([readSession(a.id), readSession(b.id)]);
      after.forEach((stored, i) => {
        if (stored.is_active) expect(stored).toEqual(before[i]);
        else {
          expect(["admin_revoke", "password_change"]).toContain(stored.revoke_reason);
          expect(stored.ended_at).not.toBeNull();
          expect(stored.revoked_at).not.toBeNull();
        }
      });
      // Back up: revoke-all ends what is left, and the rows stay whole.
      const res = await callWorker(`/v1/users/${userId}/sessions/revoke`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ reason: "password_change" }),
      });
      expect(res.status).toBe(200);
      for (const id of [a.id, b.id]) {
        expect(await readSession(id)).toMatchObject({ is_active: false, ended_at: expect.any(String) });
      }
    },
  );
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

/** A metrics dataset that keeps what was written (as metrics.test.ts): a run's report, per test. */
function recorder(): AnalyticsEngineDataset & { points: AnalyticsEngineDataPoint[] } {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, writeDataPoint: (point) => void points.push(point ?? {}) };
}

/** One cron invocation of the Worker; resolves to what its run rejected with, if anything. */
async function runScheduled(workerEnv: Cloudflare.Env): Promise<unknown> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), workerEnv, ctx);
  return waitOnExecutionContext(ctx).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe.concurrent("the expiry job behind every fault", () => {
  // Each batch must be answered within its statement_timeout plus STATEMENT_ANSWER_MARGIN_MS: the
  // job has no request deadline of its own, so this is what keeps a dripping or late answer from
  // holding a run (and the cron invocation) for as long as the wire likes.
  const statementTimeoutMs = 500;

  it.each(outages)(
    "%s: the run fails in time and reports it, each row is ended whole or untouched, and the next run completes",
    async (_db, url) => {
      const sessions = await Promise.all(Array.from({ length: 3 }, () => insertSession({ absoluteInSeconds: -3600 })));
      const metrics = recorder();
      const started = performance.now();
      const failed = await runScheduled({
        ...env,
        DATABASE_URL: url,
        EXPIRY_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
        METRICS: metrics,
      });
      expect(performance.now() - started).toBeLessThan(
        statementTimeoutMs + STATEMENT_ANSWER_MARGIN_MS + ANSWER_MARGIN_MS,
      );
      expect(failed).toBeInstanceOf(DatabaseError);
      expect(metrics.points.map((point) => point.blobs)).toEqual([["expiry_run", "failed", ""]]);
      // A batch whose answer was spoiled may have committed (another test's healthy run may have
      // ended these rows too): whole, never half.
      for (const s of sessions) {
        const stored = await readSession(s.id);
        if (stored.is_active) expect(stored).toMatchObject({ revoke_reason: null, ended_at: null, revoked_at: null });
        else expect(stored).toMatchObject({ revoke_reason: "absolute_timeout", ended_at: stored.absolute_expires_at });
      }

      const next = recorder();
      expect(await runScheduled({ ...env, METRICS: next })).toBeUndefined();
      expect(next.points.map((point) => point.blobs)).toEqual([["expiry_run", "ok", ""]]);
      await expectEndedByLaterRuns(sessions.map((s) => s.id));
    },
  );
});

/**
 * Every row of `ids` ended by the run just made, or by one of at most three more: this file's
 * cases run the job at once on one table, and a row another case's batch held at that moment
 * was skipped (SKIP LOCKED), not lost. It is the next cron invocation's, as it would be in
 * production; and if that other batch was cancelled (a fault that gave up on it), nobody else
 * ends it.
 */
async function expectEndedByLaterRuns(ids: string[]): Promise<void> {
  const live = async () => (await Promise.all(ids.map((id) => readSession(id)))).filter((stored) => stored.is_active);
  for (let run = 0; run < 3 && (await live()).length > 0; run++) {
    expect(await runScheduled({ ...env, METRICS: recorder() })).toBeUndefined();
  }
  for (const id of ids) {
    expect(await readSession(id)).toMatchObject({ is_active: false, revoke_reason: "absolute_timeout" });
  }
}

describe("an answer longer than Neon ever sends", () => {
  it("is refused by its size as it streams in, well before the deadline, and the isolate carries on", async () => {
    // The huge fault's answer is valid JSON after 256 MiB of whitespace: read whole, it would be a
    // 200 (or an isolate over its 128 MB); src/db/response-limit.ts stops reading at 11 MiB.
    const s = await insertSession();
    const started = performance.now();
    const res = await callWorker("/v1/validate", bearer(s.token), { DATABASE_URL: faultyDatabases.huge ?? "" });
    expect(performance.now() - started).toBeLessThan(Number(env.VALIDATION_TIMEOUT_MS));
    await expectUnavailable(res);
    expect((await callWorker("/v1/validate", bearer(s.token))).status).toBe(200);
  });
});

describe.concurrent("recovery once the fault stops", () => {
  it.each(outages)(
    "%s: after a burst of failed checks at every entry point, the same module answers from the healthy database",
    async (_db, url) => {
      const userId = await createUser();
      const s = await insertSession({ userId });
      const app = new Hono<{ Bindings: Env }>();
      app.use("*", sessionAuth());
      app.get("/me", (c) => c.text("ok"));
      const ctx = createExecutionContext();
      const gateway = {
        ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`,
        GATEWAY_SIGNING_KEY: TEST_SECRETS.outageGatewaySigningKey,
      };
      const entryPoints = (databaseUrl: string) => [
        callWorker("/v1/validate", bearer(s.token), { DATABASE_URL: databaseUrl }).then((res) => res.status),
        callWorker("/v1/sessions/current", bearer(s.token), { DATABASE_URL: databaseUrl }).then((res) => res.status),
        callWorker(`/recover-${crypto.randomUUID()}`, bearer(s.token), { ...gateway, DATABASE_URL: databaseUrl }).then(
          (res) => res.status,
        ),
        callWorker(`/v1/users/${userId}/sessions`, { headers: admin }, { DATABASE_URL: databaseUrl }).then(
          (res) => res.status,
        ),
        Promise.resolve(app.request("/me", bearer(s.token), { ...env, DATABASE_URL: databaseUrl })).then(
          (res) => res.status,
        ),
        new SessionValidator(ctx, { ...env, DATABASE_URL: databaseUrl })
          .validate(s.token)
          .then((result) => (result.ok ? 200 : 503)),
      ];
      // Several at once, as a busy isolate sees them while the wire misbehaves.
      const during = await Promise.all([...entryPoints(url), ...entryPoints(url)]);
      expect(during).toEqual(during.map(() => 503));
      expect(await Promise.all(entryPoints(env.DATABASE_URL))).toEqual([200, 200, 200, 200, 200, 200]);
    },
  );
});
