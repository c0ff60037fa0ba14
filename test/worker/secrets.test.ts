import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { constantTimeEqual } from "../../src/middleware/admin-auth";
import { hashToken } from "../../src/sessions/check-hash";
import { createUser, insertSession, sql } from "../helpers/db";
import { captureLogs } from "../helpers/logs";
import { bearer, callWorker, faultyDatabases } from "../helpers/worker";

/*
 * Secrets stay secret: no plaintext token, token hash or admin key in any log line, across a
 * representative run of every kind of request, success and failure; no plaintext token in the
 * database; and the admin key compared in constant time by construction.
 */

const ADMIN_KEY = env.ADMIN_API_KEY ?? "";
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const json = { ...admin, "content-type": "application/json" };

afterEach(() => {
  vi.restoreAllMocks();
});

describe("secrets in logs and in the database", () => {
  it("no log line carries a token, its hash or the admin key, whatever happens", async () => {
    const userId = await createUser();
    const tokens: string[] = [];
    const lines = await captureLogs(async () => {
      const issue = async () => {
        const res = await callWorker("/v1/sessions", {
          method: "POST",
          headers: json,
          body: JSON.stringify({ user_id: userId }),
        });
        expect(res.status).toBe(201);
        const body = (await res.json()) as { token: string; session: { id: string } };
        tokens.push(body.token);
        return body;
      };
      const first = await issue();
      const second = await issue();
      const third = await issue();
      const legacy = await insertSession({ userId, absoluteInSeconds: -5 });
      tokens.push(legacy.token);

      expect((await callWorker("/v1/validate", bearer(first.token))).status).toBe(200);
      expect((await callWorker("/v1/validate", bearer(legacy.token))).status).toBe(401);
      // A token-like value in a malformed header, and one in the wrong scheme.
      expect((await callWorker("/v1/validate", { headers: { authorization: `Bearer ${first.token} x` } })).status).toBe(
        401,
      );
      expect((await callWorker("/v1/validate", { headers: { authorization: `Basic ${first.token}` } })).status).toBe(
        401,
      );
      // The database failing in every way while a real token is being checked, and during an admin write.
      for (const url of Object.values(faultyDatabases)) {
        expect((await callWorker("/v1/validate", bearer(second.token), { DATABASE_URL: url })).status).toBe(503);
        const res = await callWorker(
          "/v1/sessions",
          { method: "POST", headers: json, body: JSON.stringify({ user_id: userId }) },
          { DATABASE_URL: url },
        );
        expect(res.status).toBe(503);
      }
      // A misconfigured Worker logs its config error: the admin key must not be in it.
      expect((await callWorker("/v1/validate", bearer(first.token), { RETRY_AFTER_SECONDS: "0" })).status).toBe(503);
      // Admin calls with the key, and guesses of it.
      expect((await callWorker(`/v1/users/${userId}/sessions`, { headers: admin })).status).toBe(200);
      expect(
        (await callWorker(`/v1/users/${userId}/sessions`, { headers: { authorization: `Bearer ${ADMIN_KEY}x` } }))
          .status,
      ).toBe(401);
      expect((await callWorker(`/v1/sessions/${second.session.id}`, { method: "DELETE", headers: admin })).status).toBe(
        204,
      );
      expect((await callWorker("/v1/logout", { method: "POST", ...bearer(first.token) })).status).toBe(204);
      expect((await callWorker("/v1/sessions/revoke-others", { method: "POST", ...bearer(third.token) })).status).toBe(
        200,
      );
      expect(
        (
          await callWorker(`/v1/users/${userId}/sessions/revoke`, {
            method: "POST",
            headers: json,
            body: JSON.stringify({ reason: "admin_revoke" }),
          })
        ).status,
      ).toBe(200);
      // The expiry job, failing and then working.
      for (const url of [faultyDatabases.failing, env.DATABASE_URL]) {
        const ctx = createExecutionContext();
        await worker.scheduled(
          createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }),
          { ...env, DATABASE_URL: url },
          ctx,
        );
        await waitOnExecutionContext(ctx).catch(() => {});
      }
    });

    expect(lines.length).toBeGreaterThan(10);
    const secrets = [...tokens, ...tokens.map(hashToken), ADMIN_KEY, hashToken(ADMIN_KEY)];
    for (const line of lines) {
      for (const secret of secrets) expect(line.includes(secret), `a secret in: ${line.slice(0, 200)}`).toBe(false);
    }
  });

  it("a dump of every table holds no plaintext token, only hashes", async () => {
    const userId = await createUser();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await callWorker("/v1/sessions", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ user_id: userId }),
      });
      tokens.push(((await res.json()) as { token: string }).token);
    }
    const legacy = await insertSession({ userId });
    tokens.push(legacy.token);
    const tables = await sql`select table_name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE'`;
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["sessions", "users", "tenants"]));
    let dump = "";
    for (const { table_name } of tables) {
      const rows = await sql.query(`select coalesce(json_agg(t)::text, '') as dump from "${String(table_name)}" t`);
      dump += rows[0]?.dump ?? "";
    }
    for (const token of tokens) {
      expect(dump.includes(token)).toBe(false);
      expect(dump.includes(hashToken(token))).toBe(true);
    }
  });
});

describe("constantTimeEqual (the admin key comparison)", () => {
  it.each([
    ["equal", ADMIN_KEY, ADMIN_KEY, true],
    ["one character longer", ADMIN_KEY, `${ADMIN_KEY}x`, false],
    ["a prefix", ADMIN_KEY, ADMIN_KEY.slice(0, -1), false],
    ["empty against the key", "", ADMIN_KEY, false],
    ["both empty", "", "", true],
    [
      "the last character differs",
      "abcdefghijklmnopqrstuvwxyz0123456789",
      "abcdefghijklmnopqrstuvwxyz0123456788",
      false,
    ],
    ["case differs", "Key-0123456789abcdefghijklmnopqrstuv", "key-0123456789abcdefghijklmnopqrstuv", false],
    ["a multi-byte character", "clé-0123456789abcdefghijklmnopqrstu", "cle-0123456789abcdefghijklmnopqrstu", false],
  ])("%s", (_name, a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
    expect(constantTimeEqual(b, a)).toBe(equal);
  });

  it("agrees with === on any pair of strings", async () => {
    await fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)),
      { numRuns: 1000 },
    );
    await fc.assert(fc.property(fc.string(), (a) => constantTimeEqual(a, a)));
  });
});
