import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql as drizzleSql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/config";
import { getConfig } from "../../src/config";
import { createDb, DatabaseError, queryRows } from "../../src/db/client";
import { endExpiredSessionsQuery, endInconsistentSessionsQuery } from "../../src/db/expiry-statements";
import worker from "../../src/index";
import { type ExpiryRunSummary, runExpiryJob } from "../../src/jobs/expiry-job";
import {
  backendKind,
  createTenant,
  createUser,
  insertSession,
  readSession,
  type SessionSpec,
  sql,
} from "../helpers/db";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";

/*
 * Other test files run at the same time against the same database, and the job ends their expired
 * rows too: every assertion here is about this file's own rows (by id), and summary counts are
 * lower bounds. Each statement stamps `revoked_at` with its own now(), which tells batches apart.
 */

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the cron trigger on the real Worker, as workerd would, and returns the run's summary line. */
async function runScheduled(overrides: Partial<Env> = {}): Promise<ExpiryRunSummary> {
  const log = vi.spyOn(console, "log");
  const controller = createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  const lines = summaryLines(log.mock.calls);
  log.mockRestore();
  expect(lines).toHaveLength(1);
  return lines[0] as ExpiryRunSummary;
}

function summaryLines(calls: unknown[][]): ExpiryRunSummary[] {
  return calls
    .map((args) => (typeof args[0] === "string" && args[0].startsWith("{") ? JSON.parse(args[0]) : null))
    .filter((line): line is ExpiryRunSummary => line?.event === "expiry_run");
}

/** The job with this file's configuration, called directly (still inside workerd, real driver). */
function jobConfig(overrides: Partial<Env> = {}) {
  return getConfig({ ...env, ...overrides });
}

async function insertMany(count: number, spec: SessionSpec): Promise<string[]> {
  const sessions = await Promise.all(Array.from({ length: count }, () => insertSession(spec)));
  return sessions.map((s) => s.id);
}

async function readMany(ids: string[]) {
  return Promise.all(ids.map((id) => readSession(id)));
}

