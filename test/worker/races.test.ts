import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { runExpiryJob } from "../../src/jobs/expiry-job";
import { backendKind, createUser, insertSession, type SessionSpec, sql, type TestSession } from "../helpers/db";
import { bearer, callWorker } from "../helpers/worker";

/*
 * Validate, logout, revoke-others, admin revoke-all and the expiry job, all at once on the same
 * sessions, round after round, through the real Worker. Only a PostgreSQL server runs statements
 * concurrently (PGlite runs one at a time), so this is skipped on PGlite.
 *
 * "Committed before it started" is checked conservatively from the client's side: a validation
 * sent after an end's response arrived must be refused. Every write to the test's rows is recorded
 * by a trigger, which tells whether a row was ended twice, changed after it ended, or had its
 * last_activity_at moved backwards.
 */

const ROUNDS = 60;
const ROUNDS_AT_ONCE = 4;
const HOUR = 3600;

const admin = { authorization: `Bearer ${env.ADMIN_API_KEY}` };
// Races, not deadlines, are under test: a generous one keeps a busy machine from turning a slow
// answer into a 503 that would read as a failure.
const raceVars = { VALIDATION_TIMEOUT_MS: "15000" };
// Every validation touches the row (no throttle), so touches race ends as often as possible.
const validateVars = { ...raceVars, TOUCH_INTERVAL_SECONDS: "0" };
// The job sees 25-hour-idle rows as expired; with a day-long idle timeout it leaves other test
// files' idle rows (at most hours idle) to their own runs.
const jobConfig = getConfig({ ...env, IDLE_TIMEOUT_MINUTES: "1440" });

type Name = "a" | "b" | "c" | "d" | "e";
const SPECS: Record<Name, SessionSpec> = {
  a: { idleSeconds: 90 }, // live; logged out
  b: { idleSeconds: 90 }, // live; revokes the others
  c: { idleSeconds: 25 * HOUR }, // idle-expired before the round starts
  d: { absoluteInSeconds: -60 }, // absolute-expired before the round starts
  e: { idleSeconds: 90 }, // live
};
const EXPECTED_REASONS: Record<Name, string[]> = {
  a: ["logout", "admin_revoke"],
  b: ["admin_revoke"],
  c: ["idle_timeout"],
  d: ["absolute_timeout"],
  e: ["logout", "admin_revoke"],
};

interface Round {
  userId: number;
  sessions: Record<Name, TestSession>;
}

interface Validation {
  name: Name;
  /** "after": sent once an operation that ends this session had answered. */
  phase: "during" | "after";
  status: number;
  sessionId: string;
}

async function makeRound(): Promise<Round> {
  const userId = await createUser();
  const entries = await Promise.all(
    (Object.keys(SPECS) as Name[]).map(
      async (name) => [name, await insertSession({ ...SPECS[name], userId })] as const,
    ),
  );
  return { userId, sessions: Object.fromEntries(entries) as Record<Name, TestSession> };
}

/** One round: every operation at once; each end is followed by validations of what it ended. */
async function playRound(round: Round, validations: Validation[], statuses: number[]): Promise<number> {
  const { sessions } = round;
  let operations = 0;
  const validate = async (name: Name, phase: Validation["phase"]) => {
    const res = await callWorker("/v1/validate", bearer(sessions[name].token), validateVars);
    operations++;
    statuses.push(res.status);
    validations.push({ name, phase, status: res.status, sessionId: res.headers.get("x-session-id") ?? "" });
    await res.body?.cancel();
  };
  const thenValidate = async (res: Promise<Response>, okStatus: number, ended: Name[]) => {
    const answer = await res;
    operations++;
    statuses.push(answer.status);
    await answer.body?.cancel();
    if (answer.status === okStatus) await Promise.all(ended.map((name) => validate(name, "after")));
  };
  const names = Object.keys(sessions) as Name[];
  await Promise.all([
    ...names.flatMap((name) => [validate(name, "during"), validate(name, "during")]),
    thenValidate(callWorker("/v1/logout", { method: "POST", ...bearer(sessions.a.token) }, raceVars), 204, ["a"]),
    thenValidate(
      callWorker("/v1/sessions/revoke-others", { method: "POST", ...bearer(sessions.b.token) }, raceVars),
      200,
      ["a", "c", "d", "e"],
    ),
    thenValidate(
      callWorker(
        `/v1/users/${round.userId}/sessions/revoke`,
        {
          method: "POST",
          headers: { ...admin, "content-type": "application/json" },
          body: JSON.stringify({ reason: "admin_revoke" }),
        },
        raceVars,
      ),
      200,
      names,
    ),
    runExpiryJob(createDb(jobConfig), jobConfig).then(async () => {
      operations++;
      await Promise.all([validate("c", "after"), validate("d", "after")]);
    }),
  ]);
  return operations;
}

