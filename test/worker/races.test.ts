import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { runExpiryJob } from "../../src/jobs/expiry-job";
import { backendKind, createUser, insertSession, type SessionSpec, sql, type TestSession } from "../helpers/db";
import { bearer, callWorker } from "../helpers/worker";

/*
 * Validate, logout, revoke-others, admin revoke (one session), admin revoke-all, issue and the
 * expiry job, all at once on the same users and sessions, round after round, through the real
 * Worker. Only a PostgreSQL server runs statements concurrently (PGlite runs one at a time), so
 * this is skipped on PGlite. `npm test` plays 60 rounds; `npm run test:race` 1,000 (ROUNDS).
 *
 * "Committed before it started" is checked conservatively from the client's side: a validation
 * sent after an end's response arrived must be refused. Every write to the test's rows is recorded
 * by a trigger, which tells whether a row was ended twice, changed after it ended, or had its
 * last_activity_at moved backwards.
 */

const ROUNDS = Number(env.RACE_ROUNDS);
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

type Inserted = "a" | "b" | "c" | "d" | "e";
/** f: issued through the admin API in the middle of the round. */
type Name = Inserted | "f";
const SPECS: Record<Inserted, SessionSpec> = {
  a: { idleSeconds: 90 }, // live; logged out
  b: { idleSeconds: 90 }, // live; revokes the others
  c: { idleSeconds: 25 * HOUR }, // idle-expired before the round starts
  d: { absoluteInSeconds: -60 }, // absolute-expired before the round starts
  e: { idleSeconds: 90 }, // live; revoked by an admin
};
const EXPECTED_REASONS: Record<Name, string[]> = {
  a: ["logout", "admin_revoke"],
  b: ["admin_revoke"],
  c: ["idle_timeout"],
  d: ["absolute_timeout"],
  e: ["logout", "admin_revoke"],
  // Issued after both of the user's revokes committed, it stays live; otherwise one of them ends it.
  f: ["logout", "admin_revoke"],
};
// The idle timeouts in play: the Worker's (its checks end idle rows they find) and the job's.
const IDLE_MINUTES = [Number(getConfig(env).idleTimeoutMinutes), 1440];

interface Round {
  userId: number;
  sessions: Record<Inserted, TestSession>;
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
    (Object.keys(SPECS) as Inserted[]).map(
      async (name) => [name, await insertSession({ ...SPECS[name], userId })] as const,
    ),
  );
  return { userId, sessions: Object.fromEntries(entries) as Record<Inserted, TestSession> };
}

/** One round: every operation at once; each end is followed by validations of what it ended. */
async function playRound(
  round: Round,
  marker: string,
  validations: Validation[],
  statuses: number[],
  issued: Map<string, Name>,
): Promise<number> {
  const { sessions } = round;
  const tokens: Partial<Record<Name, string>> = Object.fromEntries(
    Object.entries(sessions).map(([name, s]) => [name, s.token]),
  );
  let operations = 0;
  const validate = async (name: Name, phase: Validation["phase"]) => {
    const token = tokens[name];
    if (token === undefined) return;
    const res = await callWorker("/v1/validate", bearer(token), validateVars);
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
  const issue = async () => {
    const res = await callWorker(
      "/v1/sessions",
      {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ user_id: round.userId, user_agent: marker }),
      },
      raceVars,
    );
    operations++;
    statuses.push(res.status);
    if (res.status !== 201) return;
    const body = (await res.json()) as { token: string; session: { id: string } };
    tokens.f = body.token;
    issued.set(body.session.id, "f");
    await validate("f", "during");
  };
  const names = Object.keys(sessions) as Inserted[];
  await Promise.all([
    issue(),
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
      // Not f: one issued after this statement's snapshot is rightly still live when it answers.
      names,
    ),
    thenValidate(callWorker(`/v1/sessions/${sessions.e.id}`, { method: "DELETE", headers: admin }, raceVars), 204, [
      "e",
    ]),
    runExpiryJob(createDb(jobConfig), jobConfig).then(async () => {
      operations++;
      await Promise.all([validate("c", "after"), validate("d", "after")]);
    }),
  ]);
  return operations;
}

