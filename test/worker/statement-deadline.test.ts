import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/config";
import { createDb, DatabaseError } from "../../src/db/client";
import { endSessionsOfUser } from "../../src/db/session-lifecycle";
import { runExpiryJob } from "../../src/jobs/expiry-job";
import { backendKind, createUser, insertSession, readSession, sql } from "../helpers/db";

/*
 * Neon ignores settings in the connection string, and a Worker that gives up on a fetch is not the
 * database giving up on a statement: the expiry job's batches and the lifecycle writes carry a
 * `statement_timeout` of their own, so the database cancels them when they run too long. Both
 * tests hold a lock from another connection and give the statement nothing else to end it: only
 * the database's deadline can (PostgreSQL server: PGlite runs one statement at a time, so nothing
 * can hold a lock while another statement waits).
 */

const HOLD_SECONDS = 0.8;

/** Holds `lock` for HOLD_SECONDS in a transaction of the owner's; resolves when it lets go. */
function holdLock(lock: string): Promise<unknown> {
  return sql.transaction([sql.query(lock), sql.query(`select pg_sleep(${HOLD_SECONDS})`)]);
}

describe("statement deadlines the database enforces (PostgreSQL server)", () => {
  it("a lifecycle write waiting past its deadline is cancelled by the database and changes nothing", async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const userId = await createUser();
    const s = await insertSession({ userId });
    const held = holdLock(`select id from sessions where id = '${s.id}' for update`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // No request deadline on this handle: only the statement's own timeout can stop it.
    const db = createDb(getConfig(env));
    const started = Date.now();
    const error = await endSessionsOfUser(db, userId, "admin_revoke", {
      idleTimeoutMinutes: 30,
      validationTimeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("57014");
    expect((error as DatabaseError).permanent).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(HOLD_SECONDS * 1000);
    await held;
    expect(await readSession(s.id)).toMatchObject({ is_active: true, revoke_reason: null, ended_at: null });
  });

  it("an expiry batch waiting past EXPIRY_STATEMENT_TIMEOUT_MS is cancelled; the run reports it; the next run finishes", async ({
    skip,
  }) => {
    if ((await backendKind()) !== "pg") skip();
    const s = await insertSession({ absoluteInSeconds: -60 });
    const config = { ...getConfig(env), expiryStatementTimeoutMs: 200 };
    // The job never waits on a row (SKIP LOCKED): a table lock is what makes its batch wait.
    const held = holdLock("lock table sessions in exclusive mode");
    await new Promise((resolve) => setTimeout(resolve, 100));
    vi.spyOn(console, "error").mockImplementation(() => {});
    const failed = await runExpiryJob(createDb(config), config).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DatabaseError);
    expect((failed as DatabaseError).code).toBe("57014");
    await held;
    vi.spyOn(console, "log").mockImplementation(() => {});
    const next = await runExpiryJob(createDb(config), config);
    expect(next.cutShort).toBe(false);
    expect(await readSession(s.id)).toMatchObject({ is_active: false, revoke_reason: "absolute_timeout" });
  });
});

describe("the request's deadline timer", () => {
  it("is cleared once the handle is released: a context that checks many sessions never runs out of timers", async () => {
    // workerd refuses a request's 10,001st live timer; a deadline left running for every check
    // made 1,000 race rounds in one test context fail with QuotaExceededError.
    const db = createDb(getConfig(env), { timeoutMs: 50 });
    db.release();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(db.deadline?.aborted).toBe(false);

    const kept = createDb(getConfig(env), { timeoutMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(kept.deadline?.aborted).toBe(true);
    expect((kept.deadline?.reason as DOMException | undefined)?.name).toBe("TimeoutError");
    kept.release();
  });
});