describe("races on a PostgreSQL server", () => {
  it(`${ROUNDS} rounds of validate, logout, revoke-others, revoke-all and the expiry job on the same sessions`, async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error");

    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i += 10) rounds.push(...(await Promise.all(Array.from({ length: 10 }, makeRound))));
    const byId = new Map(
      rounds.flatMap((r) => (Object.entries(r.sessions) as [Name, TestSession][]).map(([n, s]) => [s.id, n])),
    );
    const ids = [...byId.keys()];
    const marker = `race-${crypto.randomUUID()}`;
    await sql`update sessions set user_agent = ${marker} where id = any(${ids}::uuid[])`;

    const audit = `race_audit_${marker.slice(5, 13)}`;
    await sql.query(`create table ${audit} (
      id uuid not null, old_active boolean, new_active boolean, old_reason text, new_reason text,
      old_ended_at timestamptz, new_ended_at timestamptz, old_revoked_at timestamptz, new_revoked_at timestamptz,
      old_activity timestamptz, new_activity timestamptz)`);
    await sql.query(`create function ${audit}() returns trigger language plpgsql security definer as $$ begin
      insert into ${audit} values (new.id, old.is_active, new.is_active, old.revoke_reason, new.revoke_reason,
        old.ended_at, new.ended_at, old.revoked_at, new.revoked_at, old.last_activity_at, new.last_activity_at);
      return null; end $$`);
    await sql.query(`create trigger ${audit} after update on sessions for each row
      when (new.user_agent = '${marker}') execute function ${audit}()`);
    try {
      const validations: Validation[] = [];
      const statuses: number[] = [];
      let operations = 0;
      for (let i = 0; i < rounds.length; i += ROUNDS_AT_ONCE) {
        const counts = await Promise.all(
          rounds.slice(i, i + ROUNDS_AT_ONCE).map((r) => playRound(r, validations, statuses)),
        );
        operations += counts.reduce((a, b) => a + b, 0);
      }
      console.info(`[races] ${operations} operations in ${ROUNDS} rounds, ${validations.length} validations`);
      expect(operations).toBeGreaterThanOrEqual(1000);

      // No deadlock, serialization failure or any other database error reached a client.
      expect(statuses.filter((s) => ![200, 204, 401].includes(s))).toEqual([]);
      expect(errors.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("database_error"))).toEqual([]);

      // Never valid after an end had answered; expired sessions never valid at all.
      expect(validations.filter((v) => v.phase === "after" && v.status !== 401)).toEqual([]);
      expect(validations.filter((v) => (v.name === "c" || v.name === "d") && v.status !== 401)).toEqual([]);
      for (const v of validations.filter((v) => v.status === 200)) expect(byId.get(v.sessionId)).toBe(v.name);

      // Every row ended once, by one of the operations that could end it, with one reason.
      const rows = await sql`select id::text, is_active, revoke_reason, ended_at, revoked_at from sessions
        where id = any(${ids}::uuid[])`;
      expect(rows).toHaveLength(ids.length);
      for (const row of rows) {
        const name = byId.get(String(row.id)) as Name;
        expect(row.is_active, name).toBe(false);
        expect(EXPECTED_REASONS[name], name).toContain(row.revoke_reason);
        expect(row.ended_at, name).not.toBeNull();
        expect(row.revoked_at, name).not.toBeNull();
      }
      const writes = await sql.query(
        `select id::text, old_active, new_active, old_reason, new_reason, old_ended_at, old_revoked_at,
           new_activity >= old_activity as activity_monotonic from ${audit}`,
      );
      const ends = writes.filter((w) => w.old_active && !w.new_active);
      expect(ends).toHaveLength(ids.length);
      expect(new Set(ends.map((w) => w.id)).size).toBe(ids.length);
      expect(ends.filter((w) => w.old_reason !== null || w.old_ended_at !== null || w.old_revoked_at !== null)).toEqual(
        [],
      );
      expect(writes.filter((w) => w.old_active === false)).toEqual([]);
      expect(writes.filter((w) => !w.activity_monotonic)).toEqual([]);
      console.info(`[races] ${writes.length} row writes: ${ends.length} ends, ${writes.length - ends.length} touches`);
    } finally {
      await sql.query(`drop trigger ${audit} on sessions`);
      await sql.query(`drop function ${audit}()`);
      await sql.query(`drop table ${audit}`);
    }
  }, 120_000);
});