describe("races on a PostgreSQL server", () => {
  it(
    `${ROUNDS} rounds of validate, logout, revoke-others, admin revoke, revoke-all, issue and the expiry job on the same sessions`,
    async ({ skip }) => {
      if ((await backendKind()) !== "pg") skip();
      vi.spyOn(console, "log").mockImplementation(() => {});
      const errors = vi.spyOn(console, "error");
      const started = performance.now();

      const rounds: Round[] = [];
      for (let i = 0; i < ROUNDS; i += 10) {
        rounds.push(...(await Promise.all(Array.from({ length: Math.min(10, ROUNDS - i) }, makeRound))));
      }
      const byId = new Map<string, Name>(
        rounds.flatMap((r) => (Object.entries(r.sessions) as [Inserted, TestSession][]).map(([n, s]) => [s.id, n])),
      );
      const inserted = [...byId.keys()];
      const marker = `race-${crypto.randomUUID()}`;
      await sql`update sessions set user_agent = ${marker} where id = any(${inserted}::uuid[])`;

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
        const issued = new Map<string, Name>();
        let operations = 0;
        const playing = performance.now();
        for (let i = 0; i < rounds.length; i += ROUNDS_AT_ONCE) {
          const counts = await Promise.all(
            rounds.slice(i, i + ROUNDS_AT_ONCE).map((r) => playRound(r, marker, validations, statuses, issued)),
          );
          operations += counts.reduce((a, b) => a + b, 0);
        }
        const seconds = (ms: number) => (ms / 1000).toFixed(1);
        console.info(
          `[races] ${ROUNDS} rounds, ${operations} operations (${validations.length} validations, ${issued.size} sessions issued) in ${seconds(performance.now() - playing)} s of play, ${seconds(performance.now() - started)} s with set-up`,
        );
        expect(operations).toBeGreaterThanOrEqual(ROUNDS * 25);
        expect(issued.size).toBe(ROUNDS);
        for (const [id, name] of issued) byId.set(id, name);

        // No deadlock, serialization failure or any other database error reached a client. (404: an
        // admin revoke of a session another operation had already ended.)
        expect(statuses.filter((s) => ![200, 201, 204, 401, 404].includes(s))).toEqual([]);
        expect(errors.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("database_error"))).toEqual([]);

        // Never valid after an end had answered; expired sessions never valid at all.
        expect(validations.filter((v) => v.phase === "after" && v.status !== 401)).toEqual([]);
        expect(validations.filter((v) => (v.name === "c" || v.name === "d") && v.status !== 401)).toEqual([]);
        for (const v of validations.filter((v) => v.status === 200)) expect(byId.get(v.sessionId)).toBe(v.name);

        // Every row ended once, by one of the operations that could end it, with one reason, and an
        // ended_at the rule gives for that reason: a revoke's own moment, or the moment the limit
        // was reached (never after it was noticed).
        const rows = await sql`select id::text, is_active, revoke_reason,
          ended_at = revoked_at as ended_when_revoked,
          ended_at = absolute_expires_at as ended_at_absolute,
          ended_at = any(array(select last_activity_at + make_interval(mins => m) from unnest(${IDLE_MINUTES}::int[]) m))
            as ended_at_idle,
          ended_at <= revoked_at as ended_before_noticed
        from sessions where user_agent = ${marker}`;
        expect(rows).toHaveLength(byId.size);
        const stillLive = rows.filter((row) => row.is_active);
        // Only sessions issued after both of their user's revokes.
        expect(stillLive.filter((row) => byId.get(String(row.id)) !== "f")).toEqual([]);
        const ended = rows.filter((row) => !row.is_active);
        for (const row of ended) {
          const name = byId.get(String(row.id)) as Name;
          expect(EXPECTED_REASONS[name], name).toContain(row.revoke_reason);
          expect(row.ended_before_noticed, name).toBe(true);
          const matchesRule =
            row.revoke_reason === "idle_timeout"
              ? row.ended_at_idle
              : row.revoke_reason === "absolute_timeout"
                ? row.ended_at_absolute
                : row.ended_when_revoked;
          expect(matchesRule, `${name} ${row.revoke_reason}`).toBe(true);
        }
        const writes = await sql.query(
          `select id::text, old_active, new_active, old_reason, new_reason, old_ended_at, old_revoked_at,
           new_activity >= old_activity as activity_monotonic from ${audit}`,
        );
        const ends = writes.filter((w) => w.old_active && !w.new_active);
        expect(ends).toHaveLength(ended.length);
        expect(new Set(ends.map((w) => w.id)).size).toBe(ended.length);
        expect(
          ends.filter((w) => w.old_reason !== null || w.old_ended_at !== null || w.old_revoked_at !== null),
        ).toEqual([]);
        expect(writes.filter((w) => w.old_active === false)).toEqual([]);
        expect(writes.filter((w) => !w.activity_monotonic)).toEqual([]);
        console.info(
          `[races] ${writes.length} row writes: ${ends.length} ends, ${writes.length - ends.length} touches; ${stillLive.length} issued sessions outlived their user's revokes`,
        );
      } finally {
        await sql.query(`drop trigger ${audit} on sessions`);
        await sql.query(`drop function ${audit}()`);
        await sql.query(`drop table ${audit}`);
      }
    },
    Math.max(120_000, ROUNDS * 2_000),
  );
});