describe("the expiry job (cron trigger)", () => {
  it("ends exactly the expired rows, with the reason and ended_at of the limit reached first", async () => {
    const [tenantA, tenantB, tenantC] = await Promise.all([createTenant(), createTenant(), createTenant()]);
    const rows = {
      active: await insertSession({ idleSeconds: MINUTE }),
      nearlyIdle: await insertSession({ idleSeconds: 29 * MINUTE }),
      idle: await insertSession({ idleSeconds: 31 * MINUTE }),
      absolute: await insertSession({ absoluteInSeconds: -MINUTE }),
      // Both limits passed: absolute 50 min ago, idle 30 min ago.
      bothAbsoluteFirst: await insertSession({ idleSeconds: HOUR, absoluteInSeconds: -50 * MINUTE }),
      // Both limits passed: idle 90 min ago, absolute 60 min ago.
      bothIdleFirst: await insertSession({ idleSeconds: 2 * HOUR, absoluteInSeconds: -HOUR }),
      // Both limits at the same instant (one statement's now()): the rule says 'absolute_timeout'.
      tie: await insertSession({ idleSeconds: 90 * MINUTE, absoluteInSeconds: -HOUR }),
      loggedOut: await insertSession({
        idleSeconds: 2 * HOUR,
        isActive: false,
        endedAgoSeconds: HOUR,
        revokeReason: "logout",
      }),
      tenantAIdle: await insertSession({ tenantId: tenantA, idleSeconds: 3 * HOUR }),
      tenantBAbsolute: await insertSession({ tenantId: tenantB, absoluteInSeconds: -HOUR }),
      tenantCActive: await insertSession({ tenantId: tenantC }),
    };
    const before = Object.fromEntries(
      await Promise.all(Object.entries(rows).map(async ([name, s]) => [name, await readSession(s.id)] as const)),
    );

    const summary = await runScheduled();

    const readRow = async (name: keyof typeof rows) => readSession(rows[name].id);
    for (const name of ["active", "nearlyIdle", "tenantCActive", "loggedOut"] as const) {
      // Not even rewritten: the same row version as before the run.
      expect(await readRow(name), name).toEqual(before[name]);
    }
    const expected = {
      idle: "idle_timeout",
      absolute: "absolute_timeout",
      bothAbsoluteFirst: "absolute_timeout",
      bothIdleFirst: "idle_timeout",
      tie: "absolute_timeout",
      tenantAIdle: "idle_timeout",
      tenantBAbsolute: "absolute_timeout",
    } as const;
    for (const [name, reason] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const stored = await readRow(name);
      expect(stored, name).toMatchObject({
        is_active: false,
        revoke_reason: reason,
        ended_at: stored.expected_ended_at,
      });
      expect(stored.revoked_at, name).not.toBeNull();
      expect(Date.parse(String(stored.revoked_at)), name).toBeGreaterThan(Date.parse(String(stored.ended_at)));
    }
    expect(before.idle?.expected_ended_at).not.toBe(before.idle?.absolute_expires_at);
    expect((await readRow("absolute")).ended_at).toBe(before.absolute?.absolute_expires_at);

    expect(summary.ended.idle_timeout).toBeGreaterThanOrEqual(3);
    expect(summary.ended.absolute_timeout).toBeGreaterThanOrEqual(4);
    expect(summary).toMatchObject({ event: "expiry_run", purged: 0, cutShort: false });
    expect(summary.batches).toBeGreaterThanOrEqual(2);
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("repairs active rows that carry ended_at or revoked_at as 'cleanup_stale', keeping their times", async () => {
    const both = await insertSession({ endedAgoSeconds: 10 * MINUTE, revokeReason: "logout" });
    const revokedOnly = await insertSession({ endedAgoSeconds: 5 * MINUTE, revokeReason: "admin_revoke" });
    await sql`update sessions set ended_at = null where id = ${revokedOnly.id}`;
    // Half-revoked and timed out as well: the writer's end wins over the timeout.
    const alsoIdle = await insertSession({ idleSeconds: 2 * HOUR, endedAgoSeconds: 3 * HOUR });
    const before = await readMany([both.id, revokedOnly.id, alsoIdle.id]);

    const summary = await runScheduled();

    const after = await readMany([both.id, revokedOnly.id, alsoIdle.id]);
    after.forEach((stored, i) => {
      const was = before[i];
      expect(stored).toMatchObject({
        is_active: false,
        revoke_reason: "cleanup_stale",
        ended_at: was?.ended_at ?? was?.revoked_at,
        revoked_at: was?.revoked_at,
      });
    });
    expect(after[1]?.ended_at).not.toBeNull();
    expect(summary.repaired).toBeGreaterThanOrEqual(3);
  });

  it("ends nothing the second time it runs", async () => {
    const ids = await insertMany(4, { idleSeconds: 2 * HOUR });
    await runScheduled();
    const first = await readMany(ids);
    expect(first.every((s) => !s.is_active && s.revoke_reason === "idle_timeout")).toBe(true);

    await runScheduled();
    expect(await readMany(ids)).toEqual(first);
  });

  it("ends rows in batches of EXPIRY_BATCH_SIZE, one statement each", async () => {
    const ids = await insertMany(10, { idleSeconds: 2 * HOUR });

    const summary = await runScheduled({ EXPIRY_BATCH_SIZE: "3" });

    const stored = await readMany(ids);
    expect(stored.every((s) => !s.is_active && s.revoke_reason === "idle_timeout")).toBe(true);
    const perStatement = countBy(stored.map((s) => String(s.revoked_at)));
    expect(Math.max(...perStatement.values())).toBeLessThanOrEqual(3);
    expect(perStatement.size).toBeGreaterThanOrEqual(4);
    expect(summary.batches).toBeGreaterThanOrEqual(4);
  });

  it("stops when the time budget is spent and leaves the rest to the next run", async () => {
    const ids = await insertMany(10, { absoluteInSeconds: -HOUR });
    const config = jobConfig({ EXPIRY_BATCH_SIZE: "3", EXPIRY_TIME_BUDGET_MS: "3" });
    // A clock that advances 1 ms per reading: the start, then one reading before each batch, so a
    // 3 ms budget allows exactly two batches (the repair pass's and one of the expiry pass's).
    let clock = 0;
    const log = vi.spyOn(console, "log");

    const first = await runExpiryJob(createDb(config), config, { now: () => clock++ });

    expect(first).toMatchObject({ cutShort: true, batches: 2 });
    expect((await readMany(ids)).filter((s) => !s.is_active).length).toBeLessThanOrEqual(3);
    expect(summaryLines(log.mock.calls)).toEqual([first]);

    const second = await runExpiryJob(createDb(config), { ...config, expiryTimeBudgetMs: 20_000 });
    expect(second.cutShort).toBe(false);
    const stored = await readMany(ids);
    expect(stored.every((s) => !s.is_active && s.revoke_reason === "absolute_timeout")).toBe(true);
  });

  it("gives a check racing the job one consistent answer, and ends each row once (PostgreSQL server: PGlite runs one statement at a time, so nothing races there)", async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const sessions = await Promise.all(Array.from({ length: 8 }, () => insertSession({ idleSeconds: 2 * HOUR })));

    const [responses] = await Promise.all([
      Promise.all(sessions.map((s) => callWorker("/v1/validate", bearer(s.token)))),
      runScheduled({ EXPIRY_BATCH_SIZE: "2" }),
    ]);

    for (const res of responses) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    for (const stored of await readMany(sessions.map((s) => s.id))) {
      expect(stored).toMatchObject({
        is_active: false,
        revoke_reason: "idle_timeout",
        ended_at: stored.expected_ended_at,
      });
    }
  });

  it("fails loudly on a failing database: the run rejects and its summary says why", async () => {
    const errors = vi.spyOn(console, "error");
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" });
    const ctx = createExecutionContext();

    await worker.scheduled(controller, { ...env, DATABASE_URL: faultyDatabases.failing }, ctx);

    await expect(waitOnExecutionContext(ctx)).rejects.toBeInstanceOf(DatabaseError);
    const lines = summaryLines(errors.mock.calls);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ batches: 0, repaired: 0, error: expect.stringContaining("DatabaseError") });
  });
});

