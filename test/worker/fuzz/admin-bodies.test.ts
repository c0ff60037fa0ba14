import fc from "fast-check";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type RawBody, rawBody, sessionIdLike } from "../../fuzz/arbitraries";
import { adminHeaders, countRequests, expectErrorShape, FUZZ_RUNS, FUZZ_TIMEOUT_MS } from "../../fuzz/oracle";
import {
  countedDatabase,
  createTenant,
  createUser,
  insertSession,
  readSession,
  type StoredSession,
} from "../../helpers/db";
import { callWorker } from "../../helpers/worker";

/*
 * Every JSON body of the admin API, and the path parameters that come with them. Properties:
 * never a 5xx; a body or parameter the documented schema refuses answers 400 in the documented
 * shape and never reaches the database; a valid one does what it says.
 *
 * Ids a body may name are this file's own user and tenant, or ids far above any the suite creates
 * (2e9+), so a valid fuzzed write can never touch another test's rows.
 */

const PG_INT_MAX = 2_147_483_647;
const FOREIGN_ID_FLOOR = 2_000_000_000;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAX_BODY_BYTES = 16 * 1024;

let userId: number;
let tenantId: number;

beforeAll(async () => {
  [userId, tenantId] = await Promise.all([createUser(), createTenant()]);
});

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  return () => vi.restoreAllMocks();
});

const isId = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= PG_INT_MAX;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An id field's value: ours, one nobody has, out of range, or not an id at all. */
const idValue = (own: () => number) =>
  fc.oneof(
    fc.constant(null).map(() => own()),
    fc.integer({ min: FOREIGN_ID_FLOOR, max: PG_INT_MAX }),
    fc.constantFrom(0, -1, PG_INT_MAX + 1, 1.5, 1e12, "7", null, true, [], {}),
  );
/** Never a small positive integer that is not ours: that could be another test's user. */
const safeIds = (v: Record<string, unknown>) =>
  ["user_id", "tenant_id"].every(
    (k) => !isId(v[k]) || (v[k] as number) >= FOREIGN_ID_FLOOR || v[k] === userId || v[k] === tenantId,
  );

function envelopeProblem(raw: RawBody, optional: boolean): "ok" | "empty" | "bad" {
  if (optional && raw.text.trim() === "") return "empty";
  if (new TextEncoder().encode(raw.text).length > MAX_BODY_BYTES) return "bad";
  const mediaType = (raw.contentType ?? "").split(";")[0]?.trim() ?? "";
  if (!/^application\/([\w.-]+\+)?json$/i.test(mediaType)) return "bad";
  try {
    JSON.parse(raw.text);
    return "ok";
  } catch {
    return "bad";
  }
}

function request(method: string, raw: RawBody): RequestInit {
  const headers: Record<string, string> = { ...adminHeaders };
  if (raw.contentType !== undefined) headers["content-type"] = raw.contentType;
  return { method, headers, body: raw.text };
}

