import { describe, expect, it } from "vitest";
import { backendKind, insertSession, sql } from "../helpers/db";
import { bearer, callWorker } from "../helpers/worker";

/*
 * The README promises at most one write per touch interval. Checks one at a time always kept it;
 * simultaneous checks of one session whose touch is due each used to write (a burst of ten wrote
 * up to ten row versions), because "due" came from the statement's first read. Now the write
 * re-checks "due" on the row's latest version, and the checks that lose the race answer from it.
 * (PostgreSQL server: PGlite runs one statement at a time, so nothing is simultaneous there.)
 */

const BURSTS = 5;
const AT_ONCE = 10;

describe("touch under concurrency (PostgreSQL server)", () => {
  it(`${BURSTS} bursts of ${AT_ONCE} simultaneous checks of a session due a touch: all valid, one write each`, async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const marker = `touch-${crypto.randomUUID()}`;
    const audit = `touch_audit_${marker.slice(6, 14)}`;
    await sql.query(`create table ${audit} (id uuid not null, old_activity timestamptz, new_activity timestamptz)`);
    await sql.query(`create function ${audit}() returns trigger language plpgsql security definer as $$ begin
      insert into ${audit} values (new.id, old.last_activity_at, new.last_activity_at); return null; end $$`);
    await sql.query(`create trigger ${audit} after update on sessions for each row
      when (new.user_agent = '${marker}') execute function ${audit}()`);
    try {
      for (let burst = 0; burst < BURSTS; burst++) {
        // Idle for five minutes: a touch is due (the interval is 60 s), the session is far from its limits.
        const s = await insertSession({ idleSeconds: 300 });
        await sql`update sessions set user_agent = ${marker} where id = ${s.id}`;
        const answers = await Promise.all(
          Array.from({ length: AT_ONCE }, () => callWorker("/v1/validate", bearer(s.token))),
        );
        expect(answers.map((res) => res.status)).toEqual(Array(AT_ONCE).fill(200));
        const writes = await sql.query(`select old_activity, new_activity from ${audit} where id = $1`, [s.id]);
        // The marker's own update is not a touch: it did not move last_activity_at.
        const touches = writes.filter((w) => String(w.old_activity) !== String(w.new_activity));
        expect(touches).toHaveLength(1);
        expect(writes).toHaveLength(1 + 1);
        const bodies = (await Promise.all(answers.map((res) => res.json()))) as {
          session: { last_activity_at: string };
        }[];
        // Every answer shows the touched time, whichever check wrote it.
        expect(new Set(bodies.map((b) => b.session.last_activity_at)).size).toBe(1);
      }
    } finally {
      await sql.query(`drop trigger ${audit} on sessions`);
      await sql.query(`drop function ${audit}()`);
      await sql.query(`drop table ${audit}`);
    }
  }, 60_000);
});