describe("retention (SESSION_RETENTION_DAYS)", () => {
  it("is off by default, and then deletes only ended rows whose ended_at is older than the window", async () => {
    // Windows measured in years, so that no other test file's rows (ended at most days ago) are
    // old enough to be purged by these runs while those tests still read them.
    const userId = await createUser();
    const rows = {
      endedLongAgo: await insertSession({
        userId,
        isActive: false,
        endedAgoSeconds: 4000 * DAY,
        revokeReason: "logout",
      }),
      endedLongAgo2: await insertSession({
        userId,
        isActive: false,
        endedAgoSeconds: 3900 * DAY,
        revokeReason: "idle_timeout",
      }),
      endedLongAgo3: await insertSession({
        userId,
        isActive: false,
        endedAgoSeconds: 3700 * DAY,
        revokeReason: "admin_revoke",
      }),
      endedRecently: await insertSession({
        userId,
        isActive: false,
        endedAgoSeconds: 3600 * DAY,
        revokeReason: "logout",
      }),
      endedWithoutEndedAt: await insertSession({ userId, isActive: false, revokeReason: "admin_revoke" }),
      active: await insertSession({ userId, ageSeconds: 4000 * DAY, absoluteInSeconds: HOUR }),
      // Expired long ago but never noticed: ended (ended_at = its absolute expiry) and then, being
      // past the window, purged in the same run.
      expiredLongAgo: await insertSession({
        userId,
        ageSeconds: 4001 * DAY,
        idleSeconds: 4000 * DAY + 10 * MINUTE,
        absoluteInSeconds: -4000 * DAY,
      }),
    };
    const exists = async () => {
      const found = await sql`select id from sessions where user_id = ${userId}`;
      const ids = new Set(found.map((r) => String(r.id)));
      return Object.fromEntries(Object.entries(rows).map(([name, s]) => [name, ids.has(s.id)]));
    };

    await runScheduled();
    expect(Object.values(await exists()).every(Boolean)).toBe(true);

    const summary = await runScheduled({ SESSION_RETENTION_DAYS: "3650", EXPIRY_BATCH_SIZE: "2" });

    expect(await exists()).toEqual({
      endedLongAgo: false,
      endedLongAgo2: false,
      endedLongAgo3: false,
      endedRecently: true,
      endedWithoutEndedAt: true,
      active: true,
      expiredLongAgo: false,
    });
    expect(summary.purged).toBeGreaterThanOrEqual(4);
  });
});