describe("fuzz: admin request bodies", () => {
  it(
    "POST /v1/sessions: a body the schema refuses is a 400 that never reaches the database",
    async () => {
      const counted = countedDatabase();
      const field = {
        user_id: idValue(() => userId),
        tenant_id: idValue(() => tenantId),
        app_type: fc.oneof(
          fc.constantFrom("control_panel", "tenant_app"),
          fc.constantFrom("admin", "", "TENANT_APP", 1),
        ),
        ip_address: fc.oneof(
          fc.ipV4(),
          fc.ipV6(),
          fc.constant(null),
          fc.constantFrom("999.1.1.1", "1.2.3", "::g", "localhost", "01.2.3.4", "1.2.3.4/24", 7),
        ),
        user_agent: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(null), fc.constant("x".repeat(1025)), fc.nat()),
        absolute_timeout_hours: fc.oneof(
          fc.double({ min: 1e-6, max: 24, noNaN: true }),
          fc.constantFrom(0, -1, 0.0001, 59.4 / 3600, 59.5 / 3600, 1 / 60, 24, 24.000001, 1e300, "8", null),
        ),
      };
      const body = fc.oneof(
        { weight: 6, arbitrary: fc.record(field, { requiredKeys: ["user_id"] }) },
        { weight: 1, arbitrary: fc.record(field, { requiredKeys: [] }) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              fc.record(field, { requiredKeys: ["user_id"] }),
              fc.constantFrom("is_admin", "token", "id", "__proto__"),
            )
            .map(([b, extra]) => ({ ...b, [extra]: true })),
        },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      );
      await fc.assert(
        fc.asyncProperty(
          rawBody(body).filter((raw) => {
            try {
              const v: unknown = JSON.parse(raw.text);
              return !isPlainObject(v) || safeIds(v);
            } catch {
              return true;
            }
          }),
          async (raw) => {
            const { result: res, requests } = await countRequests(counted.requests, () =>
              callWorker("/v1/sessions", request("POST", raw), { DATABASE_URL: counted.databaseUrl }),
            );
            expect(res.status).toBeLessThan(500);
            const expected = expectedIssue(raw);
            if (expected === "invalid") {
              expect(res.status).toBe(400);
              expect((await expectErrorShape(res)).error).toBe("invalid_request");
              expect(requests).toBe(0);
              return;
            }
            expect(requests).toBe(1);
            if (expected === "created") {
              expect(res.status).toBe(201);
              const json = (await res.json()) as { token: string; session: { user_id: number } };
              expect(json.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
              expect(json.session.user_id).toBe(userId);
            } else {
              expect(res.status).toBe(422);
              expect((await expectErrorShape(res)).error).toBe("unprocessable_entity");
            }
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "DELETE /v1/sessions/:id: a bad id or body is a 4xx that never reaches the database",
    async () => {
      const counted = countedDatabase();
      const reason = fc.oneof(
        fc.constantFrom("admin_revoke", "password_change", "logout"),
        fc.constantFrom("idle_timeout", "cleanup_stale", "", "ADMIN_REVOKE", null, 1),
      );
      const body = fc.oneof(
        fc.record({ reason }, { requiredKeys: [] }),
        fc.record({ reason, force: fc.boolean() }, { requiredKeys: ["force"] }),
        fc.jsonValue({ maxDepth: 1 }),
      );
      const emptyBody = fc.constantFrom<RawBody>(
        { contentType: undefined, text: "" },
        { contentType: "text/plain", text: " \n" },
      );
      await fc.assert(
        fc.asyncProperty(sessionIdLike, fc.oneof(rawBody(body), emptyBody), async (id, raw) => {
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(`/v1/sessions/${encodeURIComponent(id)}`, request("DELETE", raw), {
              DATABASE_URL: counted.databaseUrl,
            }),
          );
          expect(res.status).toBeLessThan(500);
          const envelope = envelopeProblem(raw, true);
          const parsed: unknown = envelope === "ok" ? JSON.parse(raw.text) : {};
          const bodyOk =
            envelope !== "bad" &&
            isPlainObject(parsed) &&
            Object.keys(parsed).every((k) => k === "reason") &&
            (parsed.reason === undefined ||
              ["admin_revoke", "password_change", "logout"].includes(String(parsed.reason)));
          if (!GUID.test(id) || !bodyOk) {
            // A path that is no route at all (an empty or dot segment) is a 404; both are refusals.
            expect([400, 404]).toContain(res.status);
            await expectErrorShape(res);
            expect(requests).toBe(0);
            return;
          }
          // A random UUID names no session (the chance of hitting one is nil).
          expect(res.status).toBe(404);
          expect((await expectErrorShape(res)).error).toBe("not_found");
          expect(requests).toBe(1);
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it("POST /v1/users/:userId/sessions/revoke: a bad user id or body never reaches the database", async () => {
    const counted = countedDatabase();
    const own = await insertSession({ userId });
    let firstEnd: StoredSession | undefined;
    const param = fc.oneof(
      fc.constant(String(userId)),
      fc.integer({ min: FOREIGN_ID_FLOOR, max: PG_INT_MAX }).map(String),
      fc.constantFrom(
        "0",
        "-1",
        "abc",
        "1.5",
        String(PG_INT_MAX + 1),
        "99999999999",
        "%20",
        "1;drop",
        "NaN",
        "Infinity",
      ),
      fc.string({ maxLength: 12 }),
    );
    const body = fc.oneof(
      fc.record(
        {
          reason: fc.oneof(fc.constantFrom("password_change", "admin_revoke"), fc.constantFrom("logout", "", null)),
          except_session_id: fc.oneof(fc.constant(own.id), fc.uuid(), sessionIdLike),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    );
    await fc.assert(
      fc.asyncProperty(
        // Never a small id that is not ours (Number() coercion reads " 7", "0x7" and "7e0" as 7).
        param.filter((p) => {
          const n = Number(p);
          return !(Number.isInteger(n) && n >= 1 && n < FOREIGN_ID_FLOOR && n !== userId);
        }),
        rawBody(body),
        async (userParam, raw) => {
          const { result: res, requests } = await countRequests(counted.requests, () =>
            callWorker(`/v1/users/${encodeURIComponent(userParam)}/sessions/revoke`, request("POST", raw), {
              DATABASE_URL: counted.databaseUrl,
            }),
          );
          expect(res.status).toBeLessThan(500);
          const n = Number(userParam);
          const paramOk = Number.isInteger(n) && n >= 1 && n <= PG_INT_MAX;
          const parsed: unknown = envelopeProblem(raw, false) === "ok" ? JSON.parse(raw.text) : undefined;
          const bodyOk =
            isPlainObject(parsed) &&
            Object.keys(parsed).every((k) => k === "reason" || k === "except_session_id") &&
            (parsed.reason === "password_change" || parsed.reason === "admin_revoke") &&
            (parsed.except_session_id === undefined ||
              (typeof parsed.except_session_id === "string" && GUID.test(parsed.except_session_id)));
          if (!paramOk || !bodyOk) {
            expect([400, 404]).toContain(res.status);
            await expectErrorShape(res);
            expect(requests).toBe(0);
            return;
          }
          expect(res.status).toBe(200);
          expect(requests).toBe(1);
          const { revoked } = (await res.json()) as { revoked: number };
          expect(Number.isInteger(revoked) && revoked >= 0).toBe(true);
          // Our one session ends at most once: from the request that ended it on, its row is
          // never written again (same row version, same times, same reason).
          const stored = await readSession(own.id);
          if (stored.is_active) return;
          firstEnd ??= stored;
          expect(stored).toEqual(firstEnd);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
    const stored = await readSession(own.id);
    expect([null, "password_change", "admin_revoke"]).toContain(stored.revoke_reason);
  });
});

function expectedIssue(raw: RawBody): "invalid" | "created" | "unknown-reference" {
  if (envelopeProblem(raw, false) !== "ok") return "invalid";
  const v: unknown = JSON.parse(raw.text);
  if (!isPlainObject(v)) return "invalid";
  const allowed = ["user_id", "tenant_id", "app_type", "ip_address", "user_agent", "absolute_timeout_hours"];
  if (!Object.keys(v).every((k) => allowed.includes(k))) return "invalid";
  if (!isId(v.user_id)) return "invalid";
  if (!(v.tenant_id === undefined || v.tenant_id === null || isId(v.tenant_id))) return "invalid";
  if (!(v.app_type === undefined || v.app_type === "control_panel" || v.app_type === "tenant_app")) return "invalid";
  if (!(v.ip_address === undefined || v.ip_address === null || isIpAddress(v.ip_address))) return "invalid";
  if (
    !(
      v.user_agent === undefined ||
      v.user_agent === null ||
      (typeof v.user_agent === "string" && v.user_agent.length <= 1024)
    )
  )
    return "invalid";
  const hours = v.absolute_timeout_hours;
  // At least one minute (rounded to whole seconds), at most MAX_ABSOLUTE_TIMEOUT_HOURS (24 by default).
  if (!(hours === undefined || (typeof hours === "number" && Math.round(hours * 3600) >= 60 && hours <= 24))) {
    return "invalid";
  }
  const ownTenant = v.tenant_id === undefined || v.tenant_id === null || v.tenant_id === tenantId;
  return v.user_id === userId && ownTenant ? "created" : "unknown-reference";
}

/** Dotted-quad IPv4 without leading zeros, or any IPv6 text form a URL host accepts. */
function isIpAddress(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)";
  if (new RegExp(`^${octet}(\\.${octet}){3}$`).test(value)) return true;
  if (!value.includes(":") || /[[\]/%]/.test(value)) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}