describe("the expiry job's plans", () => {
  async function planNodes(query: ReturnType<typeof endExpiredSessionsQuery>): Promise<PlanNode[]> {
    const rows = await queryRows<{ "QUERY PLAN": { Plan: PlanNode }[] }>(
      createDb(jobConfig()),
      drizzleSql`explain (format json) ${query}`,
    );
    const nodes = flatten(rows[0]?.["QUERY PLAN"][0]?.Plan);
    console.info(`[expire] plan: ${nodes.map(describeNode).join(" > ")}`);
    return nodes;
  }
  const seqScansOfSessions = (nodes: PlanNode[]) =>
    nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "sessions");

  it.each([
    ["20k live sessions", true],
    ["20k ended sessions (the steady state: a table that is mostly history)", false],
  ])("read the partial indexes, never the whole table, with %s", async (_name, active) => {
    const userId = await createUser();
    try {
      // Far from expiry (or ended), so no other test's run of the job touches them.
      await sql`insert into sessions (user_id, session_token_hash, last_activity_at, absolute_expires_at, is_active,
          ended_at, revoked_at, revoke_reason)
        select ${userId}, encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), now(), now() + interval '8 hours',
          ${active}, ${active ? null : sql`now()`}, ${active ? null : sql`now()`}, ${active ? null : "logout"}
        from generate_series(1, 20000)`;
      await sql`analyze sessions`;
      for (const [scan, index] of [
        ["absolute", "ix_sessions_active_absolute_expires_at"],
        ["idle", "ix_sessions_active_last_activity_at"],
      ] as const) {
        const expire = await planNodes(endExpiredSessionsQuery({ idleTimeoutMinutes: 30, limit: 5000, scan }));
        expect(expire.map((n) => n["Index Name"])).toContain(index);
        expect(seqScansOfSessions(expire)).toEqual([]);
      }

      const repair = await planNodes(endInconsistentSessionsQuery({ limit: 5000 }));
      // The half-ended index, or one of the active-rows indexes when the planner judges that cheaper:
      // either way only active rows are read, never the history.
      const partial = [
        "ix_sessions_half_ended",
        "ix_sessions_active_absolute_expires_at",
        "ix_sessions_active_last_activity_at",
      ];
      expect(repair.some((n) => partial.includes(n["Index Name"] ?? ""))).toBe(true);
      expect(seqScansOfSessions(repair)).toEqual([]);
    } finally {
      await sql`delete from sessions where user_id = ${userId}`;
    }
  });
});

describe("two overlapping runs (PostgreSQL server only: PGlite runs one statement at a time)", () => {
  it("end each row exactly once and count it once", async ({ skip }) => {
    if ((await backendKind()) !== "pg") skip();
    const userId = await createUser();
    const ids = await insertMany(120, { userId, idleSeconds: 2 * HOUR });
    // Records every write to this test's rows: a row ended twice would show two.
    const audit = `expire_audit_${userId}`;
    await sql.query(
      `create table ${audit} (id uuid not null, was_active boolean not null, is_active boolean not null)`,
    );
    await sql.query(`create function ${audit}() returns trigger language plpgsql security definer as $$
      begin insert into ${audit} values (new.id, old.is_active, new.is_active); return null; end $$`);
    await sql.query(`create trigger ${audit} after update on sessions for each row
      when (new.user_id = ${userId}) execute function ${audit}()`);
    try {
      const config = jobConfig({ EXPIRY_BATCH_SIZE: "7" });
      const runs = await Promise.all([runExpiryJob(createDb(config), config), runExpiryJob(createDb(config), config)]);

      const writes = await sql.query(`select id::text, was_active, is_active from ${audit}`);
      expect(writes).toHaveLength(ids.length);
      expect(new Set(writes.map((w) => w.id))).toEqual(new Set(ids));
      expect(writes.every((w) => w.was_active === true && w.is_active === false)).toBe(true);
      // Between them the two runs count every row, and none twice.
      const ended = runs.reduce((sum, run) => sum + run.ended.idle_timeout, 0);
      expect(ended).toBe(ids.length);
    } finally {
      await sql.query(`drop trigger ${audit} on sessions`);
      await sql.query(`drop function ${audit}()`);
      await sql.query(`drop table ${audit}`);
    }
  });
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode | undefined): PlanNode[] {
  if (node === undefined) return [];
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

function describeNode(node: PlanNode): string {
  return [node["Node Type"], node["Index Name"] ?? node["Relation Name"]].filter(Boolean).join(" ");
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}
